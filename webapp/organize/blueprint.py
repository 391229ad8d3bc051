"""The organize blueprint, made once here: the event pages (views.py) and the attendee pages
(attendee_views.py) both add their routes to it, and neither imports the other."""

from flask import Blueprint

bp = Blueprint("organize", __name__)
