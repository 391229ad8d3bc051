"""A reminder is a row per (registration, generation, event sequence); a join visit is a row per use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import UTCDateTime, db, utcnow
from webapp.registrations.models import Registration


class Reminder(db.Model):
    """This registration has had (or needs no) reminder for this version of the event.

    The unique key is the sweep's memory: a second scheduler, a re-run sweep or a retried task
    cannot insert a second row, so it cannot queue a second reminder. The event's sequence is in
    the key so that a moved event is reminded again for its new time.
    """

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("registration_id", "generation", "event_sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(Integer)
    event_sequence: Mapped[int] = mapped_column(Integer)
    # The start the reminder was written for: the send-time re-check compares it with the event's.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "reminder": a reminder mail was queued; "event_changed": the change mail carried the link.
    reason: Mapped[str] = mapped_column(String(20), default="reminder")
    outbox_mail_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_mails.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[Registration] = relationship()


class JoinVisit(db.Model):
    """One use of a personal join link, let through or not (organizers see who joined)."""

    __tablename__ = "join_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "joined", or why not: "not_confirmed", "too_early", "ended", "event_cancelled", "no_link".
    outcome: Mapped[str] = mapped_column(String(20))

    registration: Mapped[Registration] = relationship()
