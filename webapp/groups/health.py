"""Group health for program staff: every group's last and next event, its organizers and followers,
what it held in the last twelve months and whether it has gone dormant.

One query whatever the number of groups or events (each figure a correlated aggregate), sorted and
filtered in SQL through a whitelist, so the page and its CSV export list exactly the same rows.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from webapp.events.models import Event, EventStatus
from webapp.follows.models import GroupFollow
from webapp.groups.models import Group, GroupOrganizer
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.validators import clean_query

YEAR_MONTHS = 12

# The columns one may sort by (the URL's `sort`), in the table's order, with their headers.
SORT_COLUMNS = {
    "name": "Group",
    "last": "Last event held",
    "next": "Next event",
    "organizers": "Organizers",
    "followers": "Followers",
    "events": "Events held (12 months)",
    "attendance": "Attendance (12 months)",
    "dormant": "Dormant",
}
SHOW_CHOICES = {"all": "All groups", "dormant": "Dormant only", "active": "Active only"}


@dataclass(frozen=True)
class HealthQuery:
    """What the page shows: sorted by `sort` (a key of SORT_COLUMNS), `show` (a key of
    SHOW_CHOICES), and groups whose name contains `q`."""

    sort: str = "name"
    descending: bool = False
    show: str = "all"
    q: str = ""

    @property
    def order(self) -> str:
        return "desc" if self.descending else "asc"

    def args(self, **changes) -> dict[str, str]:
        """The URL's query for this state (defaults left out), with `changes` made."""
        state = {"sort": self.sort, "order": self.order, "show": self.show, "q": self.q, **changes}
        defaults = {"sort": "name", "order": "asc", "show": "all", "q": ""}
        return {key: value for key, value in state.items() if value != defaults[key]}

    def sorted_by(self, column: str) -> HealthQuery:
        """The state a click on `column`'s header asks for: that column ascending, or the other way
        round when it is already the sort."""
        descending = not self.descending if column == self.sort else False
        return HealthQuery(sort=column, descending=descending, show=self.show, q=self.q)


def parse_health_query(args: Mapping[str, str]) -> HealthQuery:
    """The state a URL asks for; anything not on the whitelists falls back to its default."""
    sort = args.get("sort", "")
    show = args.get("show", "")
    return HealthQuery(
        sort=sort if sort in SORT_COLUMNS else "name",
        descending=args.get("order") == "desc",
        show=show if show in SHOW_CHOICES else "all",
        q=clean_query(args.get("q")),
    )


@dataclass(frozen=True)
class GroupHealth:
    slug: str
    name: str
    is_active: bool  # still listed on the Meetups page
    last_held_at: datetime | None
    next_event_slug: str | None
    next_event_title: str | None
    next_starts_at: datetime | None
    organizer_count: int
    follower_count: int
    events_held: int  # in the last twelve months
    attendance: int  # checked in at those events
    is_dormant: bool


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (31 August less six is 28 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    return moment.replace(year=year, month=month + 1, day=min(moment.day, calendar.monthrange(year, month + 1)[1]))


def group_health(session: Session, now: datetime, *, dormant_months: int,
                 query: HealthQuery = HealthQuery()) -> list[GroupHealth]:
    """Every group matching `query`, in its order, with its figures as of `now`.

    Held: a published event (not a draft, not cancelled) that has started. Dormant: nothing held
    since `dormant_months` before now (an event exactly then still counts), or never anything.
    Attendance: attendees checked in at the events held in the last twelve months.
    """
    year_ago = months_before(now, YEAR_MONTHS)
    dormant_since = months_before(now, dormant_months)
    published = and_(Event.group_id == Group.id, Event.status == EventStatus.SCHEDULED)
    held = and_(published, Event.starts_at <= now)
    held_this_year = and_(held, Event.starts_at >= year_ago)

    def scalar(statement):
        return statement.correlate(Group).scalar_subquery()

    next_event_id = scalar(select(Event.id).where(published, Event.starts_at > now)
                           .order_by(Event.starts_at, Event.id).limit(1))
    figures = (
        select(
            Group.id, Group.slug, Group.name, Group.is_active,
            scalar(select(func.max(Event.starts_at)).where(held)).label("last_held_at"),
            next_event_id.label("next_event_id"),
            scalar(select(func.count(GroupOrganizer.id)).where(GroupOrganizer.group_id == Group.id))
            .label("organizer_count"),
            scalar(select(func.count(GroupFollow.id)).where(GroupFollow.group_id == Group.id))
            .label("follower_count"),
            scalar(select(func.count(Event.id)).where(held_this_year)).label("events_held"),
            scalar(select(func.count(Registration.id)).join(Event, Registration.event_id == Event.id)
                   .where(held_this_year, Registration.status == RegistrationStatus.CONFIRMED,
                          Registration.checked_in_at.isnot(None))).label("attendance"),
        )
        .subquery("figures")
    )
    is_dormant = case(
        (or_(figures.c.last_held_at.is_(None), figures.c.last_held_at < dormant_since), 1), else_=0)
    next_event = aliased(Event, name="next_event")
    statement = (
        select(figures, next_event.slug.label("next_event_slug"), next_event.title.label("next_event_title"),
               next_event.starts_at.label("next_starts_at"), is_dormant.label("is_dormant"))
        .outerjoin(next_event, next_event.id == figures.c.next_event_id)
    )
    if query.show == "dormant":
        statement = statement.where(is_dormant == 1)
    elif query.show == "active":
        statement = statement.where(is_dormant == 0)
    if query.q:
        statement = statement.where(func.lower(figures.c.name).contains(query.q.lower(), autoescape=True))
    statement = statement.order_by(*_order(query, figures, next_event, is_dormant))
    return [
        GroupHealth(
            slug=row.slug, name=row.name, is_active=row.is_active, last_held_at=row.last_held_at,
            next_event_slug=row.next_event_slug, next_event_title=row.next_event_title,
            next_starts_at=row.next_starts_at,
            organizer_count=row.organizer_count, follower_count=row.follower_count,
            events_held=row.events_held, attendance=row.attendance, is_dormant=bool(row.is_dormant),
        )
        for row in session.execute(statement)
    ]


def _order(query: HealthQuery, figures, next_event, is_dormant) -> list:
    """ORDER BY for the whitelisted column: groups with no such date sort last either way, and
    equal values fall back to the name (then the id), so the order never depends on the database."""
    name = func.lower(figures.c.name)
    column = {
        "name": name,
        "last": figures.c.last_held_at,
        "next": next_event.starts_at,
        "organizers": figures.c.organizer_count,
        "followers": figures.c.follower_count,
        "events": figures.c.events_held,
        "attendance": figures.c.attendance,
        "dormant": is_dormant,
    }[query.sort]
    keys = [column.desc() if query.descending else column.asc()]
    if query.sort in ("last", "next"):
        keys.insert(0, case((column.is_(None), 1), else_=0))
    return [*keys, *([] if query.sort == "name" else [name]), figures.c.id]
