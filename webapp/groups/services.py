"""Finding groups for the directory and their pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group, GroupOrganizer


@dataclass
class GroupListing:
    group: Group
    upcoming_count: int
    next_starts_at: datetime | None


def list_groups(session: Session, *, now: datetime, with_organizers: bool = True) -> list[GroupListing]:
    """Every group with its upcoming-event count and next date, in a fixed number of queries.

    The directory shows organizers; the home page does not, and skips that query.
    """
    upcoming = (
        select(
            Event.group_id,
            func.count(Event.id).label("upcoming_count"),
            func.min(Event.starts_at).label("next_starts_at"),
        )
        .where(Event.status == EventStatus.SCHEDULED, Event.ends_at >= now)
        .group_by(Event.group_id)
        .subquery()
    )
    query = (
        select(Group, upcoming.c.upcoming_count, upcoming.c.next_starts_at)
        .outerjoin(upcoming, upcoming.c.group_id == Group.id)
        .order_by(Group.is_active.desc(), Group.name)
    )
    if with_organizers:
        query = query.options(selectinload(Group.organizers))
    rows = session.execute(query).all()
    return [
        GroupListing(group=g, upcoming_count=count or 0, next_starts_at=nxt)
        for g, count, nxt in rows
    ]


def get_group_by_slug(session: Session, slug: str) -> Group | None:
    return session.scalar(
        select(Group).options(selectinload(Group.organizers)).where(Group.slug == slug)
    )


def group_choices(session: Session) -> list[tuple[str, str]]:
    return [(slug, name) for slug, name in session.execute(select(Group.slug, Group.name).order_by(Group.name))]


def organizer_addresses(session: Session, group_id: int | None) -> list[str]:
    """The organizers' mail addresses we know (their account's, else the one they were invited at).

    Takes the group's id, so callers holding only an event (event.group_id) load no group for it.
    """
    if group_id is None:
        return []
    from webapp.accounts.models import User

    rows = session.execute(
        select(GroupOrganizer.email, User.email)
        .outerjoin(User, User.id == GroupOrganizer.user_id)
        .where(GroupOrganizer.group_id == group_id)
        .order_by(GroupOrganizer.position)
    ).all()
    addresses: list[str] = []
    for invited, account in rows:
        address = account or invited
        if address and address not in addresses:
            addresses.append(address)
    return addresses


def reply_to_organizers(session: Session, group_id: int | None) -> str | None:
    """A Reply-To header value: replies to event mail reach the people who run the group."""
    return ", ".join(organizer_addresses(session, group_id)) or None
