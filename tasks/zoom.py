"""Zoom tasks: carry out one intent, and sweep up whatever was left behind.

Thin on purpose: the claim makes each safe to run twice (a second run finds the intent claimed or
done), and the task id is the claim token, so a task redelivered after its worker died takes its
intent back at once instead of waiting for the lease.
"""

from celery import shared_task

from webapp.db import db
from webapp.zoom import services


@shared_task(name="tasks.zoom.run_zoom_intent", bind=True)
def run_zoom_intent(self, intent_id: int) -> str | None:
    state = services.run_intent(db.session, intent_id, token=self.request.id)
    return str(state) if state else None


@shared_task(name="tasks.zoom.sweep_zoom_intents", bind=True)
def sweep_zoom_intents(self) -> int:
    return services.sweep(db.session, token=self.request.id)
