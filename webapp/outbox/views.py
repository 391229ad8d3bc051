"""The staff outbox page: every mail's fate, and a retry button for the failed ones."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from webapp.db import db, utcnow
from webapp.guards import require_staff
from webapp.outbox import services
from webapp.rendering import render

bp = Blueprint("outbox", __name__)


def _staff_only() -> None:
    # Nobody else learns the page exists: members and visitors get the same 404 as a typo.
    require_staff(sign_in_first=False)


@bp.get("/outbox")
def index():
    _staff_only()
    health = services.outbox_health(db.session, now=utcnow())
    return render("outbox/index.html", health=health, now=utcnow(), error=None)


@bp.post("/outbox/<int:mail_id>/retry")
def retry(mail_id: int):
    _staff_only()
    now = utcnow()
    try:
        services.retry_mail(db.session, mail_id, actor=current_user, now=now)
    except services.OutboxError as error:
        db.session.rollback()
        health = services.outbox_health(db.session, now=now)
        return render("outbox/index.html", status=error.status, health=health, now=now, error=error.message)
    db.session.commit()  # the commit hands the mail to a worker
    return redirect(url_for("outbox.index"), code=303)
