""""Still coming?" mails and releasing the seats nobody answered for, run by the scheduler."""

from celery import shared_task

from webapp.db import db, utcnow
from webapp.registrations import services, still_coming


@shared_task(name="tasks.still_coming.sweep_still_coming")
def sweep_still_coming() -> int:
    # Harmless to repeat or to run twice at once: each attendee is asked once (a conditional UPDATE
    # and the outbox key), each seat released once (`released_at`, under the event's lock).
    now, total = utcnow(), 0
    for _ in range(100):  # a chunk per transaction; bounded like the reminder sweep
        queued = still_coming.queue_due_still_coming(db.session, now=now, limit=500)
        db.session.commit()
        total += len(queued)
        if not queued:  # nothing left to ask (or another sweep asked it first)
            break
    for event_id in still_coming.events_due_for_release(db.session, now=now):
        release = services.release_unconfirmed_seats(db.session, event_id, now=now)
        db.session.commit()  # one event per transaction: its lock is held no longer than needed
        total += len(release.released) if release else 0
    return total
