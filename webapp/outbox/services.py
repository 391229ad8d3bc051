"""Queue mail as outbox rows, hand them to the worker after commit, and send them in batches.

The delivery rules, in one place:
- one row per cause: the dedup key is unique, so no second mail can be queued for it;
- a worker claims due rows with one conditional UPDATE (under FOR UPDATE SKIP LOCKED on
  PostgreSQL), so two workers never hold the same row; a claim is a lease that a dead worker's
  rows outlive, after which the sweep takes them again;
- a batch goes over one SMTP connection, and each row is marked sent (and committed) right after
  the server accepted it, before the next message starts;
- temporary failures (4xx, lost connection) retry with exponential backoff and jitter; permanent
  ones (5xx, refused recipient) stop, with the server's answer kept;
- whatever goes wrong with one message (its building, its sending, any exception) is recorded on
  that row; nothing is ever left claimed: what was not tried is released (`finally`);
- international addresses: the domain goes IDNA-encoded; a non-ASCII local part goes only with
  SMTPUTF8 to a server that offers it, otherwise the row fails for good with a plain reason;
- a mail whose cause is no longer true at send time (see `register_recheck`) is dropped;
- a mail queued as facts (webapp/outbox/rendering.py) is rendered after its re-check, and its
  words are committed with its Message-ID before it is sent, so every attempt sends the same.
"""

from __future__ import annotations

import logging
import random
import re
import smtplib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app
from sqlalchemy import case, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, make_transient_to_detached

from webapp.db import insert_on_conflict, utcnow
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.rendering import fill_in_bodies
from webapp.refusals import Refusal

log = logging.getLogger(__name__)

SEND_TASK = "tasks.mail.send_outbox_mail"
SEND_BATCH_TASK = "tasks.mail.send_outbox_batch"
PENDING_KEY = "outbox_pending_ids"
WAITING = (MailState.QUEUED, MailState.RETRYING)

_HEADER_UNSAFE = re.compile(r"[\r\n\x00-\x1f\x7f]+")

# kind -> function(session, mail, now) returning None to send as is, or a reason to drop it.
# Domains register theirs (reminders, event changes; create_app imports both), so the outbox
# needs to know none of them.
Recheck = Callable[[Session, OutboxMail, datetime], str | None]
_RECHECKS: dict[str, Recheck] = {}
# kind -> function(session, mails) returning {mail id: what its re-check reads}: one query for a
# batch's re-checks instead of one per mail, read back with `preloaded` (in the same transaction,
# right before the re-checks, so as fresh as a query per mail).
Preload = Callable[[Session, list[OutboxMail]], dict[int, object]]
_PRELOADS: dict[str, Preload] = {}
PRELOADED_KEY = "outbox_recheck_preloaded"
NOT_PRELOADED = object()


def register_recheck(kind: str, recheck: Recheck, *, preload: Preload | None = None) -> None:
    """Re-check a kind of mail right before sending it; the function says why to drop it, or None.
    It may also change the mail (its bodies) before it goes, or raise SendLater. `preload` fetches
    what the re-checks of a whole batch read, at once (`preloaded`)."""
    _RECHECKS[kind] = recheck
    if preload:
        _PRELOADS[kind] = preload


def preloaded(session: Session, mail: OutboxMail):
    """What this batch's preload fetched for this mail's re-check, or NOT_PRELOADED (a mail re-checked
    alone, outside a batch): then the re-check queries for itself."""
    return session.info.get(PRELOADED_KEY, {}).get(mail.id, NOT_PRELOADED)


def _preload_rechecks(session: Session, mails: list[OutboxMail]) -> None:
    by_kind: dict[str, list[OutboxMail]] = {}
    for mail in mails:
        if mail.kind in _PRELOADS:
            by_kind.setdefault(mail.kind, []).append(mail)
    found: dict[int, object] = {}
    for kind, of_kind in by_kind.items():
        found.update(_PRELOADS[kind](session, of_kind))
    session.info[PRELOADED_KEY] = found


class SendLater(Exception):
    """Raised by a re-check: not yet (the reminder waits for the attendee's Zoom link). The mail goes
    back to `retrying` for `delay`; the claim counted as an attempt, so the re-check can bound its waits."""

    def __init__(self, reason: str, delay: timedelta) -> None:
        super().__init__(reason)
        self.delay = delay


def _setting(name: str, default):
    return current_app.config.get(name, default)


def claim_lease() -> timedelta:
    # Longer than the task's hard time limit, so a live worker's claim is never taken from it.
    return timedelta(seconds=_setting("OUTBOX_CLAIM_LEASE_SECONDS", 600))


def max_attempts() -> int:
    return _setting("OUTBOX_MAX_ATTEMPTS", 8)


def batch_size() -> int:
    return _setting("OUTBOX_BATCH_SIZE", 50)


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
    headers: dict[str, str] | None = None,
    now: datetime | None = None,
    flush: bool = True,
    registration_id: int | None = None,
    event_id: int | None = None,
    template: str | None = None,
    context: dict | None = None,
) -> OutboxMail | None:
    """Add a mail to the outbox in the caller's transaction; None if that key was queued before.

    `registration_id` and `event_id` say whose mail it is, for every query that looks for an
    attendee's or an event's mails (never parse `dedup_key`: it only keeps a cause unique).

    `flush=False` is for callers that queue many mails whose keys they already made unique
    (the reminder sweep): they flush once and hand the ids to PENDING_KEY themselves.

    `template` and `context` (frozen: webapp/outbox/rendering.py) instead of the bodies: the
    worker renders them right before the first send.
    """
    values = mail_row(kind=kind, dedup_key=dedup_key, recipient=recipient, subject=subject, body_text=body_text,
                      body_html=body_html, reply_to=reply_to, ics=ics, headers=headers, now=now,
                      registration_id=registration_id, event_id=event_id, template=template, context=context)
    if not flush:
        mail = OutboxMail(**values)
        session.add(mail)
        return mail
    # One statement instead of a SELECT for the key and then an INSERT: the unique key decides,
    # also against a transaction that queued it and has not committed yet (this one waits for it).
    # Callers often hold a row lock here, so every round trip saved is saved for all who wait.
    # (A table-level INSERT: the ORM's own INSERT ... RETURNING entity costs twice the CPU here.)
    mail_id = session.scalar(
        insert_on_conflict(session)(OutboxMail.__table__).values(values)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(OutboxMail.__table__.c.id)
    )
    if mail_id is None:
        return None
    # The row exactly as written, in the session as if loaded, so callers can read and change it.
    mail = OutboxMail(id=mail_id, last_error=None, message_id=None, claimed_at=None, sent_at=None,
                      claim_token=None, lease_takeovers=0, **values)
    make_transient_to_detached(mail)
    session.add(mail)
    session.info.setdefault(PENDING_KEY, []).append(mail_id)
    return mail


def mail_row(*, kind: str, dedup_key: str, recipient: str, subject: str, body_text: str,
             body_html: str | None = None, reply_to: str | None = None, ics: str | None = None,
             headers: dict[str, str] | None = None, now: datetime | None = None,
             registration_id: int | None = None, event_id: int | None = None,
             template: str | None = None, context: dict | None = None) -> dict:
    """An outbox row's columns as queued, with every header made safe (`queue_mail`, `queue_mails`)."""
    now = now or utcnow()
    return dict(
        kind=kind,
        dedup_key=dedup_key,
        recipient=header_safe(recipient),
        reply_to=header_safe(reply_to) if reply_to else None,
        subject=header_safe(subject),
        body_text=body_text,
        body_html=body_html,
        ics=ics,
        headers={name: header_safe(value) for name, value in headers.items()} if headers else None,
        registration_id=registration_id,
        event_id=event_id,
        template=template,
        context=context,
        state=MailState.QUEUED,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


# Rows per INSERT: far below SQLite's 32,766 bound parameters (17 a row) and PostgreSQL's 65,535.
QUEUE_MANY_ROWS = 500


def queue_mails(session: Session, rows: list[dict]) -> list[int]:
    """Add many mails (`mail_row`s) to the outbox in the caller's transaction, in a few statements;
    the ids of those written. A key queued before (or by a transaction not yet committed, which
    this one then waits for) is skipped, as `queue_mail` skips it, one by one.

    For senders of many mails at once (the digests): one round trip per QUEUE_MANY_ROWS rows
    instead of one per mail. The after-commit dispatch sends them, as it sends `queue_mail`'s.
    """
    ids: list[int] = []
    table = OutboxMail.__table__
    for start in range(0, len(rows), QUEUE_MANY_ROWS):
        ids += session.scalars(
            insert_on_conflict(session)(table).values(rows[start:start + QUEUE_MANY_ROWS])
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(table.c.id)
        )
    if ids:
        session.info.setdefault(PENDING_KEY, []).extend(sorted(ids))
    return ids


def key_is_queued(key):
    """SQL for "a mail with this dedup key is in the outbox", the key a value or an SQL expression:
    for senders of many mails that leave out, before rendering anything, those queued before."""
    return exists().where(OutboxMail.dedup_key == key)


def dispatch_after_commit(session: Session) -> None:
    """Hand the rows this transaction queued to the worker; the sweep catches any we miss.

    One row goes as one task; many (a reminder sweep, an event moved) go in batches, so a worker
    sends each batch over one SMTP connection and several workers share the batches.
    """
    if session.in_nested_transaction():
        # SQLAlchemy also calls after_commit when a savepoint is released: the rows are not
        # committed yet, so they wait for the outermost commit.
        return
    ids = session.info.pop(PENDING_KEY, [])
    if not ids:
        return
    celery = current_app.extensions["celery"]
    size = batch_size()
    chunks = [ids] if len(ids) == 1 else [ids[i:i + size] for i in range(0, len(ids), size)]
    for chunk in chunks:
        try:
            if len(chunk) == 1:
                celery.send_task(SEND_TASK, args=[chunk[0]])
            else:
                celery.send_task(SEND_BATCH_TASK, args=[chunk])
        except Exception:  # the broker is down: the rows wait in the outbox for the sweep
            log.warning("could not enqueue outbox mails %s; the sweep will send them", chunk)


def forget_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def _due(now: datetime, token: str | None = None):
    """Waiting and due, or abandoned mid-send: by a worker that died (its lease ran out), or by an
    earlier run of this very task (`token`, the task id) that the broker handed out again because
    its worker was lost (Redis redelivers only after its visibility timeout, far past any live run)."""
    conditions = [
        OutboxMail.state.in_(WAITING) & (OutboxMail.next_attempt_at <= now),
        (OutboxMail.state == MailState.SENDING) & (OutboxMail.claimed_at < now - claim_lease()),
    ]
    if token:
        conditions.append((OutboxMail.state == MailState.SENDING) & (OutboxMail.claim_token == token))
    return or_(*conditions)


def claim_many(session: Session, mail_ids: list[int], *, now: datetime, token: str | None = None) -> list[int]:
    """Atomically move those of these rows that are due to `sending`; returns the ids won.

    The condition is re-evaluated by the UPDATE itself, so of two workers given the same id
    only one gets it back, on any database. A row taken over mid-send (it was `sending`) counts a
    `lease_takeover`: its earlier attempt may have reached the server, so it may arrive twice.
    """
    if not mail_ids:
        return []
    won = session.scalars(
        update(OutboxMail)
        .where(OutboxMail.id.in_(mail_ids), _due(now, token))
        .values(state=MailState.SENDING, claimed_at=now, claim_token=token, attempts=OutboxMail.attempts + 1,
                lease_takeovers=OutboxMail.lease_takeovers
                + case((OutboxMail.state == MailState.SENDING, 1), else_=0))
        .returning(OutboxMail.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(won)


def claim_due(session: Session, *, now: datetime, limit: int | None = None, token: str | None = None) -> list[int]:
    """Claim up to `limit` due rows, oldest first. Several sweeping workers take disjoint rows.

    On PostgreSQL, SKIP LOCKED lets each worker pass over the rows another is claiming instead of
    queueing behind it; SQLite has no row locks (its single writer serializes the claims).
    """
    candidates = list(
        session.scalars(
            select(OutboxMail.id)
            .where(_due(now, token))
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(limit or batch_size())
            .with_for_update(skip_locked=True)
        )
    )
    return claim_many(session, candidates, now=now, token=token)


SMTPUTF8_REFUSED = "the mail server does not accept international addresses (SMTPUTF8)"


class PermanentFailure(Exception):
    """A message that can never go as it is: fail the row at once with this plain reason."""


def encode_address(address: str) -> tuple[str, bool]:
    """(the address as it goes on the wire, whether it needs SMTPUTF8).

    The domain is IDNA-encoded (`exämple.org` -> `xn--exmple-cua.org`), which every server takes;
    a non-ASCII local part (`josé@`) has no ASCII form and needs a server that offers SMTPUTF8
    (RFC 6531). Raises PermanentFailure for a domain that IDNA cannot encode.
    """
    local, at, domain = header_safe(address).rpartition("@")
    if not at:
        local, domain = domain, ""
    try:
        # Python's codec is IDNA 2003 (no idna package here); it also checks label lengths.
        domain = domain.encode("idna").decode("ascii") if domain else domain
    except UnicodeError as exc:
        raise PermanentFailure(f"the address’s domain cannot be encoded for mail (IDNA: {exc})") from exc
    return f"{local}{at}{domain}", not local.isascii()


class OutboxMessage(EmailMessage):
    """One outbox row as a message, with the envelope it goes in.

    Built with the standard library, not Flask-Mail's Message: that one cannot represent a
    non-ASCII local part at all (its formataddr raises UnicodeEncodeError).
    """

    sender: str
    envelope_from: str
    recipients: list[str]
    smtputf8: bool
    msgId: str


def build_message(mail: OutboxMail) -> OutboxMessage:
    """The message for a row; raises PermanentFailure (or anything else) when it cannot be built."""
    if not mail.message_id:
        domain = current_app.config["SITE_URL"].split("//")[-1].split("/")[0].split(":")[0]
        mail.message_id = make_msgid(idstring=f"outbox{mail.id}", domain=domain or "localhost")
    recipient, smtputf8 = encode_address(mail.recipient)
    sender = header_safe(current_app.config["MAIL_DEFAULT_SENDER"])
    # SMTPUTF8 messages carry their headers as UTF-8; the others are pure ASCII (RFC 2047 words).
    msg = OutboxMessage(policy=policy.SMTPUTF8 if smtputf8 else policy.SMTP)
    msg.sender, msg.envelope_from, msg.recipients, msg.smtputf8 = sender, parseaddr(sender)[1], [recipient], smtputf8
    msg["Subject"] = header_safe(mail.subject)
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=True)
    # The same Message-ID on every attempt, so a receiving server can spot a repeat.
    msg["Message-ID"] = msg.msgId = mail.message_id
    if mail.reply_to:
        msg["Reply-To"] = header_safe(mail.reply_to)
    for name, value in (mail.headers or {}).items():
        msg[name] = header_safe(value)
    msg.set_content(mail.body_text)
    if mail.body_html:
        msg.add_alternative(mail.body_html, subtype="html")
    if mail.ics:
        msg.add_attachment(mail.ics.encode("utf-8"), maintype="text", subtype="calendar",
                           params={"method": "PUBLISH"}, filename="invite.ics")
    msg.as_bytes()  # render it now, so a message that cannot be written fails here, as this row's
    return msg


class _FileConnection:
    """The developer's transport: each message becomes one .eml file in MAIL_FILE_DIR."""

    def send(self, message: OutboxMessage) -> None:
        folder = Path(current_app.config["MAIL_FILE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        target = folder / f"{stamp}-{random.randrange(10**6):06d}.eml"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(message.as_bytes())
        tmp.replace(target)  # readers never see half a file

    def reset(self) -> None:
        pass


class _SmtpConnection:
    """Flask-Mail's connection (TLS, SSL, login from the config), with our own envelope.

    Flask-Mail's own `Connection.send` would rebuild the envelope with formataddr, which raises
    on a non-ASCII local part; this passes SMTPUTF8 when the message needs it and the server
    offers it, and refuses the message for good when the server does not.
    """

    def __init__(self) -> None:
        self._inner = current_app.extensions["mail"].connect()
        self.host: smtplib.SMTP | None = None

    def __enter__(self) -> _SmtpConnection:
        self.host = self._inner.__enter__().host
        return self

    def __exit__(self, *exc_info) -> None:
        self._inner.__exit__(*exc_info)

    def send(self, message: OutboxMessage) -> None:
        host = self.host
        options = []
        if message.smtputf8:
            host.ehlo_or_helo_if_needed()
            if not host.has_extn("smtputf8"):
                raise PermanentFailure(SMTPUTF8_REFUSED)
            options.append("SMTPUTF8")
        host.sendmail(message.envelope_from, message.recipients, message.as_bytes(), options)

    def reset(self) -> None:
        """After an unexpected error mid-message: RSET, or raise if the connection is gone."""
        self.host.rset()


def open_connection():
    """One SMTP connection for a whole batch (a context manager with .send(message))."""
    if current_app.config["MAIL_BACKEND"] == "file":
        return nullcontext(_FileConnection())
    return _SmtpConnection()


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: base·2^(n-1), capped, plus up to half again at random.

    The jitter spreads the retries of a batch that failed together, so they don't hit a
    recovering server all at once.
    """
    base = _setting("OUTBOX_RETRY_BASE_SECONDS", 30)
    cap = _setting("OUTBOX_RETRY_MAX_SECONDS", 3600)
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    return timedelta(seconds=delay + random.uniform(0, delay / 2))


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def classify_failure(exc: Exception) -> tuple[bool, str]:
    """(permanent?, the server's answer) for an exception raised while building or sending one message.

    Anything unforeseen is temporary: it is retried, and counts toward OUTBOX_MAX_ATTEMPTS.
    """
    if isinstance(exc, PermanentFailure):
        return True, str(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = [(code, f"{address}: {code} {_text(msg)}") for address, (code, msg) in exc.recipients.items()]
        return all(code >= 500 for code, _ in answers), "; ".join(text for _, text in answers)
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data refused, ...
        return 500 <= exc.smtp_code < 600, f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return False, f"{type(exc).__name__}: {exc}"


def _connection_lost(exc: Exception) -> bool:
    # After these the connection is gone; a refused message leaves it usable (smtplib sends RSET).
    # (SMTPException is itself an OSError, so the socket errors are told apart from it first.)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(exc, OSError)


@dataclass
class BatchResult:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)


@dataclass
class _Outgoing:
    """What the send loop needs of a claimed row, read once: commits expire ORM objects."""

    id: int
    recipient: str
    attempts: int
    message: OutboxMessage | None = None
    problem: Exception | None = None  # why its message could not be built


def _commit_without_waiting_for_the_disk(session: Session) -> None:
    """PostgreSQL: this transaction's COMMIT returns before its WAL is flushed to disk
    (`synchronous_commit` off, for this transaction only).

    For the "sent" mark alone, which is most of a big batch's time otherwise (bench/digests.py:
    5,000 digests in 55 s with a flush per mail, 24 s without). What it risks is the window noted in
    `_send_claimed`, a little wider: a database crash in the next ~0.6 s (3 x wal_writer_delay) loses
    the mark, as a worker crash between the send and the mark would; the row stays `sending` and
    goes again, with the same Message-ID, after its lease. Never lost, and never corrupt: the claim, the
    Message-ID and every failure are still committed to disk before anything else happens.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Through the connection, not session.execute: raw SQL there would count as a content change.
        session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def _set(session: Session, mail_id: int, **values) -> None:
    session.execute(update(OutboxMail).where(OutboxMail.id == mail_id).values(**values)
                    .execution_options(synchronize_session=False))


def _record_failure(session: Session, mail: _Outgoing, exc: Exception, now: datetime, result: BatchResult) -> None:
    permanent, answer = classify_failure(exc)
    if permanent or mail.attempts >= max_attempts():
        _set(session, mail.id, state=MailState.FAILED, last_error=answer[:2000], claim_token=None)
        result.failed.append(mail.id)
        log.warning("outbox mail %s to %s failed for good: %s", mail.id, mail.recipient, answer)
    else:
        _set(session, mail.id, state=MailState.RETRYING, last_error=answer[:2000], claim_token=None,
             next_attempt_at=now + retry_delay(mail.attempts))
        result.retrying.append(mail.id)


def _release(session: Session, mails: list[_Outgoing], now: datetime, reason: str) -> None:
    """Give claimed rows back untried (the connection broke before their turn)."""
    for mail in mails:
        attempts = max(mail.attempts - 1, 0)
        _set(session, mail.id, state=MailState.RETRYING, attempts=attempts, last_error=f"not tried: {reason}"[:2000],
             claim_token=None, next_attempt_at=now + retry_delay(max(attempts, 1)))
    session.commit()


def _release_ids(session: Session, mail_ids: list[int], now: datetime, reason: str, in_flight: int | None) -> None:
    """After an error no row explains: every row still claimed goes back untried, never left `sending`.

    The one that was being sent when it struck may have reached the server: it counts as a
    takeover mid-send, so the outbox page lists it if it is sent again.
    """
    session.rollback()
    rows = session.execute(select(OutboxMail.id, OutboxMail.recipient, OutboxMail.attempts)
                           .where(OutboxMail.id.in_(mail_ids), OutboxMail.state == MailState.SENDING)).all()
    if in_flight is not None and in_flight in {row.id for row in rows}:
        _set(session, in_flight, lease_takeovers=OutboxMail.lease_takeovers + 1)
    _release(session, [_Outgoing(*row) for row in rows], now, reason)


def _prepare(session: Session, mail: OutboxMail, now: datetime, result: BatchResult) -> _Outgoing | None:
    """The row's re-check and message; a row whose message cannot be built carries its problem."""
    outgoing = _Outgoing(mail.id, mail.recipient, mail.attempts)
    try:
        recheck = _RECHECKS.get(mail.kind)
        reason = recheck(session, mail, now) if recheck else None
        if reason:
            mail.state = MailState.DROPPED
            mail.last_error = f"dropped: {reason}"[:2000]
            mail.claim_token = None
            result.dropped.append(mail.id)
            return None
        # After the re-check (a dropped mail is never rendered); stored with the Message-ID by the
        # commit before anything leaves, so every attempt sends the same words.
        fill_in_bodies(mail)
        outgoing.message = build_message(mail)
    except SendLater as later:
        mail.state = MailState.RETRYING
        mail.next_attempt_at = now + later.delay
        mail.last_error = f"waiting: {later}"[:2000]
        mail.claim_token = None
        result.retrying.append(mail.id)
        return None
    except (DBAPIError, SoftTimeLimitExceeded):
        raise  # the database, not this row: the whole batch goes back
    except Exception as exc:  # this row's data: it fails alone, the others go on
        log.warning("outbox mail %s: its message could not be built: %r", mail.id, exc)
        outgoing.problem = exc if isinstance(exc, PermanentFailure) else PermanentFailure(
            f"the message could not be built: {type(exc).__name__}: {exc}")
    return outgoing


def send_claimed(session: Session, mail_ids: list[int], *, now: datetime) -> BatchResult:
    """Send rows this worker has claimed, over one connection, committing after each one.

    Commits: a row is marked sent right after the server accepted it, so a worker killed
    mid-batch leaves the rows it already delivered marked, and only those it had not. Whatever
    happens, no row is left claimed by a worker that lives on: an exception that no one row
    explains releases every row not yet settled (the `finally`) before it propagates.
    """
    result = BatchResult()
    unsettled = set(mail_ids)
    in_flight: list[int] = []  # the row whose message is on the wire right now
    try:
        _send_claimed(session, mail_ids, now, result, unsettled, in_flight)
    finally:
        if unsettled:
            log.error("outbox batch broke off; releasing %d claimed mails", len(unsettled), exc_info=True)
            _release_ids(session, sorted(unsettled), now, "the batch broke off on an unexpected error",
                         in_flight[-1] if in_flight else None)
            result.retrying.extend(sorted(unsettled))
    return result


def _send_claimed(session: Session, mail_ids: list[int], now: datetime, result: BatchResult,
                  unsettled: set[int], in_flight: list[int]) -> None:
    mails = session.scalars(select(OutboxMail).where(OutboxMail.id.in_(mail_ids)).order_by(OutboxMail.id)).all()
    unsettled.difference_update(set(mail_ids) - {mail.id for mail in mails})  # gone meanwhile
    try:
        _preload_rechecks(session, mails)
        prepared = [p for p in (_prepare(session, mail, now, result) for mail in mails) if p]
    finally:
        session.info.pop(PRELOADED_KEY, None)  # this batch's, for its re-checks only
    session.commit()  # the drops, the Message-IDs and the rendered bodies, before anything leaves
    unsettled.difference_update(result.dropped)
    unsettled.difference_update(result.retrying)  # those a re-check sent back for later
    outgoing = []
    for mail in prepared:
        if mail.problem is None:
            outgoing.append(mail)
            continue
        _record_failure(session, mail, mail.problem, now, result)
        session.commit()
        unsettled.discard(mail.id)
    if not outgoing:
        return
    try:
        connection_manager = open_connection()
        connection = connection_manager.__enter__()
    except (smtplib.SMTPException, OSError) as exc:
        for mail in outgoing:
            _record_failure(session, mail, exc, now, result)
        session.commit()
        unsettled.difference_update(mail.id for mail in outgoing)
        return
    try:
        for position, mail in enumerate(outgoing):
            in_flight[:] = [mail.id]
            try:
                connection.send(mail.message)
            except SoftTimeLimitExceeded:
                raise  # the task's time is up, not this row's fault: the finally releases the rest
            except Exception as exc:  # any failure of this one message is this row's
                in_flight.clear()
                _record_failure(session, mail, exc, now, result)
                session.commit()
                unsettled.discard(mail.id)
                if not _connection_usable(connection, exc):
                    rest = outgoing[position + 1:]
                    _release(session, rest, now, classify_failure(exc)[1])
                    result.retrying.extend(m.id for m in rest)
                    unsettled.difference_update(m.id for m in rest)
                    break
                continue
            # The window: the server has the message, the row is not marked yet. A crash here
            # leaves it `sending`; it is sent again, with the same Message-ID, after its lease.
            _commit_without_waiting_for_the_disk(session)
            _set(session, mail.id, state=MailState.SENT, sent_at=utcnow(), last_error=None, claim_token=None)
            session.commit()
            unsettled.discard(mail.id)
            in_flight.clear()
            result.sent.append(mail.id)
    finally:
        try:
            connection_manager.__exit__(None, None, None)
        except (smtplib.SMTPException, OSError):
            pass  # QUIT on a broken connection: everything is recorded already



def _connection_usable(connection, exc: Exception) -> bool:
    """May the next message go over this connection after `exc`?"""
    if isinstance(exc, PermanentFailure):
        return True  # refused before anything was said to the server
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        return not _connection_lost(exc)
    try:  # unforeseen: the conversation may be anywhere, so start it over, or give up on it
        connection.reset()
    except Exception:
        return False
    return True


def send_outbox_batch(session: Session, mail_ids: list[int], *, now: datetime | None = None,
                      token: str | None = None) -> BatchResult:
    """Claim those of these rows still due and send them.

    A second task for the same rows finds them claimed or sent, and sends nothing; the same task
    redelivered (`token`: its id) after its worker was lost takes its own rows back at once.
    """
    now = now or utcnow()
    claimed = claim_many(session, list(mail_ids), now=now, token=token)
    session.commit()  # the claim must be visible to other workers before anything is sent
    return send_claimed(session, claimed, now=now)


def send_outbox_mail(session: Session, mail_id: int, *, now: datetime | None = None,
                     token: str | None = None) -> MailState | None:
    """Claim, send and record one outbox row; None when it was not ours to send."""
    result = send_outbox_batch(session, [mail_id], now=now, token=token)
    for state, ids in ((MailState.SENT, result.sent), (MailState.RETRYING, result.retrying),
                       (MailState.FAILED, result.failed), (MailState.DROPPED, result.dropped)):
        if mail_id in ids:
            return state
    return None


def sweep_outbox(session: Session, *, now: datetime | None = None, max_batches: int = 20,
                 token: str | None = None) -> int:
    """Send whatever is due, batch by batch; returns how many were sent."""
    now = now or utcnow()
    sent = 0
    for _ in range(max_batches):
        claimed = claim_due(session, now=now, token=token)
        session.commit()
        if not claimed:
            break
        sent += len(send_claimed(session, claimed, now=now).sent)
    warn_if_stuck(session, now=now)
    return sent


@dataclass
class OutboxHealth:
    counts: dict[str, int]
    oldest_waiting_at: datetime | None
    oldest_waiting_age: timedelta | None
    alert_after: timedelta
    failed: list[OutboxMail]
    # Sent after a claim took them over mid-send: the one case the design cannot rule out.
    maybe_twice: list[OutboxMail] = field(default_factory=list)

    @property
    def is_stuck(self) -> bool:
        return self.oldest_waiting_age is not None and self.oldest_waiting_age > self.alert_after


def outbox_health(session: Session, *, now: datetime, failed_limit: int = 50) -> OutboxHealth:
    """What the staff page and the worker's log say about the outbox."""
    counts = {state.value: 0 for state in MailState}
    for state, count in session.execute(select(OutboxMail.state, func.count()).group_by(OutboxMail.state)):
        counts[MailState(state).value] = count
    oldest = session.scalar(select(func.min(OutboxMail.created_at)).where(OutboxMail.state.in_(WAITING)))
    failed = list(
        session.scalars(
            select(OutboxMail).where(OutboxMail.state == MailState.FAILED)
            .order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc()).limit(failed_limit)
        )
    )
    maybe_twice = list(
        session.scalars(
            select(OutboxMail).where(OutboxMail.state == MailState.SENT, OutboxMail.lease_takeovers > 0)
            .order_by(OutboxMail.sent_at.desc(), OutboxMail.id.desc()).limit(failed_limit)
        )
    ) if failed_limit else []
    return OutboxHealth(
        counts=counts,
        oldest_waiting_at=oldest,
        oldest_waiting_age=(now - oldest) if oldest else None,
        alert_after=timedelta(minutes=_setting("OUTBOX_ALERT_MINUTES", 10)),
        failed=failed,
        maybe_twice=maybe_twice,
    )


def warn_if_stuck(session: Session, *, now: datetime) -> OutboxHealth:
    health = outbox_health(session, now=now, failed_limit=0)
    if health.is_stuck:
        log.warning(
            "OUTBOX ALERT: the oldest waiting mail has waited %d minutes (alert after %d); "
            "is the mail server or a worker down?",
            health.oldest_waiting_age.total_seconds() // 60, health.alert_after.total_seconds() // 60,
        )
    return health


def undeliverable_mails(session: Session, event_id: int) -> dict[int, list[OutboxMail]]:
    """Failed mails of this event's attendees, by registration id, with the server's answer in
    `last_error`: for the organizers' attendee list (issue 12) to show next to each person."""
    found: dict[int, list[OutboxMail]] = {}
    for mail in session.scalars(
        select(OutboxMail).where(
            OutboxMail.event_id == event_id,
            OutboxMail.registration_id.is_not(None),
            OutboxMail.state == MailState.FAILED,
        ).order_by(OutboxMail.id)
    ):
        found.setdefault(mail.registration_id, []).append(mail)
    return found


class OutboxError(Refusal):
    """An outbox action refused (e.g. retrying a mail that is not failed)."""


def queue_again_by_staff(row, queued_state, *, actor, now: datetime) -> None:
    """A failed row (a mail, a Zoom intent) queued afresh by staff: attempts from zero, due now, and
    who did it noted after the last error, which stays readable."""
    row.state = queued_state
    row.attempts = 0
    row.next_attempt_at = now
    row.last_error = f"{row.last_error or ''} (retried by {actor.email} at {now:%Y-%m-%d %H:%M} UTC)".strip()


def retry_mail(session: Session, mail_id: int, *, actor, now: datetime) -> OutboxMail:
    """Staff send a failed mail again: it is queued afresh and handed to a worker after commit."""
    mail = session.get(OutboxMail, mail_id, with_for_update=True)
    if mail is None:
        raise OutboxError("We couldn’t find that mail.", 404)
    if mail.state != MailState.FAILED:
        raise OutboxError("Only a failed mail can be retried; this one is already on its way.")
    if mail.body_erased_at is not None:
        raise OutboxError("This mail’s text was erased under the privacy rules, so it can’t be sent again.")
    queue_again_by_staff(mail, MailState.QUEUED, actor=actor, now=now)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).append(mail.id)
    log.info("outbox mail %s queued again by %s", mail.id, actor.email)
    return mail
