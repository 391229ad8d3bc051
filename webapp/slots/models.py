"""Presenter and facilitator slots: what an event offers ("15-minute talk", 3 of them) and who holds one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import UTCDateTime, db, utcnow
from webapp.events.models import Event

LABEL_MAX = 100
TITLE_MAX = 200
ABSTRACT_MAX = 1000
MINUTES_MAX = 8 * 60
HOW_MANY_MAX = 50


class ClaimStatus(StrEnum):
    PENDING = "pending"  # awaiting the organizers
    APPROVED = "approved"  # on the agenda
    RELEASED = "released"  # given back: by the organizers, or by the presenter cancelling


class SlotOffer(db.Model):
    """One kind of slot an event offers: a label, a length and how many."""

    __tablename__ = "slot_offers"
    __table_args__ = (
        CheckConstraint("minutes > 0", name="minutes_positive"),
        CheckConstraint("how_many > 0", name="how_many_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(LABEL_MAX))
    minutes: Mapped[int] = mapped_column(Integer)
    how_many: Mapped[int] = mapped_column(Integer)
    # The series default this is a copy of; NULL for the session's own offers. A session with
    # offers of its own gets no more from its series.
    series_offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("series_slot_offers.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship()


class SlotClaim(db.Model):
    """A member's slot at an event: one row per member and event, reused when they claim again
    (like a registration), so each claim's mails have their own dedup key through `generation`."""

    __tablename__ = "slot_claims"
    __table_args__ = (
        # A member holds at most one slot per event.
        UniqueConstraint("event_id", "user_id"),
        # The last line of defence against two holders of one slot: each active claim holds a
        # numbered place (1..how_many) of its offer, and no two claims the same one. Released: NULL.
        UniqueConstraint("offer_id", "place"),
        CheckConstraint("(status = 'released') = (place IS NULL)", name="active_claims_hold_a_place"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("slot_offers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    place: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[ClaimStatus] = mapped_column(
        Enum(ClaimStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
             validate_strings=True, create_constraint=True, name="slot_claim_status"),
    )
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    abstract: Mapped[str] = mapped_column(Text, default="")
    # Where an approved talk sits on the agenda (smaller first); handed out under the event's lock.
    agenda_position: Mapped[int | None] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    offer: Mapped[SlotOffer] = relationship()
    user = relationship("User")

    @property
    def is_active(self) -> bool:
        return self.status != ClaimStatus.RELEASED
