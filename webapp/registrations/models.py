"""A member's place at an event: confirmed, waiting in line, or cancelled."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import UTCDateTime, db, utcnow
from webapp.events.models import Event


class RegistrationStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class AttendanceAnswer(StrEnum):
    """The member's answer to "Still coming?" (webapp/registrations/still_coming.py)."""

    YES = "yes"
    FREED = "freed"


class Registration(db.Model):
    __tablename__ = "registrations"
    __table_args__ = (
        # One registration per member per event: a double click or a retried request is harmless.
        UniqueConstraint("event_id", "user_id"),
        UniqueConstraint("event_id", "queue_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[RegistrationStatus] = mapped_column(
        Enum(RegistrationStatus, native_enum=False, length=20,
             values_callable=lambda e: [m.value for m in e], validate_strings=True,
             create_constraint=True, name="registration_status"),
    )
    # Visible only to the group's organizers.
    accessibility_needs: Mapped[str] = mapped_column(Text, default="")
    # When the member last changed their needs after registering: organizers see "updated <time>".
    accessibility_needs_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the retention sweep erased the needs (webapp/privacy/sweeps.py): "needs were given",
    # for the organizers' figures, without what they were.
    accessibility_needs_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "Show my name on the Going list" (webapp/registrations/going.py): off unless the member says so.
    show_name: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The place in line, handed out under the event lock: first come, first served.
    queue_number: Mapped[int | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Counts each (re)activation, so every confirmation mail has its own dedup key.
    generation: Mapped[int] = mapped_column(default=1)
    source: Mapped[str] = mapped_column(String(20), default="member")
    # Ticked at the door by an organizer; after the event it is the attendance record.
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The organizer who removed them; None when the member cancelled themselves.
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # "Still coming?": when the mail was queued (once per registration: the sweep's memory), the
    # answer ("yes", or "freed" when that answer cancelled it) and when; when an unanswered seat
    # was released to the waitlist (once per registration, under the event lock).
    still_coming_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attendance_answer: Mapped[AttendanceAnswer | None] = mapped_column(
        Enum(AttendanceAnswer, native_enum=False, length=10,
             values_callable=lambda e: [m.value for m in e], validate_strings=True,
             create_constraint=True, name="attendance_answer"),
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A Zoom meeting's registrant for this attendee (webapp/zoom): Zoom's id and the personal join
    # URL /join/ forwards to. Set by the worker while confirmed, cleared once cancelled at Zoom.
    zoom_registrant_id: Mapped[str | None] = mapped_column(String(100))
    zoom_join_url: Mapped[str | None] = mapped_column(String(1000))
    # What Zoom says of their attendance (its participant report, or its webhook while it runs): when
    # they first joined and for how long in all. The first such news checks them in; organizers
    # can still correct the check-in, and later news never overrides them.
    zoom_joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    zoom_seconds: Mapped[int | None] = mapped_column(Integer)

    event: Mapped[Event] = relationship()
    user = relationship("User", foreign_keys=[user_id])
    cancelled_by = relationship("User", foreign_keys=[cancelled_by_id])

    @property
    def is_active(self) -> bool:
        return self.status != RegistrationStatus.CANCELLED

    @property
    def still_coming_state(self) -> str | None:
        """What organizers read of "Still coming?": "yes", "freed", "released", "no_answer", or None
        when this registration was never asked."""
        if self.attendance_answer is not None:
            return self.attendance_answer.value
        if self.released_at is not None:
            return "released"
        return "no_answer" if self.still_coming_asked_at is not None else None


class WaitlistPromotion(db.Model):
    """A seat that went to someone on the waitlist: written with the promotion, in its transaction,
    so a group's waitlist history (webapp/registrations/odds.py) counts what happened, not a guess."""

    __tablename__ = "waitlist_promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # Kept when the account is deleted: the seat still went to the waitlist.
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id", ondelete="SET NULL"))
    # Their place in line when the seat was given (several seats freed at once: 1, 2, 3...).
    position: Mapped[int] = mapped_column(Integer)
    # Given out of turn by an organizer ("Give a seat"), not by the line moving.
    is_by_hand: Mapped[bool] = mapped_column(Boolean, default=False)
    promoted_at: Mapped[datetime] = mapped_column(UTCDateTime)
