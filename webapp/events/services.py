"""Finding events: the listings, the search, one event by its address."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, defer, joinedload

from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group

LISTED = (EventStatus.SCHEDULED, EventStatus.CANCELLED)
FORMATS = {"online": True, "in-person": False}


SEARCH_MAX = 200


@dataclass
class EventFilters:
    """What a member can narrow the events page by; every field is a query parameter."""

    q: str = ""
    group: str = ""
    format: str = ""
    start: date | None = None
    end: date | None = None
    past: bool = False
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)
    # Set when the search was longer than SEARCH_MAX: the page says it searched for the start of it.
    q_shortened: str | None = None

    @classmethod
    def from_args(cls, args) -> EventFilters:
        typed = (args.get("q") or "").strip()
        filters = cls(
            q=typed[:SEARCH_MAX],
            group=(args.get("group") or "").strip()[:80],
            format=(args.get("format") or "").strip(),
            past=args.get("when") == "past",
        )
        if len(typed) > SEARCH_MAX:
            filters.q_shortened = (f"Search can be at most {SEARCH_MAX} characters (this had {len(typed):,}), "
                                   f"so we searched for the first {SEARCH_MAX}.")
        if filters.format not in FORMATS:
            filters.format = ""
        for name in ("start", "end"):
            raw = (args.get(name) or "").strip()
            if raw:
                try:
                    setattr(filters, name, date.fromisoformat(raw))
                except ValueError:
                    filters.errors[name] = "Use a date like 2026-12-01."
        if filters.start and filters.end and filters.end < filters.start:
            filters.errors["end"] = "The end date is before the start date."
        try:
            filters.page = max(1, min(int(args.get("page", 1)), 1000))
        except ValueError:
            filters.page = 1
        return filters

    def query_args(self, **changes) -> dict[str, str]:
        """The filters as query parameters, without empty ones, for links and load-more."""
        values = {
            "q": self.q,
            "group": self.group,
            "format": self.format,
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "when": "past" if self.past else "",
            "page": str(self.page) if self.page > 1 else "",
        }
        values.update({k: ("" if v is None else str(v)) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v}

    @property
    def is_narrowed(self) -> bool:
        return bool(self.q or self.group or self.format or self.start or self.end)


@dataclass
class EventPage:
    events: list[Event]
    total: int
    has_more: bool


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


# The lists show cards, which never show the Markdown description (the longest column by far): not
# loaded, and reading it anyway fails loudly rather than costing a query per card.
CARD_ONLY = (defer(Event.description, raiseload=True),)


def search_events(
    session: Session, filters: EventFilters, *, now: datetime, zone: ZoneInfo, page_size: int
) -> EventPage:
    """Upcoming events soonest first (or past events latest first), narrowed by the filters."""
    conditions = [Event.status.in_(LISTED)]
    if filters.past:
        conditions.append(Event.ends_at < now)
    else:
        conditions.append(Event.ends_at >= now)
    if filters.q:
        pattern = f"%{_escape_like(filters.q)}%"
        conditions.append(
            or_(
                Event.title.ilike(pattern, escape="\\"),
                Event.summary.ilike(pattern, escape="\\"),
                Event.description.ilike(pattern, escape="\\"),
                Event.venue_name.ilike(pattern, escape="\\"),
                Event.group.has(Group.name.ilike(pattern, escape="\\")),
            )
        )
    if filters.group:
        if filters.group == "metro":
            conditions.append(Event.group_id.is_(None))
        else:
            conditions.append(Event.group.has(Group.slug == filters.group))
    if filters.format:
        conditions.append(Event.is_online.is_(FORMATS[filters.format]))
    if filters.start and "start" not in filters.errors:
        conditions.append(Event.starts_at >= _local_midnight(filters.start, zone))
    if filters.end and not filters.errors:
        conditions.append(Event.starts_at < _local_midnight(filters.end + timedelta(days=1), zone))

    order = (Event.starts_at.desc(),) if filters.past else (Event.starts_at.asc(),)
    offset = (filters.page - 1) * page_size
    events = list(
        session.scalars(
            select(Event)
            .options(joinedload(Event.group), *CARD_ONLY)
            .where(*conditions)
            .order_by(*order, Event.id)
            .offset(offset)
            .limit(page_size + 1)
        )
    )
    total = session.scalar(select(func.count(Event.id)).where(*conditions)) or 0
    return EventPage(events=events[:page_size], total=total, has_more=len(events) > page_size)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def upcoming_events(session: Session, *, now: datetime, limit: int) -> list[Event]:
    return list(
        session.scalars(
            select(Event)
            .options(joinedload(Event.group), *CARD_ONLY)
            .where(Event.status.in_(LISTED), Event.ends_at >= now)
            .order_by(Event.starts_at, Event.id)
            .limit(limit)
        )
    )


def get_event_by_slug(session: Session, slug: str, *, include_drafts: bool = False) -> Event | None:
    """A published (or cancelled) event; drafts too only for callers that check the viewer organizes it."""
    statuses = (*LISTED, EventStatus.DRAFT) if include_drafts else LISTED
    return session.scalar(
        select(Event)
        .options(joinedload(Event.group))  # the event page shows the group, not its organizers
        .where(Event.slug == slug, Event.status.in_(statuses))
    )


def event_id_by_slug(session: Session, slug: str) -> int | None:
    """Only the id of a listed event: for a change that locks the event and reads it fresh anyway."""
    return session.scalar(select(Event.id).where(Event.slug == slug, Event.status.in_(LISTED)))


def get_event_by_id(session: Session, event_id: int) -> Event | None:
    return session.scalar(select(Event).where(Event.id == event_id, Event.status.in_(LISTED)))


def group_events(session: Session, group: Group, *, now: datetime, past: bool, limit: int = 50):
    query = select(Event).options(*CARD_ONLY).where(Event.group_id == group.id, Event.status.in_(LISTED))
    if past:
        query = query.where(Event.ends_at < now).order_by(Event.starts_at.desc())
    else:
        query = query.where(Event.ends_at >= now).order_by(Event.starts_at)
    return list(session.scalars(query.limit(limit)))
