"""A series: its recurrence rule, its New York wall-clock time, and the defaults every session gets."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text, Time, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import UTCDateTime, db, utcnow
from webapp.groups.models import Group
from webapp.slots.models import LABEL_MAX


class Series(db.Model):
    __tablename__ = "series"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        # Exactly one end: a number of sessions or a last day.
        CheckConstraint("(end_count IS NULL) <> (end_on IS NULL)", name="one_end"),
        CheckConstraint("is_online OR venue_name IS NOT NULL", name="in_person_series_have_a_venue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="RESTRICT"), index=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # RFC 5545 RRULE text without DTSTART, COUNT or UNTIL ("FREQ=WEEKLY;INTERVAL=2"): the start is
    # first_on at local_time, the end is end_count or end_on (webapp/series/recurrence.py).
    rrule: Mapped[str] = mapped_column(String(500))
    # The first session, or after a change of schedule the first day of the new schedule.
    first_on: Mapped[date] = mapped_column(Date)
    # Days of the earlier schedules, before first_on: end_count counts them too (the series' sessions
    # from its very first), so the rule itself has end_count - sessions_before left.
    sessions_before: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Wall-clock time in `timezone`: 6 PM stays 6 PM across DST.
    local_time: Mapped[time] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(60), default="America/New_York")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    end_count: Mapped[int | None] = mapped_column(Integer)
    end_on: Mapped[date | None] = mapped_column(Date)
    # The defaults every new session gets.
    capacity: Mapped[int | None] = mapped_column(Integer)
    is_online: Mapped[bool] = mapped_column(Boolean, default=True)
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    venue_name: Mapped[str | None] = mapped_column(String(200))
    venue_address: Mapped[str | None] = mapped_column(String(300))
    venue_accessibility: Mapped[str | None] = mapped_column(Text)
    # "Create a Zoom meeting for each session" (webapp/zoom): every session made gets a meeting the site
    # makes, as an event whose organizer chose it; `meeting_url` stays empty.
    is_zoom_meeting: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    group: Mapped[Group] = relationship()

    def __repr__(self) -> str:
        return f"<Series {self.slug}>"


class SeriesRegistration(db.Model):
    """A member registered for the whole series: every session made later registers them too."""

    __tablename__ = "series_registrations"
    __table_args__ = (UniqueConstraint("series_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Counts each (re)registration, so each one's summary mail has its own dedup key.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    # What the member told the organizers when registering for all: kept for the sessions made
    # later, which register them too (health information in practice: shown only to organizers).
    accessibility_needs: Mapped[str] = mapped_column(Text, default="", server_default="")

    series: Mapped[Series] = relationship()
    user = relationship("User")

    @property
    def is_active(self) -> bool:
        return self.cancelled_at is None


class SeriesSlotOffer(db.Model):
    """Slots every session offers ("15-minute talk", 2 of them): copied to each session as it is made,
    and to the sessions already made that have no offers of their own (webapp/series/services.py)."""

    __tablename__ = "series_slot_offers"
    __table_args__ = (
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("how_many > 0", name="how_many_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(LABEL_MAX))
    minutes: Mapped[int] = mapped_column(Integer)
    how_many: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
