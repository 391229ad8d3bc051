"""Account housekeeping, run by the scheduler."""

from celery import shared_task

from webapp.accounts import services
from webapp.db import db, utcnow


@shared_task(name="tasks.accounts.forget_unused_sign_in_notes")
def forget_unused_sign_in_notes() -> int:
    erased = services.forget_unused_intent_notes(db.session, now=utcnow())
    db.session.commit()
    return erased
