"""Mail tasks: send one outbox row, and sweep up whatever was left behind."""

from celery import shared_task

from webapp.db import db
from webapp.outbox import services


@shared_task(name="tasks.mail.send_outbox_mail")
def send_outbox_mail(mail_id: int) -> str | None:
    state = services.send_outbox_mail(db.session, mail_id)
    return str(state) if state else None


@shared_task(name="tasks.mail.sweep_outbox")
def sweep_outbox() -> int:
    return services.sweep_outbox(db.session)
