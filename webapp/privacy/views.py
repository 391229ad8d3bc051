"""A member's own data: the "Your data" page and the same as a JSON download."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, current_app
from flask_login import login_required

from webapp.db import db, utcnow
from webapp.guards import current_member
from webapp.privacy.export import member_data
from webapp.rendering import no_store, render

bp = Blueprint("privacy", __name__)

# The page's sections, in order, with their headings (the JSON uses the same keys).
SECTIONS = (
    ("profile", "Your profile"), ("registrations", "Your registrations"), ("series", "Series you registered for"),
    ("slot_claims", "Talks and slots you claimed"), ("follows", "Groups you follow"),
    ("proposals", "Your proposals for new groups"), ("named_on_proposals", "Proposals that name you as a co-organizer"),
    ("organizer_of", "Groups you organize"), ("invitations", "Invitations to co-organize"),
    ("messages_sent", "Messages you sent as an organizer"), ("calendar", "Your private calendar"),
    ("signed_in", "Browsers you signed in on"), ("sign_in_links", "Sign-in links we mailed you"),
    ("mails", "Mails we sent you"),
)


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not exportable: {type(value).__name__}")


@bp.get("/account/data")
@login_required
def your_data():
    return no_store(render("privacy/your_data.html", data=member_data(db.session, current_member(), now=utcnow()),
                           sections=SECTIONS))


@bp.get("/account/data.json")
@login_required
def your_data_download():
    data = member_data(db.session, current_member(), now=utcnow())
    response = current_app.response_class(json.dumps(data, default=_plain, ensure_ascii=False, indent=2),
                                          mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="metro-meetups-my-data.json"'
    return no_store(response)
