"""The reminder sweep, run by the scheduler every few minutes."""

from celery import shared_task

from webapp.db import db, utcnow
from webapp.reminders import services


@shared_task(name="tasks.reminders.sweep_reminders")
def sweep_reminders() -> int:
    # A chunk per transaction; each commit hands its rows to the workers in batches, which send them
    # while the next chunk is written (the first one small, so they start at once).
    now, total = utcnow(), 0
    for limit in services.sweep_chunk_sizes():
        queued = services.queue_due_reminders(db.session, now=now, limit=limit)
        db.session.commit()
        if not queued and not services.due_reminders(db.session, now=now, limit=1):
            break
        total += len(queued)
    return total
