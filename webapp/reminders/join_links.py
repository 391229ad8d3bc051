"""Personal join links: /join/<token> lets a confirmed attendee through to the meeting.

It lives in reminders/ because the data it keeps lives here: every use is a `join_visits` row
(webapp.reminders.models), the /join route is this package's blueprint, and the link opens with
the reminder window (a reminder is what carries it). The token itself is the registration's
(webapp.registrations.tokens), which this module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.events.models import EventStatus
from webapp.registrations.mails import reminder_window
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.tokens import read_join_token
from webapp.reminders.models import JoinVisit


@dataclass
class JoinAttempt:
    outcome: str  # "joined", or why not
    registration: Registration | None
    meeting_url: str | None = None


JOIN_REFUSALS = {
    "unknown": "This join link isn’t valid.",
    "not_confirmed": "This join link no longer works: the registration it belongs to was cancelled or "
                     "isn’t confirmed.",
    "event_cancelled": "This event was cancelled.",
    "too_early": "The meeting link opens the day before the event. Please come back then.",
    "ended": "This event has ended.",
    "no_link": "The organizers haven’t added a meeting link yet. Please check the event page.",
    "zoom_pending": "Your personal Zoom link isn’t ready yet: Zoom is still registering you. "
                    "Please try again in a few minutes.",
}


def meeting_url_for(registration: Registration) -> str | None:
    """Where the link lets its owner through: their own Zoom join URL when the site made the
    meeting (webapp/zoom; None until Zoom registered them), else the pasted meeting link."""
    event = registration.event
    if event.is_zoom_meeting:
        return registration.zoom_join_url
    return event.meeting_url


def use_join_link(session: Session, token: str, *, now: datetime) -> JoinAttempt:
    """Let the link's owner through to the meeting if they may join now; record every use."""
    ids = read_join_token(token)
    registration = session.get(Registration, ids[0]) if ids else None
    if registration is None:
        return JoinAttempt("unknown", None)
    event = registration.event
    if registration.status != RegistrationStatus.CONFIRMED or registration.generation != ids[1]:
        outcome = "not_confirmed"
    elif event.status != EventStatus.SCHEDULED:
        outcome = "event_cancelled"
    elif now < event.starts_at - reminder_window():
        outcome = "too_early"
    elif now >= event.ends_at:
        outcome = "ended"
    elif not event.has_meeting_link:
        outcome = "no_link"
    elif not meeting_url_for(registration):
        outcome = "zoom_pending"
    else:
        outcome = "joined"
    session.add(JoinVisit(registration_id=registration.id, used_at=now, outcome=outcome))
    session.flush()
    return JoinAttempt(outcome, registration, meeting_url_for(registration) if outcome == "joined" else None)


def join_visits(session: Session, event_id: int) -> list[JoinVisit]:
    """Who used their join link for this event, and when (for the organizers' pages)."""
    return list(
        session.scalars(
            select(JoinVisit).join(JoinVisit.registration)
            .where(Registration.event_id == event_id)
            .order_by(JoinVisit.used_at)
        )
    )
