"""What the registration panel on an event page shows the current member: their registration,
place in line, personal join link and what they may do now. Drawn by the event page (events) and
redrawn by registering and cancelling (registrations)."""

from __future__ import annotations

from flask_login import current_user

from webapp.db import db
from webapp.events.models import Event
from webapp.registrations import services
from webapp.registrations.mails import may_see_meeting_link
from webapp.registrations.tokens import join_url


def panel_context(event: Event, *, now, registration=None, position=None, error=None, accessibility_needs="",
                  needs_error=None):
    """Everything the registration panel of an event page needs, for the current member.

    `position`: the member's place in line when the caller knows it already (they just joined).
    """
    if registration is None:
        registration = services.registration_for(db.session, event.id, current_user)
    if position is None and registration is not None:
        position = services.waitlist_position(db.session, registration)
    return dict(
        event=event,
        now=now,
        registration=registration,
        position=position,
        meeting_url=join_url(registration) if may_see_meeting_link(registration, now=now) else None,
        window_problem=services.registration_window_problem(event, now),
        cancel_problem=(services.cancellation_problem(registration, event, now)
                        if registration is not None and registration.is_active else None),
        error=error,
        accessibility_needs=accessibility_needs,
        needs_error=needs_error,
    )
