"""Every mail the site sends is first a row here, written in the transaction that causes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db import UTCDateTime, db, utcnow


class MailState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"
    FAILED = "failed"
    SENT = "sent"
    # Re-checked at send time and no longer true (the member cancelled, the event moved or was
    # cancelled): deliberately not sent, which is neither a failure nor a delivery.
    DROPPED = "dropped"


class OutboxMail(db.Model):
    __tablename__ = "outbox_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # One mail per cause: a second attempt to queue the same key is refused by the database.
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Whose mail it is, for queries ("this attendee's failed mails"): the dedup key only keeps a
    # cause from being queued twice and is never parsed. SET NULL: the mail's record outlives a
    # deleted registration or event (the outbox page still lists it), and a dangling id could
    # otherwise point at a later row that got the same id (SQLite reuses the highest rowid).
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    # Empty while `context` is set: the worker renders the bodies right before the first send.
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # A mail rendered in the worker (webapp/outbox/rendering.py): the template it is written from
    # and the facts it needs, plain values captured when it was queued. Cleared once the bodies are
    # rendered, and by the retention sweep and account deletion like the bodies: it is personal data.
    template: Mapped[str | None] = mapped_column(String(60))
    context: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    # An iCalendar attachment (invite.ics), when the mail carries one.
    ics: Mapped[str | None] = mapped_column(Text)
    # Extra headers the message carries, name -> value (List-Unsubscribe on mails to followers).
    headers: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[MailState] = mapped_column(
        Enum(MailState, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
             validate_strings=True, create_constraint=True, name="mail_state"),
        default=MailState.QUEUED,
        index=True,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The id of the task that claimed it: that task, redelivered after its worker was lost, may
    # take the row back at once instead of waiting for the lease to run out.
    claim_token: Mapped[str | None] = mapped_column(String(155))
    # How often a claim took the row over mid-send (it was still `sending`): the earlier attempt
    # may have reached the server, so the mail may have arrived twice (the outbox page says so).
    lease_takeovers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the retention sweep dropped the bodies (webapp/privacy/sweeps.py): the row stays as
    # the mail's record (kind, recipient, subject, times, state) for the outbox page.
    body_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<OutboxMail {self.id} {self.kind} {self.state}>"
