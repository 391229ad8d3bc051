"""Meetup groups and the people who organize them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import UTCDateTime, db, utcnow

# What an organizer may write on their group's page (the organizers' own edit form checks these).
DESCRIPTION_MAX = 5000
EXTERNAL_URL_MAX = 500
ORGANIZER_NAME_MAX = 200


class Group(db.Model):
    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint("slug <> '' AND name <> ''", name="slug_and_name_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    external_url: Mapped[str | None] = mapped_column(String(EXTERNAL_URL_MAX))
    # Groups the current Meetups page no longer lists stay browsable, shown as not meeting.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organizers: Mapped[list[GroupOrganizer]] = relationship(
        back_populates="group",
        order_by="GroupOrganizer.position",
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<Group {self.slug}>"


class GroupOrganizer(db.Model):
    __tablename__ = "group_organizers"
    __table_args__ = (
        UniqueConstraint("group_id", "name"),
        CheckConstraint("name <> ''", name="name_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(ORGANIZER_NAME_MAX))
    role: Mapped[str] = mapped_column(String(40), default="Organizer")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The member account behind this organizer, when there is one (set on approval of a proposal,
    # or when an invited co-organizer signs in); the address they were invited at.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))

    group: Mapped[Group] = relationship(back_populates="organizers")
    user = relationship("User")
    # Invitations that name this row (webapp/groups/invitations.py); the database deletes them with it
    # unless removing the organizer unlinks them first, to keep them as history.
    invitations = relationship("OrganizerInvitation", back_populates="organizer", passive_deletes=True)
