"""Erasing what is past its keeping time, run by the scheduler (webapp/privacy/retention.py)."""

from celery import shared_task

from webapp.db import db, utcnow
from webapp.privacy.sweeps import erase_expired_data as erase


@shared_task(name="tasks.privacy.erase_expired_data")
def erase_expired_data() -> dict[str, int]:
    erased = erase(db.session, now=utcnow())
    db.session.commit()
    return erased
