"""Mail tasks: send one outbox row or a batch, and sweep up whatever was left behind.

Thin on purpose: the claim makes every one of them safe to run twice (a redelivered task finds
its rows claimed or sent, and sends nothing).
"""

from celery import shared_task

from webapp.db import db
from webapp.outbox import services


@shared_task(name="tasks.mail.send_outbox_mail")
def send_outbox_mail(mail_id: int) -> str | None:
    state = services.send_outbox_mail(db.session, mail_id)
    return str(state) if state else None


@shared_task(name="tasks.mail.send_outbox_batch")
def send_outbox_batch(mail_ids: list[int]) -> int:
    return len(services.send_outbox_batch(db.session, mail_ids).sent)


@shared_task(name="tasks.mail.sweep_outbox")
def sweep_outbox() -> int:
    return services.sweep_outbox(db.session)
