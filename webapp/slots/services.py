"""Presenter and facilitator slots: offering them, claiming one, the organizers' approve, release
and reorder, a member withdrawing their own, and the agenda they make.

Every change takes the event's row lock first, the same lock registrations take (see
webapp/registrations/services.py), so a claim is decided against the member's seat as it is
right now and two members racing for the last slot queue on that one row: one gets it, the other
is told it is gone. The table's unique (offer, place) is the last line of defence behind that.

Every change to the agenda (a talk approved, or freed or moved while on it) raises the event's
`agenda_sequence` (`agenda_changed`), so calendar files and feeds carry a higher SEQUENCE and a
new ETag, and calendar apps pick up the new description.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.accounts.services import has_control_characters
from webapp.db import lock_row
from webapp.events.models import Event, EventStatus
from webapp.groups.services import organizer_addresses, reply_to_organizers
from webapp.outbox.models import OutboxMail
from webapp.outbox.services import register_recheck
from webapp.outbox.templated import queue_templated_mail
from webapp.refusals import FormRefusal
from webapp.registrations.mails import event_mail_links
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.slots.agenda import EventSlots, event_slots, presenter_name
from webapp.slots.models import (
    ABSTRACT_MAX,
    HOW_MANY_MAX,
    LABEL_MAX,
    MINUTES_MAX,
    TITLE_MAX,
    ClaimStatus,
    SlotClaim,
    SlotOffer,
)
from webapp.urls import absolute_url
from webapp.validators import too_long_message


class SlotError(FormRefusal):
    """A slot change refused: the slot is gone, the member has no seat, the input is wrong."""

    default_status = 409


def _row_id(value) -> int | None:
    """A form's or URL's row id as a number, or None for anything else (too long for the column, "١")."""
    text = str(value if value is not None else "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def lock_event(session: Session, event_id: int) -> Event:
    """The event's row lock (the one registrations take) for the rest of the transaction."""
    event = lock_row(session, Event, event_id, Event.confirmed_count)
    if event is None:
        raise SlotError("We couldn’t find that event.", status=404)
    return event


def change_problem(event: Event, now: datetime) -> str | None:
    """Why slots can't be offered, claimed or changed now, or None when they can."""
    if event.status == EventStatus.CANCELLED:
        return "This event was cancelled, so its slots can’t change."
    if now >= event.starts_at:
        return "This event has started, so its slots can no longer change."
    return None


# --- offering ----------------------------------------------------------------------------------


def _whole_number(text, field: str, name: str, *, low: int, high: int) -> int:
    text = str(text if text is not None else "").strip()
    if not text:
        raise SlotError(f"Please give the {name}.", field=field, status=422)
    if not text.isascii() or not text.isdigit():
        raise SlotError(f"The {name} must be a whole number, like 15.", field=field, status=422)
    value = int(text[:6]) if len(text) <= 6 else high + 1
    if not low <= value <= high:
        raise SlotError(f"The {name} must be between {low} and {high}.", field=field, status=422)
    return value


def checked_offer(label: str | None, minutes, how_many) -> tuple[str, int, int]:
    """An offer's label, length and number as kept; SlotError for the field when they can't be.
    The one check for an event's offers and for a series' (which its sessions copy)."""
    label = " ".join((label or "").split())
    if not label:
        raise SlotError("Please name the slots, like “15-minute talk” or “Facilitator”.", field="label", status=422)
    if len(label) > LABEL_MAX:
        raise SlotError(too_long_message("The label", LABEL_MAX, len(label)), field="label", status=422)
    minutes = _whole_number(minutes, "minutes", "length in minutes", low=1, high=MINUTES_MAX)
    how_many = _whole_number(how_many, "how_many", "number of slots", low=1, high=HOW_MANY_MAX)
    return label, minutes, how_many


def check_fits(offered: int, minutes: int, how_many: int, length: int, what: str = "event") -> None:
    """The offers together must fit in the event: the agenda's times are counted from its start."""
    if offered + minutes * how_many > length:
        left = max(length - offered, 0)
        raise SlotError(f"These slots would run past the end of the {what}: {left} of its {length} minutes "
                        "are still free for slots.", field="how_many", status=422)


def offer_slots(session: Session, event_id: int, *, label: str, minutes, how_many, now: datetime,
                series_offer_id: int | None = None) -> SlotOffer:
    """Offer `how_many` slots of `minutes` each under `label` ("15-minute talk", "facilitator").
    `series_offer_id`: the series' default this offer is a copy of (webapp/series/services.py)."""
    label, minutes, how_many = checked_offer(label, minutes, how_many)
    event = lock_event(session, event_id)
    if problem := change_problem(event, now):
        raise SlotError(problem)
    offered = session.scalar(select(func.coalesce(func.sum(SlotOffer.minutes * SlotOffer.how_many), 0))
                             .where(SlotOffer.event_id == event.id))
    check_fits(offered, minutes, how_many, int((event.ends_at - event.starts_at).total_seconds() // 60))
    offer = SlotOffer(event_id=event.id, label=label, minutes=minutes, how_many=how_many, created_at=now,
                      series_offer_id=series_offer_id)
    session.add(offer)
    session.flush()
    return offer


def _taken_places(session: Session, offer_id: int) -> set[int]:
    return set(session.scalars(select(SlotClaim.place).where(SlotClaim.offer_id == offer_id,
                                                              SlotClaim.place.is_not(None))))


# --- claiming ----------------------------------------------------------------------------------


def checked_talk(title: str | None, abstract: str | None) -> tuple[str, str]:
    """The title (one line, required) and abstract as kept; SlotError for the field when they can't be."""
    title = " ".join((title or "").split())
    abstract = (abstract or "").replace("\r\n", "\n").strip()
    if not title:
        raise SlotError("Please give your talk a title.", field="title", status=422)
    if len(title) > TITLE_MAX:
        raise SlotError(too_long_message("The title", TITLE_MAX, len(title)), field="title", status=422)
    if has_control_characters(title):  # what is left after collapsing spaces: bidi overrides
        raise SlotError("Please remove special control characters from the title.", field="title", status=422)
    if len(abstract) > ABSTRACT_MAX:
        raise SlotError(too_long_message("The abstract", ABSTRACT_MAX, len(abstract)), field="abstract", status=422)
    return title, abstract


def claim_slot(session: Session, event_id: int, offer_id, *, member, title: str, abstract: str = "",
               now: datetime) -> SlotClaim:
    """A confirmed attendee claims one of the offer's slots; it awaits the organizers' approval.

    Refused: without a seat (waitlisted or not registered), when they hold a slot of this event
    already, and when every slot of the offer is taken."""
    title, abstract = checked_talk(title, abstract)
    event = lock_event(session, event_id)
    offer = session.get(SlotOffer, row_id) if (row_id := _row_id(offer_id)) else None
    if offer is None or offer.event_id != event.id:
        raise SlotError("Please choose one of the slots this event offers.", field="offer_id", status=422)
    if problem := change_problem(event, now):
        raise SlotError(problem)
    registration = session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                             Registration.user_id == member.id))
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        raise SlotError("Claiming a slot needs a seat at the event: register first"
                        + (", and once a seat is yours you can claim one." if registration is not None
                           and registration.status == RegistrationStatus.WAITLISTED else "."))
    claim = session.scalar(select(SlotClaim).where(SlotClaim.event_id == event.id, SlotClaim.user_id == member.id))
    if claim is not None and claim.is_active:
        raise SlotError("You already hold a slot at this event; the organizers can release it if you’d "
                        "like another.")
    free = sorted(set(range(1, offer.how_many + 1)) - _taken_places(session, offer.id))
    if not free:
        raise SlotError(f"Every “{offer.label}” slot is taken.")
    if claim is None:
        claim = SlotClaim(event_id=event.id, user_id=member.id, generation=1)
        session.add(claim)
    else:
        claim.generation += 1
    claim.offer_id, claim.place, claim.status = offer.id, free[0], ClaimStatus.PENDING
    claim.title, claim.abstract = title, abstract
    claim.claimed_at, claim.approved_at, claim.released_at, claim.agenda_position = now, None, None, None
    session.flush()
    return claim


# --- the organizers' side ------------------------------------------------------------------------


def _locked_claim(session: Session, event_id: int, claim_id, now: datetime) -> tuple[Event, SlotClaim]:
    event = lock_event(session, event_id)
    claim = session.get(SlotClaim, row_id, populate_existing=True) if (row_id := _row_id(claim_id)) else None
    if claim is None or claim.event_id != event.id:
        raise SlotError("We couldn’t find that slot at this event.", status=404)
    if problem := change_problem(event, now):
        raise SlotError(problem)
    return event, claim


def _last_position(session: Session, event_id: int) -> int:
    return session.scalar(select(func.coalesce(func.max(SlotClaim.agenda_position), 0))
                          .where(SlotClaim.event_id == event_id, SlotClaim.status == ClaimStatus.APPROVED))


SLOT_APPROVED_KIND = "slot_approved"


def agenda_changed(event: Event, now: datetime) -> None:
    """The agenda a calendar shows changed: raise the calendar SEQUENCE (Event.calendar_sequence)
    and the revision time, which the feeds' ETags and Last-Modified are made of. `event.sequence`
    stays: the reminders and change mails are keyed on it, and an agenda change is not a reason
    to send them again."""
    event.agenda_sequence = (event.agenda_sequence or 0) + 1
    # A cancelled event's updated_at dates its cancellation, which the feeds keep it listed by.
    if event.status != EventStatus.CANCELLED:
        event.updated_at = max(event.updated_at, now) if event.updated_at else now


def _registration_of(session: Session, event_id: int, user_id: int) -> Registration | None:
    return session.scalar(select(Registration).where(Registration.event_id == event_id,
                                                     Registration.user_id == user_id))


def approve(session: Session, event_id: int, claim_id, *, now: datetime) -> SlotClaim:
    """Put a pending claim on the agenda, after the talks already there, and mail the member.
    Approving twice changes nothing and mails nothing."""
    event, claim = _locked_claim(session, event_id, claim_id, now)
    if claim.status == ClaimStatus.RELEASED:
        raise SlotError("This slot was released, so there is nothing to approve.")
    if claim.status == ClaimStatus.PENDING:
        claim.agenda_position = _last_position(session, event.id) + 1
        claim.status, claim.approved_at = ClaimStatus.APPROVED, now
        agenda_changed(event, now)
        session.flush()
        _queue_approved_mail(session, event, claim, now=now)
    return claim


def _queue_approved_mail(session: Session, event: Event, claim: SlotClaim, *, now: datetime) -> None:
    """"Your talk is on the agenda", with its time as the agenda stands now.

    One mail per approval: the key holds the claim's generation, and a claim leaves APPROVED only
    by being released or withdrawn, after which only a new claim (a new generation) can be
    approved. So a replayed approve sends nothing, and a talk released and then claimed and
    approved again gets a second mail, which is true news."""
    registration = _registration_of(session, event.id, claim.user_id)
    if registration is None:
        return
    slots = event_slots(session, event.id)
    item = next((i for c, i in zip(slots.approved, slots.agenda(event), strict=True) if c.id == claim.id), None)
    queue_templated_mail(
        session, kind=SLOT_APPROVED_KIND, to=claim.user.email,
        context=dict(event_mail_links(registration), claim=claim, item=item),
        dedup_key=f"{SLOT_APPROVED_KIND}:{claim.id}:{claim.generation}",
        reply_to=reply_to_organizers(session, event.group_id), now=now, event_id=event.id,
        registration_id=registration.id,
    )


def recheck_approved_mail(session: Session, mail: OutboxMail, now: datetime) -> str | None:
    """Right before sending: is the member's talk still on the agenda? A talk released or withdrawn
    before the mail went out would have it announce what is no longer true."""
    registration = session.get(Registration, mail.registration_id) if mail.registration_id else None
    if registration is None:
        return "the registration is gone"
    if session.scalar(select(SlotClaim.status).where(SlotClaim.event_id == registration.event_id,
                                                     SlotClaim.user_id == registration.user_id)) \
            != ClaimStatus.APPROVED:
        return "the talk is no longer on the agenda"
    return None


register_recheck(SLOT_APPROVED_KIND, recheck_approved_mail)


def _free(claim: SlotClaim, event: Event, now: datetime) -> None:
    if claim.status == ClaimStatus.APPROVED:
        agenda_changed(event, now)
    claim.status, claim.place, claim.agenda_position, claim.released_at = ClaimStatus.RELEASED, None, None, now


def release(session: Session, event_id: int, claim_id, *, now: datetime) -> SlotClaim:
    """The organizers give a slot back (pending or approved); the member is mailed. Twice changes nothing."""
    event, claim = _locked_claim(session, event_id, claim_id, now)
    if claim.status == ClaimStatus.RELEASED:
        return claim
    _free(claim, event, now)
    session.flush()
    registration = _registration_of(session, event.id, claim.user_id)
    if registration is not None:
        queue_templated_mail(
            session, kind="slot_released", to=claim.user.email,
            context=dict(event_mail_links(registration), claim=claim),
            dedup_key=f"slot_released:{claim.id}:{claim.generation}",
            reply_to=reply_to_organizers(session, event.group_id), now=now, event_id=event.id,
        )
    return claim


def reorder(session: Session, event_id: int, claim_id, direction: str, *, now: datetime) -> SlotClaim:
    """Move an approved talk one place up or down the agenda (at the top, up changes nothing)."""
    if direction not in ("up", "down"):
        raise SlotError("Please move a talk up or down.", status=422)
    event, claim = _locked_claim(session, event_id, claim_id, now)
    if claim.status != ClaimStatus.APPROVED:
        raise SlotError("Only approved talks are on the agenda, so only they can move.")
    order = list(session.scalars(
        select(SlotClaim).where(SlotClaim.event_id == event.id, SlotClaim.status == ClaimStatus.APPROVED)
        .order_by(SlotClaim.agenda_position, SlotClaim.id)))
    at = order.index(claim)
    to = at - 1 if direction == "up" else at + 1
    if 0 <= to < len(order):
        order[at], order[to] = order[to], order[at]
        for position, each in enumerate(order, start=1):
            each.agenda_position = position
        agenda_changed(event, now)
        session.flush()
    return claim


# --- a presenter who cancels, or withdraws their talk -----------------------------------------------


def held_slot(session: Session, event_id: int, user_id: int) -> SlotClaim | None:
    """The member's active claim (pending or approved) at the event, or None."""
    return session.scalar(select(SlotClaim).where(SlotClaim.event_id == event_id, SlotClaim.user_id == user_id,
                                                  SlotClaim.status != ClaimStatus.RELEASED))


class FreedBy(StrEnum):
    """Why a member's slot is free again: what the organizers' mail (slot_freed) says happened."""

    CANCELLED = "cancelled"  # the member cancelled their registration
    REMOVED = "removed"  # an organizer removed them from the attendees
    WITHDRAWN = "withdrawn"  # the member withdrew the talk and kept their seat


def _free_and_tell_organizers(session: Session, event: Event, claim: SlotClaim, *, now: datetime,
                              freed_by: FreedBy) -> None:
    """Free the claim (the caller holds the event's lock) and mail the group's organizers that the
    slot is free again: one mail per organizer and claim generation, whatever the reason."""
    was = claim.status
    _free(claim, event, now)
    session.flush()
    context = dict(event=event, claim=claim, was_approved=was == ClaimStatus.APPROVED,
                   removed=freed_by == FreedBy.REMOVED, withdrawn=freed_by == FreedBy.WITHDRAWN,
                   presenter=presenter_name(claim.user),
                   event_url=absolute_url("events.detail", slug=event.slug),
                   slots_url=absolute_url("slots.manage", slug=event.slug))
    for address in organizer_addresses(session, event.group_id):
        queue_templated_mail(session, kind="slot_freed", to=address, context=context,
                             dedup_key=f"slot_freed:{claim.id}:{claim.generation}:{address}", now=now,
                             event_id=event.id)


def free_slot_of(session: Session, event: Event, registration: Registration, *, now: datetime,
                 removed: bool = False) -> SlotClaim | None:
    """The registration was just cancelled (its caller holds the event's lock), by the member or,
    `removed`, by an organizer: free the member's slot, if they held one, and mail the organizers
    that it is free again."""
    claim = held_slot(session, event.id, registration.user_id)
    if claim is None:
        return None
    _free_and_tell_organizers(session, event, claim, now=now,
                              freed_by=FreedBy.REMOVED if removed else FreedBy.CANCELLED)
    return claim


@dataclass(frozen=True)
class Withdrawal:
    claim: SlotClaim
    # False for a replay (a second tap, a stale tab): that claim was withdrawn or released already.
    is_withdrawn_now: bool


def withdraw_claim(session: Session, event_id: int, claim_id, generation, *, member, now: datetime) -> Withdrawal:
    """The member gives back their own slot (pending or approved) and keeps their seat; the slot is
    free for others and the organizers are mailed as when a presenter cancels.

    `generation` is the claim's as the member's page showed it: a replayed or stale form (the talk
    withdrawn since, or released, and perhaps claimed again) withdraws nothing. Refused for anyone
    but the member who claimed it, and once the event started or was cancelled."""
    event, claim = _locked_claim(session, event_id, claim_id, now)
    if claim.user_id != member.id:
        raise SlotError("Only the member who claimed this slot can withdraw it.", status=403)
    if not claim.is_active or str(generation or "").strip() != str(claim.generation):
        return Withdrawal(claim, False)
    _free_and_tell_organizers(session, event, claim, now=now, freed_by=FreedBy.WITHDRAWN)
    return Withdrawal(claim, True)


# --- the event page ------------------------------------------------------------------------------


@dataclass
class SlotBoard:
    """What the event page's slot section shows the current member: the offers, free counts and
    agenda (everyone), their own claim and whether they have a seat (a signed-in member)."""

    slots: EventSlots
    claim: SlotClaim | None
    registration: Registration | None
    # Why nobody can claim now (started, cancelled), or None.
    closed: str | None = None


def slot_board(session: Session, event: Event, member, *, now: datetime) -> SlotBoard:
    slots = event_slots(session, event.id)
    claim = registration = None
    if member is not None and getattr(member, "is_authenticated", False) and slots.offers:
        claim = slots.claim_of(member.id)
        registration = session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                                 Registration.user_id == member.id))
    return SlotBoard(slots, claim, registration, change_problem(event, now))
