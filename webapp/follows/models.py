"""Who follows which group, and how each member wants to hear of new events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import UTCDateTime, db, utcnow


class GroupFollow(db.Model):
    __tablename__ = "group_follows"
    # One row per member and group: a replayed Follow (double click, back button) finds it there.
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group = relationship("Group")
    user = relationship("User")


class FollowMail(StrEnum):
    """How a follower hears of a followed group's new events (the account page's choice)."""

    EACH = "each"
    DAILY = "daily"
    WEEKLY = "weekly"
    NONE = "none"

    @property
    def label(self) -> str:
        return FOLLOW_MAIL_LABELS[self]


FOLLOW_MAIL_LABELS = {
    FollowMail.EACH: "A mail for each new event",
    FollowMail.DAILY: "A daily digest",
    FollowMail.WEEKLY: "A weekly digest",
    FollowMail.NONE: "No mail",
}
DEFAULT_FOLLOW_MAIL = FollowMail.EACH


class FollowMailChoice(db.Model):
    """A member's choice; no row means the default (a mail for each new event)."""

    __tablename__ = "follow_mail_choices"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    choice: Mapped[FollowMail] = mapped_column(
        Enum(FollowMail, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e],
             validate_strings=True, create_constraint=True, name="follow_mail"),
        default=DEFAULT_FOLLOW_MAIL,
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # A digest member's next digest lists the events published from this moment: when they chose
    # digests (the events before were mailed one by one, or not at all), then the end of the last
    # period the digest sweep dealt with. A scheduler that was down for days finds it days back and
    # catches up in one digest. None for "each event" and "no mail", and for rows older than it.
    digest_from: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventPublication(db.Model):
    """When a group's event was published: what the daily and weekly digests list. One row per
    event (its first publish), whatever happens to the event later."""

    __tablename__ = "event_publications"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    event = relationship("Event")
