"""Daily and weekly digests of followed groups' new events, queued by the scheduler."""

from celery import shared_task

from webapp.db import db, utcnow
from webapp.follows import services
from webapp.follows.models import FollowMail

# Members per transaction: each commit hands its digests to the workers, which send them while the
# next chunk is rendered; and the rendered mails of one chunk are all this worker holds at a time.
DIGEST_CHUNK = 500


@shared_task(name="tasks.follows.queue_digests")
def queue_digests() -> int:
    # Hourly, and harmless to repeat: each member's digest of a period is queued once (the outbox's
    # unique key), so a duplicated or late run sends nothing twice; and each digest starts where the
    # member's previous one ended, so missed hours or days lose nothing (tests/drills/test_digest_drills.py).
    now, total = utcnow(), 0
    for choice in (FollowMail.DAILY, FollowMail.WEEKLY):
        for _ in range(1000):  # bounded: 1000 chunks of 500 members is far beyond the program's size
            queued = services.queue_digests(db.session, choice, now=now, limit=DIGEST_CHUNK)
            db.session.commit()
            if not queued:  # everyone done (or the rest being queued by a duplicated run right now)
                break
            total += queued
    return total
