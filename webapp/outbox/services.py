"""Queue mail as outbox rows, hand them to the worker after commit, and send them."""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import datetime, timedelta
from email.utils import make_msgid
from pathlib import Path

from flask import current_app
from flask_mail import Message
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from webapp.db import utcnow
from webapp.outbox.models import MailState, OutboxMail

log = logging.getLogger(__name__)

SEND_TASK = "tasks.mail.send_outbox_mail"
PENDING_KEY = "outbox_pending_ids"
# A row left in `sending` longer than this belonged to a worker that died mid-send.
CLAIM_LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8

_HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]+")


def header_safe(value: str) -> str:
    """Names and titles end up in headers: no line breaks or control characters may pass."""
    return _HEADER_UNSAFE.sub(" ", value).strip()


def queue_mail(
    session: Session,
    *,
    kind: str,
    dedup_key: str,
    recipient: str,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    reply_to: str | None = None,
    ics: str | None = None,
    now: datetime | None = None,
) -> OutboxMail | None:
    """Add a mail to the outbox in the caller's transaction; None if that key was queued before."""
    existing = session.scalar(select(OutboxMail.id).where(OutboxMail.dedup_key == dedup_key))
    if existing is not None:
        return None
    now = now or utcnow()
    mail = OutboxMail(
        kind=kind,
        dedup_key=dedup_key,
        recipient=header_safe(recipient),
        reply_to=header_safe(reply_to) if reply_to else None,
        subject=header_safe(subject),
        body_text=body_text,
        body_html=body_html,
        ics=ics,
        state=MailState.QUEUED,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(mail)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).append(mail.id)
    return mail


def dispatch_after_commit(session: Session) -> None:
    """Hand the rows this transaction queued to the worker; the sweep catches any we miss."""
    ids = session.info.pop(PENDING_KEY, [])
    if not ids:
        return
    celery = current_app.extensions["celery"]
    for mail_id in ids:
        try:
            celery.send_task(SEND_TASK, args=[mail_id])
        except Exception:  # the broker is down: the row waits in the outbox for the sweep
            log.warning("could not enqueue outbox mail %s; the sweep will send it", mail_id)


def forget_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def claim(session: Session, mail_id: int, *, now: datetime) -> bool:
    """Atomically move a due row to `sending`; only one worker can win it."""
    result = session.execute(
        update(OutboxMail)
        .where(
            OutboxMail.id == mail_id,
            or_(
                OutboxMail.state.in_([MailState.QUEUED, MailState.RETRYING])
                & (OutboxMail.next_attempt_at <= now),
                (OutboxMail.state == MailState.SENDING) & (OutboxMail.claimed_at < now - CLAIM_LEASE),
            ),
        )
        .values(state=MailState.SENDING, claimed_at=now, attempts=OutboxMail.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def build_message(mail: OutboxMail) -> Message:
    if not mail.message_id:
        domain = current_app.config["SITE_URL"].split("//")[-1].split("/")[0].split(":")[0]
        mail.message_id = make_msgid(idstring=f"outbox{mail.id}", domain=domain or "localhost")
    msg = Message(
        subject=mail.subject,
        recipients=[mail.recipient],
        body=mail.body_text,
        html=mail.body_html,
        reply_to=mail.reply_to,
    )
    # The same Message-ID on every attempt, so a receiving server can spot a repeat.
    msg.msgId = mail.message_id
    if mail.ics:
        msg.attach("invite.ics", "text/calendar; method=PUBLISH", mail.ics.encode("utf-8"))
    return msg


def deliver(message: Message) -> None:
    """Send through SMTP, or write an .eml file when no mail server is configured."""
    app = current_app
    if app.config["MAIL_BACKEND"] == "file":
        folder = Path(app.config["MAIL_FILE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{stamp}.eml"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(message.as_bytes())
        tmp.replace(target)  # readers never see half a file
        return
    app.extensions["mail"].send(message)


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def send_outbox_mail(session: Session, mail_id: int, *, now: datetime | None = None) -> MailState | None:
    """Claim, send and record one outbox row. Commits, because the claim must be visible first."""
    now = now or utcnow()
    if not claim(session, mail_id, now=now):
        session.rollback()
        return None  # sent already, not due, or another worker has it
    session.commit()
    mail = session.get(OutboxMail, mail_id)
    try:
        deliver(build_message(mail))
    except smtplib.SMTPRecipientsRefused as exc:
        mail.state = MailState.FAILED
        mail.last_error = str(exc)[:2000]
    except (smtplib.SMTPException, OSError) as exc:
        mail.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if mail.attempts >= MAX_ATTEMPTS:
            mail.state = MailState.FAILED
        else:
            mail.state = MailState.RETRYING
            mail.next_attempt_at = now + retry_delay(mail.attempts)
    else:
        mail.state = MailState.SENT
        mail.sent_at = utcnow()
        mail.last_error = None
    session.commit()
    return mail.state


def due_mail_ids(session: Session, *, now: datetime, limit: int = 100) -> list[int]:
    """Rows the sweep should send: due and waiting, or abandoned mid-send by a dead worker."""
    return list(
        session.scalars(
            select(OutboxMail.id)
            .where(
                or_(
                    OutboxMail.state.in_([MailState.QUEUED, MailState.RETRYING])
                    & (OutboxMail.next_attempt_at <= now),
                    (OutboxMail.state == MailState.SENDING)
                    & (OutboxMail.claimed_at < now - CLAIM_LEASE),
                )
            )
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(limit)
        )
    )


def sweep_outbox(session: Session, *, now: datetime | None = None) -> int:
    """Send whatever is due; returns how many were sent."""
    now = now or utcnow()
    sent = 0
    for mail_id in due_mail_ids(session, now=now):
        if send_outbox_mail(session, mail_id, now=now) is MailState.SENT:
            sent += 1
    return sent
