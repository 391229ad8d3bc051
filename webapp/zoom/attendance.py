"""Attendance from Zoom: who joined a Zoom meeting the site made, and for how long, fills check-in.

Two sources, one rule:
- Zoom's participant report after the event (an `import_attendance` intent the sweep queues once
  the meeting is over), which is the full account: it sets each attendee's first join and total time;
- the `meeting.participant_joined` / `meeting.participant_left` webhook while the meeting runs
  (signature checked in views.py), which only ever moves the first join earlier and the time up,
  so a repeated or late delivery changes nothing.
The first news that someone joined checks them in (at their join time), unless an organizer
already did; after that only organizers change the check-in: an organizer's correction stands.
A participant is matched to a confirmed registration by Zoom's registrant id, else by address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.accounts.models import User
from webapp.events.models import Event
from webapp.registrations.models import Registration, RegistrationStatus


@dataclass(frozen=True)
class Stay:
    """One stretch of one participant in the meeting, as Zoom reports it."""

    registrant_id: str | None
    email: str | None
    joined_at: datetime | None
    left_at: datetime | None = None
    seconds: int | None = None


def zoom_time(value: str | None) -> datetime | None:
    """Zoom's "2026-12-03T23:02:11Z" as an aware UTC datetime (None when missing or unreadable)."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def stay_from(participant: dict) -> Stay:
    """A report row or a webhook's participant object as a Stay."""
    duration = participant.get("duration")
    registrant_id = participant.get("registrant_id")
    return Stay(  # whatever a webhook body holds: only strings and numbers are taken
        registrant_id=str(registrant_id) if isinstance(registrant_id, (str, int)) and registrant_id else None,
        email=str(participant.get("user_email") or participant.get("email") or "").strip().lower()[:320] or None,
        joined_at=zoom_time(participant.get("join_time")),
        left_at=zoom_time(participant.get("leave_time")),
        seconds=int(duration) if isinstance(duration, (int, float)) else None,
    )


def _registrations_by_match(session: Session, event_id: int) -> tuple[dict, dict]:
    rows = session.execute(
        select(Registration, func.lower(User.email)).join(User, User.id == Registration.user_id)
        .where(Registration.event_id == event_id, Registration.status == RegistrationStatus.CONFIRMED)
    ).all()
    by_registrant = {r.zoom_registrant_id: r for r, _ in rows if r.zoom_registrant_id}
    by_email = {email: r for r, email in rows}
    return by_registrant, by_email


def _match(stay: Stay, by_registrant: dict, by_email: dict) -> Registration | None:
    return (by_registrant.get(stay.registrant_id) if stay.registrant_id else None) or (
        by_email.get(stay.email) if stay.email else None)


def _write(session: Session, registration: Registration, joined_at: datetime | None, seconds: int | None) -> None:
    values = {"zoom_joined_at": joined_at, "zoom_seconds": seconds}
    if registration.zoom_joined_at is None and registration.checked_in_at is None and joined_at is not None:
        values["checked_in_at"] = joined_at  # the first news: checked in, at the time they joined
    session.execute(update(Registration).where(Registration.id == registration.id).values(**values)
                    .execution_options(synchronize_session=False))


def import_report(session: Session, event: Event, participants: list[dict]) -> int:
    """Zoom's participant report of the event's meeting: each matched attendee's first join and
    total time, as the report says; how many attendees it found."""
    by_registrant, by_email = _registrations_by_match(session, event.id)
    found: dict[int, tuple[Registration, datetime | None, int]] = {}
    for stay in map(stay_from, participants):
        registration = _match(stay, by_registrant, by_email)
        if registration is None:
            continue  # a guest, the host, someone who registered elsewhere: not on our list
        _, first, total = found.get(registration.id, (registration, None, 0))
        if stay.joined_at and (first is None or stay.joined_at < first):
            first = stay.joined_at
        seconds = stay.seconds if stay.seconds is not None else (
            int((stay.left_at - stay.joined_at).total_seconds()) if stay.left_at and stay.joined_at else 0)
        found[registration.id] = (registration, first, total + max(seconds, 0))
    for registration, first, total in found.values():
        _write(session, registration, first or registration.zoom_joined_at, total)
    session.flush()
    return len(found)


def record_participant_event(session: Session, meeting_id: str, participant: dict, *, left: bool) -> bool:
    """A webhook's news that someone joined (or left) the meeting; False when it is nobody of ours."""
    event = session.scalar(select(Event).where(Event.zoom_meeting_id == str(meeting_id)))
    if event is None:
        return False
    by_registrant, by_email = _registrations_by_match(session, event.id)
    stay = stay_from(participant)
    registration = _match(stay, by_registrant, by_email)
    if registration is None:
        return False
    joined_at = registration.zoom_joined_at
    if stay.joined_at and (joined_at is None or stay.joined_at < joined_at):
        joined_at = stay.joined_at
    seconds = registration.zoom_seconds
    if left and stay.left_at and joined_at:
        # The span from the first join to this leave, only ever up (the report later sets the exact total).
        seconds = max(seconds or 0, int((stay.left_at - joined_at).total_seconds()))
    _write(session, registration, joined_at, seconds)
    session.flush()
    return True
