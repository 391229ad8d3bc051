"""The reminder sweep, run by the scheduler every few minutes."""

from celery import shared_task

from webapp.db import db, utcnow
from webapp.reminders import services


@shared_task(name="tasks.reminders.sweep_reminders")
def sweep_reminders() -> int:
    # A chunk per transaction; each commit hands its rows to the workers in batches.
    now, total = utcnow(), 0
    for _ in range(100):  # bounded: 100 chunks of 500 is far beyond any real day
        queued = services.queue_due_reminders(db.session, now=now, limit=500)
        db.session.commit()
        if not queued and not services.due_reminders(db.session, now=now, limit=1):
            break
        total += len(queued)
    return total
