"""What organizers wrote to their attendees: kept on the event for later reference."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import UTCDateTime, db, utcnow
from webapp.display import plural
from webapp.events.models import Event

MESSAGE_SUBJECT_MAX = 150
MESSAGE_BODY_MAX = 5000


class MessageAudience(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"

    @property
    def label(self) -> str:
        return "confirmed attendees" if self is MessageAudience.CONFIRMED else "people on the waitlist"

    def counted(self, n: int) -> str:
        """'1 confirmed attendee', '3 people on the waitlist'."""
        if self is MessageAudience.CONFIRMED:
            return plural(n, "confirmed attendee")
        return f"{plural(n, 'person', 'people')} on the waitlist"


class EventMessage(db.Model):
    """One message to an event's confirmed (or waitlisted) attendees; one outbox mail per recipient."""

    __tablename__ = "event_messages"
    __table_args__ = (
        # The form's one-time key: a double submit (or a retried request) sends nothing twice.
        UniqueConstraint("event_id", "client_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    audience: Mapped[MessageAudience] = mapped_column(
        Enum(MessageAudience, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
             validate_strings=True, create_constraint=True, name="message_audience"),
    )
    subject: Mapped[str] = mapped_column(String(MESSAGE_SUBJECT_MAX))
    body: Mapped[str] = mapped_column(Text)
    recipient_count: Mapped[int] = mapped_column(Integer)
    client_key: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship()
    sender = relationship("User")


class GroupMessage(db.Model):
    """One message to a group's followers ("We're meeting again"); one outbox mail per follower."""

    __tablename__ = "group_messages"
    __table_args__ = (
        # The form's one-time key, as for event messages: a double submit sends nothing twice.
        UniqueConstraint("group_id", "client_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(MESSAGE_SUBJECT_MAX))
    body: Mapped[str] = mapped_column(Text)
    recipient_count: Mapped[int] = mapped_column(Integer)
    client_key: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group = relationship("Group")
    sender = relationship("User")
