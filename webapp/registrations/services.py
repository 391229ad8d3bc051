"""Registering, waiting in line, cancelling and promotion: the one place capacity is decided.

Every operation takes the event's lock first, so concurrent requests on any number of web
processes queue up on that one row and never overbook. Each operation also queues the mail its
outcome sends (to the member, and to everyone a freed seat promoted) in the same transaction, so
the Register button, the sign-in intent, the mail's cancel link, organizers, CLI and tasks all
send the same mails from one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from webapp.db import lock_row
from webapp.events.models import Event, EventStatus
from webapp.refusals import Refusal
from webapp.registrations.mails import (
    queue_registration_mail,
    queue_seat_released_mail,
    release_deadline,
    still_coming_answer_cutoff,
    still_coming_delivered,
)
from webapp.registrations.models import Registration, RegistrationStatus, WaitlistPromotion
from webapp.slots.services import free_slot_of
from webapp.validators import too_long_message
from webapp.zoom import services as zoom

ACCESSIBILITY_NEEDS_MAX = 1000


class RegistrationError(Refusal):
    """Registration refused: the window is closed, the event cancelled, the input too long."""


@dataclass
class Outcome:
    registration: Registration
    promoted: list[Registration]
    # False when the call changed nothing (registered already, or cancelled already).
    changed: bool = True
    # The place in line of a member who just joined the waitlist (they are last).
    position: int | None = None
    # A seat given by hand that needed one more: the capacity before and after.
    capacity_raised: tuple[int, int] | None = None
    # The event as the lock returned it. Holding it keeps it in the session (whose identity map
    # holds unchanged objects weakly), so the mail and the page use it without loading it again.
    event: Event | None = None


def lock_event(session: Session, event_id: int) -> Event:
    """Take the event's row lock for the rest of the transaction and return it fresh.

    A no-op UPDATE is the lock: a row lock on PostgreSQL, the database write lock on SQLite
    (where SELECT ... FOR UPDATE does not exist). Must run inside the caller's transaction.
    """
    event = lock_row(session, Event, event_id, Event.confirmed_count)
    if event is None:
        raise RegistrationError("We couldn’t find that event.", status=404)
    return event


def registration_window_problem(event: Event, now: datetime) -> str | None:
    """Why registration is not possible right now, or None when it is."""
    if event.status == EventStatus.CANCELLED:
        return "This event was cancelled, so registration is closed."
    if event.status != EventStatus.SCHEDULED:
        return "This event is not open for registration."
    if now >= event.starts_at:
        return "This event has already started, so registration is closed."
    if event.registration_opens_at and now < event.registration_opens_at:
        return "Registration has not opened yet."
    if now >= event.registration_closes():
        return "Registration for this event has closed."
    return None


def cancellation_problem(registration: Registration, event: Event, now: datetime) -> str | None:
    """Why the member can't cancel this registration now, or None when they can.

    The one rule the event page, "My events", the mail's cancel link and `cancel` all ask: a
    member may cancel until the event starts. Until then a freed seat goes to the next in line;
    from the start promotion stops, so cancelling would give nobody a seat, and after the end
    the registration (and its check-in) is the attendance record.
    """
    if not registration.is_active:
        return "This registration is already cancelled."
    if event.status == EventStatus.CANCELLED:
        return "This event was cancelled, so there is no registration left to cancel."
    if now >= event.ends_at:
        return "This event has ended, so the registration can no longer be cancelled."
    if now >= event.starts_at:
        return "This event has started, so the registration can no longer be cancelled."
    return None


def accessibility_needs_problem(text: str | None) -> str | None:
    """Why these accessibility needs can't be kept as typed, or None when they can."""
    text = (text or "").strip()
    if len(text) > ACCESSIBILITY_NEEDS_MAX:
        return too_long_message("Accessibility needs", ACCESSIBILITY_NEEDS_MAX, len(text))
    return None


def checked_accessibility_needs(text: str | None) -> str:
    """The needs as kept (stripped); RegistrationError, for that field, when they can't be."""
    if problem := accessibility_needs_problem(text):
        # The page shows this next to that field.
        raise RegistrationError(problem, 422, field="accessibility_needs")
    return (text or "").strip()


def change_accessibility_needs(session: Session, registration: Registration, text: str, *,
                               now: datetime) -> bool:
    """The member adds or changes their needs after registering; organizers see when.
    False when nothing changed (the same text again)."""
    text = checked_accessibility_needs(text)
    session.refresh(registration)
    if not registration.is_active:
        raise RegistrationError("This registration is cancelled, so there are no needs to change.")
    if text == registration.accessibility_needs:
        return False
    registration.accessibility_needs = text
    registration.accessibility_needs_updated_at = now
    session.flush()
    return True


def _has_free_seat(event: Event) -> bool:
    # The waitlist comes first: while anyone waits, a newcomer joins the line.
    if event.capacity is None:
        return True
    return event.confirmed_count < event.capacity and event.waitlist_count == 0


def _confirm(event: Event, registration: Registration, now: datetime) -> None:
    event.confirmed_count += 1
    registration.status = RegistrationStatus.CONFIRMED
    registration.confirmed_at = now


def _record_promotion(session: Session, event: Event, registration: Registration, *, position: int,
                      by_hand: bool, now: datetime) -> None:
    """The durable record that this seat went to the waitlist (the group's waitlist history counts these)."""
    session.add(WaitlistPromotion(event_id=event.id, registration_id=registration.id, position=position,
                                  is_by_hand=by_hand, promoted_at=now))


def register(
    session: Session,
    event_id: int,
    *,
    member,
    accessibility_needs: str = "",
    show_name: bool = False,
    now: datetime,
    mail: bool = True,
) -> Outcome:
    """Give the member a seat, or a place on the waitlist when the event is full, and queue the
    mail that says which ("confirmed", or "waitlisted" with the place in line).

    Registering again while registered changes nothing and sends nothing (a double click is harmless).
    `mail=False`: the caller sends one mail for many of these (a whole series, webapp/series).
    """
    accessibility_needs = checked_accessibility_needs(accessibility_needs)
    event = lock_event(session, event_id)
    registration = session.scalar(
        select(Registration).where(
            Registration.event_id == event.id, Registration.user_id == member.id
        )
    )
    if registration is not None and registration.is_active:
        return Outcome(registration, [], changed=False, event=event)
    problem = registration_window_problem(event, now)
    if problem:
        raise RegistrationError(problem)

    registration = take_place(session, event, registration, user_id=member.id,
                              accessibility_needs=accessibility_needs, now=now)
    registration.show_name = show_name
    session.flush()
    if registration.status == RegistrationStatus.WAITLISTED:
        position = event.waitlist_count
        if mail:
            queue_registration_mail(session, registration, "waitlisted", now=now, position=position)
    else:
        position = None
        if mail:
            queue_registration_mail(session, registration, "confirmed", now=now)
        zoom.seats_taken(session, event, [registration], now=now)
    return Outcome(registration, [], position=position, event=event)


def take_place(session: Session, event: Event, registration: Registration | None, *, user_id: int,
               accessibility_needs: str = "", now: datetime) -> Registration:
    """A seat, or the next place in line when the event is full: the step of `register` once the
    caller holds the event's lock and has checked that registration is open and the member's
    registration (None, or cancelled) is not active. Nothing flushed, nothing mailed."""
    if registration is None:
        registration = Registration(event_id=event.id, user_id=user_id, created_at=now)
        session.add(registration)
    else:
        registration.generation += 1
        registration.cancelled_at = None
        registration.cancelled_by_id = None
        registration.checked_in_at = None
        # A released seat belongs to the activation that held it: registering again joins the
        # line like anyone, never among the released at its head.
        registration.released_at = None
    registration.accessibility_needs = accessibility_needs
    registration.accessibility_needs_updated_at = None
    if _has_free_seat(event):
        _confirm(event, registration, now)
        registration.waitlisted_at = None
    else:
        registration.status = RegistrationStatus.WAITLISTED
        registration.waitlisted_at = now
        registration.queue_number = event.next_queue_number
        event.next_queue_number += 1
        event.waitlist_count += 1
    return registration


def cancel(session: Session, registration: Registration, *, now: datetime,
           generation: int | None = None, mail: bool = True) -> Outcome:
    """Give up a seat or a place in line; a freed seat goes to the head of the line at once.
    Mails the member ("cancelled") and everyone promoted.

    Cancelling again changes nothing (a double click is harmless); after the start it is refused.
    With `generation` (a mail's cancel link), only that registration: if the member cancelled and
    registered again meanwhile, nothing changes. `mail=False`: the member is told by the caller in
    one mail for many (a whole series); those promoted are mailed all the same.
    """
    event = lock_event(session, registration.event_id)
    session.refresh(registration)
    if registration.status == RegistrationStatus.CANCELLED or (
        generation is not None and registration.generation != generation
    ):
        return Outcome(registration, [], changed=False, event=event)
    if problem := cancellation_problem(registration, event, now):
        raise RegistrationError(problem)
    return _give_up(session, event, registration, now=now, mail="cancelled" if mail else None)


def _give_up(session: Session, event: Event, registration: Registration, *, now: datetime, mail: str | None,
             by=None) -> Outcome:
    """Cancel an active registration (the caller holds the lock), send the member the `mail` kind
    ("cancelled" or "removed"), and fill the freed seat."""
    had_seat = registration.status == RegistrationStatus.CONFIRMED
    if had_seat:
        event.confirmed_count -= 1
    else:
        event.waitlist_count -= 1
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = now
    registration.cancelled_by_id = by.id if by is not None else None
    session.flush()
    if mail:
        queue_registration_mail(session, registration, mail, now=now)
    if had_seat:  # the waitlisted were never Zoom registrants
        zoom.seats_given_up(session, event, [registration], now=now)
    # A presenter without a seat holds no slot: it is free again, and the organizers are told.
    free_slot_of(session, event, registration, now=now, removed=by is not None)
    promoted = promote_from_waitlist(session, event, now=now)
    return Outcome(registration, promoted, event=event)


def _locked_registration(session: Session, event_id: int, registration_id: int) -> tuple[Event, Registration]:
    """The event (locked) and one of its registrations, fresh; someone else's event's is not found."""
    event = lock_event(session, event_id)
    registration = session.get(Registration, registration_id, populate_existing=True)
    if registration is None or registration.event_id != event.id:
        raise RegistrationError("We couldn’t find that registration for this event.", status=404)
    return event, registration


def organizer_change_problem(event: Event, now: datetime) -> str | None:
    """Why organizers can't remove people or give seats by hand now, or None when they can."""
    if event.status != EventStatus.SCHEDULED:
        return "This event isn’t scheduled, so its attendees can’t be changed."
    if now >= event.starts_at:
        return "This event has started, so its attendees can no longer be changed."
    return None


def remove(session: Session, event_id: int, registration_id: int, *, actor, now: datetime) -> Outcome:
    """An organizer removes someone (seat or place in line); the freed seat goes to the next in line.
    Mails the person removed ("removed") and everyone promoted.

    Removing someone already cancelled changes nothing and sends nothing (a double click is harmless).
    """
    event, registration = _locked_registration(session, event_id, registration_id)
    if registration.status == RegistrationStatus.CANCELLED:
        return Outcome(registration, [], changed=False)
    if problem := organizer_change_problem(event, now):
        raise RegistrationError(problem)
    return _give_up(session, event, registration, now=now, mail="removed", by=actor)


def promote_by_hand(session: Session, event_id: int, registration_id: int, *, expected_capacity: int | None,
                    now: datetime) -> Outcome:
    """An organizer gives a seat to someone on the waitlist, out of turn.

    The rule: a free seat is theirs as it is (under the waitlist-first rule one is free only for a
    moment); otherwise the capacity goes up by exactly one, which the organizer's button said
    ("capacity 20 → 21"). `expected_capacity` is the capacity that button showed: if it has
    changed since, nothing happens and the organizer looks again. The others keep their order.
    The member gets the "promoted" mail. Giving a seat to someone who has one changes nothing
    (a double tap is harmless).
    """
    event, registration = _locked_registration(session, event_id, registration_id)
    if registration.status == RegistrationStatus.CONFIRMED:
        return Outcome(registration, [], changed=False)
    if registration.status != RegistrationStatus.WAITLISTED:
        raise RegistrationError("Only someone on the waitlist can be given a seat.")
    if problem := organizer_change_problem(event, now):
        raise RegistrationError(problem)
    raised = None
    if event.capacity is not None and event.confirmed_count >= event.capacity:
        if expected_capacity != event.capacity:
            raise RegistrationError(
                f"The capacity changed to {event.capacity} in the meantime, so nothing was changed. "
                "Please look at the list again."
            )
        raised = (event.capacity, event.capacity + 1)
        event.capacity += 1
    _record_promotion(session, event, registration, position=waitlist_position(session, registration),
                      by_hand=True, now=now)
    event.waitlist_count -= 1
    _confirm(event, registration, now)
    session.flush()
    queue_registration_mail(session, registration, "promoted", now=now)
    zoom.seats_taken(session, event, [registration], now=now)
    return Outcome(registration, [registration], capacity_raised=raised)


def promote_from_waitlist(session: Session, event: Event, *, now: datetime,
                          passing_over: frozenset[int] = frozenset()) -> list[Registration]:
    """Fill free seats from the head of the line, in order, mailing each one promoted.
    The caller holds the event lock. `passing_over`: registrations that just gave up their seat
    and wait at the head of the line (released seats), which must not get them straight back."""
    if now >= event.starts_at or event.status != EventStatus.SCHEDULED:
        return []  # promotion stops when the event starts
    free = None if event.capacity is None else event.capacity - event.confirmed_count
    if free is not None and free <= 0:
        return []
    query = (
        select(Registration)
        .where(
            Registration.event_id == event.id,
            Registration.status == RegistrationStatus.WAITLISTED,
            Registration.id.not_in(passing_over),
        )
        .order_by(Registration.queue_number)
    )
    if free is not None:
        query = query.limit(free)
    promoted = list(session.scalars(query))
    for position, registration in enumerate(promoted, start=1):
        _record_promotion(session, event, registration, position=position, by_hand=False, now=now)
        _confirm(event, registration, now)
        event.waitlist_count -= 1
    session.flush()
    for registration in promoted:
        queue_registration_mail(session, registration, "promoted", now=now)
    zoom.seats_taken(session, event, promoted, now=now)
    return promoted


@dataclass
class Release:
    """What a release did: who moved to the waitlist, and who got their seats."""

    released: list[Registration]
    promoted: list[Registration]


def release_unconfirmed_seats(session: Session, event_id: int, *, now: datetime) -> Release | None:
    """At the release deadline, the seats of confirmed attendees who did not answer "Still coming?"
    go to the people waiting; None when there is nothing to release.

    Only for an event whose organizers turned it on, from RELEASE_UNCONFIRMED_HOURS before the
    start until it starts, and only those whose question reached them: its outbox mail `sent`
    (not queued, retrying or failed) STILL_COMING_NOTICE_HOURS before that deadline, so nobody
    loses a seat over a mail stuck in the outbox or one that came a minute ago. Never more seats
    than people waiting who would take them (a seat nobody takes stays with its holder), the most
    recent seats first. The released move to the head of the line, behind those released before
    them (the line reads: the released in release order, each batch in registration order, then
    everyone else in their order). The freed seats go down the line as after any cancellation,
    passing over the released who have not answered (who would otherwise get their own seats, or
    each other's, straight back). Each released member is mailed once ("seat_released");
    `released_at` keeps a registration from being released twice.
    """
    event = lock_event(session, event_id)
    deadline = release_deadline(event)
    if not (event.is_releasing_unconfirmed_seats and event.status == EventStatus.SCHEDULED
            and event.capacity is not None and deadline <= now < event.starts_at):
        return None
    # Released earlier and still silent: they wait first in line, but a seat freed by releasing
    # someone else's would only move a seat between two people who did not answer.
    silent_released = frozenset(session.scalars(
        select(Registration.id).where(
            Registration.event_id == event.id,
            Registration.status == RegistrationStatus.WAITLISTED,
            Registration.released_at.is_not(None),
            Registration.attendance_answer.is_(None),
        )
    ))
    takers = event.waitlist_count - len(silent_released)
    unanswered = list(session.scalars(
        select(Registration).where(
            Registration.event_id == event.id,
            Registration.status == RegistrationStatus.CONFIRMED,
            Registration.attendance_answer.is_(None),
            Registration.released_at.is_(None),
            still_coming_delivered(by=still_coming_answer_cutoff(event)),
        ).order_by(Registration.confirmed_at.desc(), Registration.id.desc()).limit(takers)
    )) if takers > 0 else []
    if not unanswered:
        return None
    # Each batch in registration order: when they joined the line, or got a seat at once.
    released = sorted(unanswered, key=lambda r: (r.waitlisted_at or r.confirmed_at, r.id))
    _put_at_head_of_line(session, event, released)
    for registration in released:
        registration.status = RegistrationStatus.WAITLISTED
        registration.waitlisted_at = now
        registration.released_at = now
    event.confirmed_count -= len(released)
    event.waitlist_count += len(released)
    session.flush()
    zoom.seats_given_up(session, event, released, now=now)
    promoted = promote_from_waitlist(session, event, now=now,
                                     passing_over=silent_released | frozenset(r.id for r in released))
    for registration in released:
        queue_seat_released_mail(session, registration, position=waitlist_position(session, registration), now=now)
    return Release(released, promoted)


def _put_at_head_of_line(session: Session, event: Event, released: list[Registration]) -> None:
    """Number a new release batch into the line behind those released before it and ahead of
    everyone else. The released still waiting and then this batch get fresh numbers below every
    number the event handed out (unique per event), so no two rows ever share one, even midway."""
    earlier = list(session.scalars(
        select(Registration).where(
            Registration.event_id == event.id,
            Registration.status == RegistrationStatus.WAITLISTED,
            Registration.released_at.is_not(None),
        ).order_by(Registration.queue_number)
    ))
    lowest = session.scalar(select(func.min(Registration.queue_number)).where(Registration.event_id == event.id))
    head = min(lowest if lowest is not None else 1, 1)
    front = earlier + released
    for offset, registration in enumerate(front):
        registration.queue_number = head - len(front) + offset


def reseat_released(session: Session, event: Event, registration: Registration, *, now: datetime) -> bool:
    """A released member who says they're coming after all gets a seat back at once if one is
    free and nobody waits ahead of them; never anyone else's. The caller holds the event's lock.
    Mails them "promoted" when they do; False when they stay in line."""
    if registration.status != RegistrationStatus.WAITLISTED or registration.released_at is None:
        return False
    if event.capacity is not None and event.confirmed_count >= event.capacity:
        return False
    if waitlist_position(session, registration) != 1:
        return False
    event.waitlist_count -= 1
    _confirm(event, registration, now)
    session.flush()
    queue_registration_mail(session, registration, "promoted", now=now)
    return True


def change_capacity(session: Session, event_id: int, capacity: int | None, *, now: datetime) -> list[Registration]:
    """Set a new capacity (None for unlimited); raising it promotes from the waitlist (and mails them)."""
    event = lock_event(session, event_id)
    if capacity is not None and capacity < 1:
        raise RegistrationError("Capacity must be at least 1, or blank for no limit.", 422)
    if capacity is not None and capacity < event.confirmed_count:
        raise RegistrationError(
            f"{event.confirmed_count} people are already confirmed; capacity can’t go below that.",
            422,
        )
    event.capacity = capacity
    session.flush()
    return promote_from_waitlist(session, event, now=now)


def waitlist_position(session: Session, registration: Registration) -> int | None:
    """1 for the head of the line; None when not waiting."""
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    ahead = session.scalar(
        select(func.count(Registration.id)).where(
            Registration.event_id == registration.event_id,
            Registration.status == RegistrationStatus.WAITLISTED,
            Registration.queue_number < registration.queue_number,
        )
    )
    return (ahead or 0) + 1


def waitlist_positions(session: Session, rows: list[Registration]) -> dict[int, int]:
    """waitlist_position of many registrations (each of another event) in one query: registration
    id -> place in line, for those waiting."""
    waiting = {r.id: r for r in rows if r.status == RegistrationStatus.WAITLISTED}
    if not waiting:
        return {}
    ahead = aliased(Registration)
    counts = dict(session.execute(
        select(Registration.id, func.count(ahead.id))
        .outerjoin(ahead, (ahead.event_id == Registration.event_id)
                   & (ahead.status == RegistrationStatus.WAITLISTED)
                   & (ahead.queue_number < Registration.queue_number))
        .where(Registration.id.in_(list(waiting))).group_by(Registration.id)).all())
    return {reg_id: counts.get(reg_id, 0) + 1 for reg_id in waiting}


def registration_for(session: Session, event_id: int, member) -> Registration | None:
    if member is None or not getattr(member, "is_authenticated", False):
        return None
    return registration_for_id(session, event_id, member.id)


def registration_for_id(session: Session, event_id: int, user_id: int) -> Registration | None:
    return session.scalar(
        select(Registration).where(Registration.event_id == event_id, Registration.user_id == user_id)
    )
