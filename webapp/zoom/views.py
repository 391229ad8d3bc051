"""The staff's Zoom page, a sibling of the outbox's: every Zoom task's state, Zoom's answer, a retry."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from webapp.db import db, utcnow
from webapp.guards import require_staff
from webapp.rendering import render
from webapp.zoom import services

bp = Blueprint("zoom", __name__)


def _staff_only() -> None:
    require_staff(sign_in_first=False)  # nobody else learns the page exists


@bp.get("/outbox/zoom")
def index():
    _staff_only()
    return render("zoom/intents.html", overview=services.intents_overview(db.session), error=None)


@bp.post("/outbox/zoom/<int:intent_id>/retry")
def retry(intent_id: int):
    _staff_only()
    try:
        services.retry_intent(db.session, intent_id, actor=current_user, now=utcnow())
    except services.IntentError as error:
        db.session.rollback()
        return render("zoom/intents.html", status=error.status, overview=services.intents_overview(db.session),
                      error=error.message)
    db.session.commit()  # the commit hands it to a worker
    return redirect(url_for("zoom.index"), code=303)
