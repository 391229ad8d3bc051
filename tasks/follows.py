"""Daily and weekly digests of followed groups' new events, queued by the scheduler."""

from celery import shared_task

from webapp.db import db, utcnow
from webapp.follows import services
from webapp.follows.models import FollowMail


@shared_task(name="tasks.follows.queue_digests")
def queue_digests() -> int:
    # Hourly, and harmless to repeat: each member's digest of a period is queued once (the outbox's
    # unique key), so a duplicated or late run sends nothing twice; and each digest starts where the
    # member's previous one ended, so missed hours or days lose nothing (tests/drills/test_digest_drills.py).
    now, total = utcnow(), 0
    for choice in (FollowMail.DAILY, FollowMail.WEEKLY):
        total += services.queue_digests(db.session, choice, now=now)
        db.session.commit()
    return total
