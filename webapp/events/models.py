"""Events: when and where a group meets, and how many seats it has."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import UTCDateTime, db, utcnow
from webapp.groups.models import Group


class EventStatus(StrEnum):
    # Seen only by the group's organizers (and admins) until published; never registered for.
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        # The last line of defence against overbooking: the database itself refuses it.
        CheckConstraint(
            "confirmed_count >= 0 AND (capacity IS NULL OR confirmed_count <= capacity)",
            name="confirmed_within_capacity",
        ),
        CheckConstraint("waitlist_count >= 0", name="waitlist_count_non_negative"),
        CheckConstraint(
            "registration_closes_at IS NULL OR registration_opens_at IS NULL "
            "OR registration_closes_at > registration_opens_at",
            name="registration_window_ordered",
        ),
        CheckConstraint(
            "is_online OR venue_name IS NOT NULL", name="in_person_events_have_a_venue"
        ),
        # A series makes each of its sessions once, however often its sweep runs (webapp/series).
        UniqueConstraint("series_id", "series_occurrence_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No group: METRO itself hosts the event.
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="RESTRICT"), index=True
    )
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # retention sweeps, feeds
    is_online: Mapped[bool] = mapped_column(Boolean, default=True)
    venue_name: Mapped[str | None] = mapped_column(String(200))
    venue_address: Mapped[str | None] = mapped_column(String(300))
    # In-person events: step-free entrance, elevator, restrooms, quiet room... shown with the venue.
    venue_accessibility: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Private: shown and mailed only to confirmed attendees, near the start.
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[EventStatus] = mapped_column(
        Enum(EventStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
             validate_strings=True, create_constraint=True, name="event_status"),
        default=EventStatus.SCHEDULED,
    )
    # Kept by the registration service under the event's row lock.
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    waitlist_count: Mapped[int] = mapped_column(Integer, default=0)
    # The place in line the next waitlisted member gets: handed out and raised under the same
    # lock, so numbers only grow (never reused, even after cancellations) without scanning the line.
    next_queue_number: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # True when every seat this event's waitlist gave out is in `waitlist_promotions`: events made
    # before that table existed are False (who was promoted there is not known), so the waitlist
    # history never counts them as "no seat went to the waitlist".
    is_waitlist_history_kept: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false())
    # The organizer's choice (off by default): at RELEASE_UNCONFIRMED_HOURS before the start, seats
    # of confirmed attendees who did not answer "Still coming?" go to the waitlist.
    is_releasing_unconfirmed_seats: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The organizer chose "Create a Zoom meeting" (webapp/zoom): the site makes the meeting when the
    # event is published and registers each confirmed attendee with Zoom; `meeting_url` stays empty.
    is_zoom_meeting: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Zoom's id of that meeting once made (the worker writes it; looked up before any second create).
    zoom_meeting_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # iCalendar SEQUENCE: raised on every change attendees are told about (moved, new place, cancelled),
    # so calendars replace the entry with the same UID instead of keeping the old one.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Raised by every change to the agenda (webapp/slots: a talk approved, released, withdrawn or
    # moved). The calendar's SEQUENCE is `sequence + agenda_sequence` (calendar_sequence), so calendar
    # apps refresh the entry's description, while the reminders and change mails, which are keyed
    # on `sequence` alone, are not sent again for an agenda change.
    agenda_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # A session of a series (webapp/series): the day its rule gave it (kept when the session is moved),
    # and the fields an organizer edited on this session alone, which the series no longer sets
    # ("title description" ...; webapp/series/services.py SESSION_FIELDS).
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"), index=True)
    series_occurrence_on: Mapped[date | None] = mapped_column(Date)
    series_detached: Mapped[str] = mapped_column(String(100), default="", server_default="")

    group: Mapped[Group | None] = relationship()
    series = relationship("Series")

    @property
    def calendar_sequence(self) -> int:
        """The iCalendar SEQUENCE: up with every change attendees are told of and every agenda change."""
        return (self.sequence or 0) + (self.agenda_sequence or 0)

    @property
    def seats_left(self) -> int | None:
        """Seats still free, or None when the event is not capped."""
        if self.capacity is None:
            return None
        return max(self.capacity - self.confirmed_count, 0)

    @property
    def is_full(self) -> bool:
        return self.capacity is not None and (self.seats_left == 0 or self.waitlist_count > 0)

    @property
    def has_meeting_link(self) -> bool:
        """An online event attendees can join: a pasted link, or a Zoom meeting the site makes."""
        return bool(self.meeting_url) or bool(self.is_online and self.is_zoom_meeting)

    def registration_closes(self) -> datetime:
        return self.registration_closes_at or self.starts_at

    def __repr__(self) -> str:
        return f"<Event {self.slug}>"


class EventChangeMail(db.Model):
    """What one change mail (webapp.events.changes) told whom, about which version of the event.

    The send-time re-check reads the version from here, and a later change reads the news of the
    mails it supersedes from here, instead of either parsing the mail's dedup key.
    """

    __tablename__ = "event_change_mails"

    outbox_mail_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_mails.id", ondelete="CASCADE"), primary_key=True
    )
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    registration_generation: Mapped[int] = mapped_column(Integer)
    # The event's `sequence` this mail was written for: a higher one means a later change.
    event_sequence: Mapped[int] = mapped_column(Integer)
    # What this change was, "+"-joined in sorted order ("place+time"): a later mail names it too.
    changes: Mapped[str] = mapped_column(String(40))
