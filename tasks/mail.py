"""Mail tasks: send one outbox row or a batch, and sweep up whatever was left behind.

Thin on purpose: the claim makes every one of them safe to run twice (a second task for the
same rows finds them claimed or sent, and sends nothing).

Each passes its task id as the claim token: when the broker hands the same task out again
because its worker died mid-send (`task_acks_late` + `task_reject_on_worker_lost`), the new run
takes back the rows the dead one had claimed, at once, instead of waiting for their lease.
"""

from celery import shared_task

from webapp.db import db
from webapp.outbox import services


@shared_task(name="tasks.mail.send_outbox_mail", bind=True)
def send_outbox_mail(self, mail_id: int) -> str | None:
    state = services.send_outbox_mail(db.session, mail_id, token=self.request.id)
    return str(state) if state else None


@shared_task(name="tasks.mail.send_outbox_batch", bind=True)
def send_outbox_batch(self, mail_ids: list[int]) -> int:
    return len(services.send_outbox_batch(db.session, mail_ids, token=self.request.id).sent)


@shared_task(name="tasks.mail.sweep_outbox", bind=True)
def sweep_outbox(self) -> int:
    return services.sweep_outbox(db.session, token=self.request.id)
