"""Who is going: the confirmed attendees who chose to show their name (Registration.show_name, off
by default) are named to other signed-in members, like Meetup's "Going" list; everyone else is
counted, never named. Organizers see everyone on the attendee list as before."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from webapp.accounts.models import User
from webapp.events.models import Event
from webapp.registrations.models import Registration, RegistrationStatus

SHOWN_MAX = 50  # a long list is a wall of names: the rest are counted


@dataclass(frozen=True)
class Going:
    names: list[str]   # in the order they registered
    others: int        # confirmed attendees not named

    @property
    def total(self) -> int:
        return len(self.names) + self.others


def going(session: Session, event: Event) -> Going:
    """The names shown on `event`'s Going list and how many others are going (one query)."""
    names = list(session.scalars(_shown_names(), {"event_id": event.id}))
    return Going(names=names, others=max(event.confirmed_count - len(names), 0))


@functools.cache
def _shown_names():
    """The statement, built once (every Register answer and every member's event page runs it).

    The event's shown registrations are read first, then their members: planned as one join,
    PostgreSQL could take every member and probe the event's registrations for each, which its
    statistics favour just after many members signed up or many registered at once (a burst of
    500 made it 75 ms a page, on every Register answer). MATERIALIZED keeps it to the event's rows.
    """
    shown = (
        select(Registration.user_id, Registration.confirmed_at, Registration.id)
        .where(Registration.event_id == bindparam("event_id"), Registration.status == RegistrationStatus.CONFIRMED,
               Registration.show_name.is_(True))
        .cte("shown").prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        select(User.display_name).join(shown, shown.c.user_id == User.id)
        .where(User.display_name.is_not(None), User.deleted_at.is_(None))
        .order_by(shown.c.confirmed_at, shown.c.id).limit(SHOWN_MAX)
    )


def set_show_name(session: Session, registration: Registration, show: bool) -> bool:
    """The member's choice for this registration; True when it changed (a replayed POST changes nothing)."""
    if registration.show_name == show:
        return False
    registration.show_name = show
    session.flush()
    return True
