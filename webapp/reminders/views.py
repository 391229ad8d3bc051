"""The personal join link a reminder carries: /join/<token>."""

from __future__ import annotations

from flask import Blueprint, redirect

from webapp.db import db, utcnow
from webapp.reminders.join_links import JOIN_REFUSALS, use_join_link
from webapp.rendering import render

bp = Blueprint("reminders", __name__)


@bp.get("/join/<token>")
def join(token: str):
    attempt = use_join_link(db.session, token, now=utcnow())
    db.session.commit()  # every use is recorded, the refused ones too
    if attempt.outcome == "joined":
        response = redirect(attempt.meeting_url, code=303)
        # The meeting address must not linger in a shared cache or a proxy's log of redirects.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    status = 404 if attempt.outcome == "unknown" else 403
    event = attempt.registration.event if attempt.registration else None
    return render("reminders/join.html", status=status, message=JOIN_REFUSALS[attempt.outcome], event=event)
