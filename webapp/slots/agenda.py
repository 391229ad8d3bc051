"""An event's slots as one read: what it offers, who holds what, and the agenda the approved talks make.

Kept apart from services.py so the calendar file (webapp/events/calendar.py) can write the agenda
without importing the mails that import the calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from webapp.accounts.models import User
from webapp.display import format_time_range
from webapp.events.models import Event
from webapp.slots.models import ClaimStatus, SlotClaim, SlotOffer


@dataclass(frozen=True)
class AgendaItem:
    starts_at: datetime
    ends_at: datetime
    label: str
    presenter: str
    title: str
    abstract: str


def presenter_name(user: User) -> str:
    # Never the mail address: the agenda is public.
    return user.display_name or "A member"


@dataclass
class EventSlots:
    offers: list[SlotOffer]
    claims: list[SlotClaim]  # the active ones (pending or approved)

    def free(self, offer: SlotOffer) -> int:
        return offer.how_many - sum(1 for c in self.claims if c.offer_id == offer.id)

    @property
    def any_free(self) -> bool:
        return any(self.free(offer) > 0 for offer in self.offers)

    def claim_of(self, user_id: int | None) -> SlotClaim | None:
        return next((c for c in self.claims if c.user_id == user_id), None)

    @property
    def approved(self) -> list[SlotClaim]:
        return sorted((c for c in self.claims if c.status == ClaimStatus.APPROVED), key=_agenda_order)

    @property
    def pending(self) -> list[SlotClaim]:
        return sorted((c for c in self.claims if c.status == ClaimStatus.PENDING), key=lambda c: (c.claimed_at, c.id))

    def agenda(self, event: Event) -> list[AgendaItem]:
        """The approved talks in order, each timed from the event's start and the lengths before it."""
        return timed_agenda(event, self.approved)


def _agenda_order(claim: SlotClaim) -> tuple[int, int]:
    return claim.agenda_position or 0, claim.id


def timed_agenda(event: Event, approved: list[SlotClaim]) -> list[AgendaItem]:
    """The approved claims (in agenda order) as the agenda: each timed from the event's start and
    the lengths before it. The one rule for the event page, the reminder and every calendar file."""
    items, at = [], event.starts_at
    for claim in approved:
        ends = at + timedelta(minutes=claim.offer.minutes)
        items.append(AgendaItem(at, ends, claim.offer.label, presenter_name(claim.user), claim.title,
                                claim.abstract))
        at = ends
    return items


def event_slots(session: Session, event_id: int) -> EventSlots:
    """The event's offers and active claims, with their members, in one query (the event page's budget)."""
    rows = session.execute(
        select(SlotOffer, SlotClaim, User)
        .outerjoin(SlotClaim, and_(SlotClaim.offer_id == SlotOffer.id, SlotClaim.status != ClaimStatus.RELEASED))
        .outerjoin(User, User.id == SlotClaim.user_id)
        .where(SlotOffer.event_id == event_id)
        .order_by(SlotOffer.id, SlotClaim.id)
    ).all()
    offers: dict[int, SlotOffer] = {}
    claims: list[SlotClaim] = []
    for offer, claim, _user in rows:
        offers.setdefault(offer.id, offer)
        if claim is not None:
            claims.append(claim)
    return EventSlots(list(offers.values()), claims)


def agenda(session: Session, event: Event) -> list[AgendaItem]:
    """The event's agenda: time, presenter, title (and abstract) of each approved talk, in order."""
    return event_slots(session, event.id).agenda(event)


def agendas_of(session: Session, events: list[Event]) -> dict[int, list[AgendaItem]]:
    """The agendas of many events (a calendar feed's) in one query, whatever their number: event id ->
    its agenda, [] for an event without approved talks."""
    ids = [event.id for event in events if event.id is not None]
    approved: dict[int, list[SlotClaim]] = {event_id: [] for event_id in ids}
    if ids:
        rows = session.execute(
            select(SlotClaim, SlotOffer, User)
            .join(SlotOffer, SlotOffer.id == SlotClaim.offer_id)
            .join(User, User.id == SlotClaim.user_id)
            .where(SlotClaim.event_id.in_(ids), SlotClaim.status == ClaimStatus.APPROVED)
        ).all()
        for claim, _offer, _user in rows:  # the offer and the member come loaded with their claim
            approved[claim.event_id].append(claim)
    return {event.id: timed_agenda(event, sorted(approved.get(event.id, []), key=_agenda_order))
            for event in events}


def agenda_text(items: list[AgendaItem]) -> str:
    """The agenda as plain lines, for a calendar entry's description."""
    lines = [f"{format_time_range(i.starts_at, i.ends_at)}  {i.presenter}: {i.title}" for i in items]
    return "Agenda:\n" + "\n".join(lines) if lines else ""
