""""Still coming?": asking confirmed attendees of a full event, their answers, and the sweep.

A capped event "with a waitlist" is one with a capacity and at least one person waiting when the
question is due (STILL_COMING_HOURS before the start, or later, once a line forms). Each confirmed
attendee is asked once per registration: `still_coming_asked_at` is the sweep's memory, set by a
conditional UPDATE that a second sweep (or a duplicated task) cannot win twice, and the outbox
dedup key is the second guard. "Free my seat" is `services.cancel`, nothing else; releasing the
seats nobody answered for is `services.release_unconfirmed_seats`, under the event lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from webapp.display import format_datetime
from webapp.events.models import Event, EventStatus
from webapp.outbox.models import OutboxMail
from webapp.outbox.services import register_recheck
from webapp.registrations import services
from webapp.registrations.mails import (
    STILL_COMING_KIND,
    queue_attendee_mail,
    release_deadline,
    still_coming_delivered,
)
from webapp.registrations.models import AttendanceAnswer, Registration, RegistrationStatus
from webapp.registrations.tokens import still_coming_token
from webapp.urls import absolute_url

log = logging.getLogger(__name__)

ANSWERS = ("yes", "free")


def due_still_coming(session: Session, *, now: datetime, limit: int = 500) -> list[Registration]:
    """Confirmed registrations of capped, scheduled events with someone waiting, starting within
    STILL_COMING_HOURS, never asked and not answered.

    Left out: seats that came after the release deadline (RELEASE_UNCONFIRMED_HOURS before the
    start), whose "promoted" mail a moment ago is question enough; they are never released either.
    """
    window = timedelta(hours=current_app.config["STILL_COMING_HOURS"])
    candidates = session.scalars(
        select(Registration)
        .join(Registration.event)
        .options(joinedload(Registration.event), joinedload(Registration.user))
        .where(
            Registration.status == RegistrationStatus.CONFIRMED,
            Registration.still_coming_asked_at.is_(None),
            Registration.attendance_answer.is_(None),
            Event.status == EventStatus.SCHEDULED,
            Event.capacity.is_not(None),
            Event.waitlist_count > 0,
            Event.starts_at > now,
            Event.starts_at <= now + window,
        )
        .order_by(Event.starts_at, Registration.id)
        .limit(limit)
    )
    return [r for r in candidates if r.confirmed_at is None or r.confirmed_at < release_deadline(r.event)]


def answer_urls(registration: Registration) -> dict[str, str]:
    token = still_coming_token(registration)
    return {answer: absolute_url("registrations.still_coming_question", token=token, answer=answer)
            for answer in ANSWERS}


def queue_still_coming(session: Session, registrations: list[Registration], *, now: datetime) -> list[OutboxMail]:
    """Ask each of these registrations once; those another sweep asked first are skipped."""
    if not registrations:
        return []
    # The claim: only rows still unasked are updated, so two sweeps at once ask each person once
    # (on PostgreSQL the second UPDATE waits for the first's commit, then finds them asked).
    won = set(session.scalars(
        update(Registration)
        .where(Registration.id.in_([r.id for r in registrations]), Registration.still_coming_asked_at.is_(None))
        .values(still_coming_asked_at=now)
        .returning(Registration.id)
        .execution_options(synchronize_session=False)
    ))
    mails = []
    for registration in registrations:
        if registration.id not in won:
            continue
        set_committed_value(registration, "still_coming_asked_at", now)
        event = registration.event
        urls = answer_urls(registration)
        mail = queue_attendee_mail(
            session, registration, kind=STILL_COMING_KIND, dedup_key=f"still_coming:{registration.id}",
            now=now, with_link=False, with_ics=False,
            extra=dict(yes_url=urls["yes"], free_url=urls["free"], waiting=event.waitlist_count,
                       release_at=(format_datetime(release_deadline(event))
                                   if event.is_releasing_unconfirmed_seats else None)),
        )
        if mail is not None:
            mails.append(mail)
    return mails


def queue_due_still_coming(session: Session, *, now: datetime, limit: int = 500) -> list[OutboxMail]:
    """The scheduler's sweep: ask up to `limit` due attendees. The caller commits."""
    queued = queue_still_coming(session, due_still_coming(session, now=now, limit=limit), now=now)
    if queued:
        log.info("queued %d still-coming mails", len(queued))
    return queued


def events_due_for_release(session: Session, *, now: datetime) -> list[int]:
    """Events past their release deadline with someone waiting and an unanswered seat whose
    question was delivered (looked at without the lock; `release_unconfirmed_seats` checks again
    under it, with the exact cutoff: here only "sent at least the notice before now")."""
    hours = timedelta(hours=current_app.config["RELEASE_UNCONFIRMED_HOURS"])
    notice = timedelta(hours=current_app.config["STILL_COMING_NOTICE_HOURS"])
    return list(session.scalars(
        select(Event.id).distinct()
        .join(Registration, Registration.event_id == Event.id)
        .where(
            Event.is_releasing_unconfirmed_seats.is_(True),
            Event.status == EventStatus.SCHEDULED,
            Event.capacity.is_not(None),
            Event.waitlist_count > 0,
            Event.starts_at > now,
            Event.starts_at <= now + hours,
            Registration.status == RegistrationStatus.CONFIRMED,
            Registration.still_coming_asked_at.is_not(None),
            Registration.attendance_answer.is_(None),
            Registration.released_at.is_(None),
            still_coming_delivered(by=now - notice),
        )
        .order_by(Event.id)
    ))


@dataclass
class Answer:
    """What an answer did. `cancelled`: the Outcome of "Free my seat" (services.cancel).
    `seat_back`: a "yes" after their seat was released found a free seat and took it."""

    registration: Registration
    answer: str
    changed: bool
    cancelled: services.Outcome | None = None
    status_before: RegistrationStatus | None = None
    promoted: list[Registration] = field(default_factory=list)
    seat_back: bool = False


def answer_still_coming(session: Session, registration: Registration, answer: str, *, now: datetime,
                        generation: int | None = None) -> Answer:
    """Record the member's answer. "free" is exactly a cancellation (the same function, the same
    promotion and mails); "yes" keeps the seat and tells the organizers. A replayed answer changes
    nothing (changed=False). RegistrationError when the event started or was cancelled."""
    if answer not in ANSWERS:
        raise services.RegistrationError("We didn’t understand that answer.", status=404)
    status_before = registration.status
    if answer == "free":
        outcome = services.cancel(session, registration, now=now, generation=generation)
        if outcome.changed:
            registration.attendance_answer = AttendanceAnswer.FREED
            registration.answered_at = now
            session.flush()
        return Answer(registration, answer, outcome.changed, cancelled=outcome, status_before=status_before,
                      promoted=outcome.promoted)
    event = services.lock_event(session, registration.event_id)
    session.refresh(registration)
    if (generation is not None and registration.generation != generation) or not registration.is_active:
        return Answer(registration, answer, False, status_before=status_before)
    if problem := services.cancellation_problem(registration, event, now):
        raise services.RegistrationError(problem)
    if registration.attendance_answer == AttendanceAnswer.YES:
        return Answer(registration, answer, False, status_before=status_before)
    released_waiting = registration.status == RegistrationStatus.WAITLISTED and registration.released_at is not None
    if registration.status != RegistrationStatus.CONFIRMED and not released_waiting:
        # Waiting in line without ever being released: there is no seat to be still coming to.
        return Answer(registration, answer, False, status_before=status_before)
    registration.attendance_answer = AttendanceAnswer.YES
    registration.answered_at = now
    session.flush()
    # Released and coming after all: a free seat is theirs at once (under this lock); otherwise
    # they stay first in line, and later releases no longer pass over them. Nobody's seat is taken.
    seat_back = released_waiting and services.reseat_released(session, event, registration, now=now)
    return Answer(registration, answer, True, status_before=status_before, seat_back=seat_back)


def may_answer(registration: Registration | None) -> bool:
    """Whether the event page and My events offer "Yes, I'll be there": asked and no answer, and
    confirmed, or waiting in line because their seat was released."""
    return (registration is not None and registration.still_coming_asked_at is not None
            and registration.attendance_answer is None
            and (registration.status == RegistrationStatus.CONFIRMED
                 or (registration.status == RegistrationStatus.WAITLISTED and registration.released_at is not None)))


def recheck_still_coming(session: Session, mail: OutboxMail, now: datetime) -> str | None:
    """Right before sending: still confirmed, unanswered, and the event still ahead? Else why not."""
    registration = session.get(Registration, mail.registration_id, populate_existing=True) \
        if mail.registration_id else None
    if registration is None:
        return "the registration is gone"
    if registration.status != RegistrationStatus.CONFIRMED:
        return "the registration is no longer confirmed"
    if registration.attendance_answer is not None:
        return "they answered already"
    event = registration.event
    if event.status != EventStatus.SCHEDULED:
        return "the event was cancelled"
    if now >= event.starts_at:
        return "the event has started"
    return None


register_recheck(STILL_COMING_KIND, recheck_still_coming)
