"""What the registration panel on an event page shows the current member: their registration,
place in line, personal join link and what they may do now. Drawn by the event page (events) and
redrawn by registering and cancelling (registrations)."""

from __future__ import annotations

import re

from flask_login import current_user

from webapp.db import db
from webapp.events.models import Event
from webapp.registrations import services
from webapp.registrations.going import going
from webapp.registrations.mails import may_see_meeting_link
from webapp.registrations.models import RegistrationStatus
from webapp.registrations.odds import waitlist_history
from webapp.registrations.tokens import join_url

# A paragraph organizers open with these words is meant to be read before registering.
_BEFORE_YOU_REGISTER = re.compile(r"\s*(please\s+)?read\s+(this\s+)?before\s+you\s+register\b", re.IGNORECASE)


def before_you_register_note(description: str | None) -> str | None:
    """The description's paragraph that begins "Please read before you register", if any.

    The panel shows it before the Register button: on a phone the panel comes before the
    description, and this is what organizers (and the seed) already write for such a note.
    """
    for paragraph in re.split(r"\n\s*\n", description or ""):
        if _BEFORE_YOU_REGISTER.match(paragraph):
            return paragraph.strip()
    return None


def cancel_result(outcome, status_before: RegistrationStatus) -> str:
    """Which sentence the member reads after cancelling: what happened to their seat or place."""
    if not outcome.changed:
        return "already"
    if status_before == RegistrationStatus.WAITLISTED:
        return "left_waitlist"
    return "seat_given" if outcome.promoted else "seat_freed"


def panel_context(event: Event, *, now, registration=None, position=None, error=None, accessibility_needs="",
                  needs_error=None, **state):
    """Everything the registration panel of an event page needs, for the current member.

    `position`: the member's place in line when the caller knows it already (they just joined).
    `state`: what this answer shows besides (a sent sign-in link, the cancel question, its result).
    """
    if registration is None:
        registration = services.registration_for(db.session, event.id, current_user)
    if position is None and registration is not None:
        position = services.waitlist_position(db.session, registration)
    if not accessibility_needs and registration is not None and not registration.is_active:
        # Registering again starts from what they told the organizers last time.
        accessibility_needs = registration.accessibility_needs
    waiting = registration is not None and registration.status == RegistrationStatus.WAITLISTED
    return dict(
        event=event,
        now=now,
        registration=registration,
        position=position,
        # How far this group's waitlists moved before, for someone waiting in one now.
        waitlist_history=waitlist_history(db.session, event.group_id, now) if waiting else None,
        meeting_url=join_url(registration) if may_see_meeting_link(registration, now=now) else None,
        window_problem=services.registration_window_problem(event, now),
        cancel_problem=(services.cancellation_problem(registration, event, now)
                        if registration is not None and registration.is_active else None),
        error=error,
        accessibility_needs=accessibility_needs,
        needs_error=needs_error,
        before_you_register=before_you_register_note(event.description),
        # Names only for signed-in members (this part of the page is never cached for visitors).
        going=going(db.session, event) if current_user.is_authenticated and event.status == "scheduled" else None,
        **state,
    )
