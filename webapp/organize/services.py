"""The event operations a group's organizers (and site administrators) use; who they are is groups' rule.

Services flush and never commit; the actor and the clock are arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from webapp.events.changes import EventChangeError, EventPlace, change_event
from webapp.events.models import Event, EventStatus
from webapp.follows.services import tell_followers_of_new_event
from webapp.groups.models import Group
from webapp.groups.services import groups_organized_by
from webapp.outbox.models import OutboxMail
from webapp.refusals import FormRefusal
from webapp.registrations.models import Registration
from webapp.registrations.services import RegistrationError, change_capacity, lock_event
from webapp.slugs import unique_slug
from webapp.zoom import services as zoom

log = logging.getLogger(__name__)


# An organizer's change refused, with the form field its message belongs next to.
OrganizeError = FormRefusal


# --- events ------------------------------------------------------------------------------------------

@dataclass
class EventFields:
    """An event as the organizer's form describes it; times are aware (UTC or any zone)."""

    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    is_online: bool
    meeting_url: str | None = None
    venue_name: str | None = None
    venue_address: str | None = None
    venue_accessibility: str | None = None
    capacity: int | None = None
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    # Seats of confirmed attendees who didn't answer "Still coming?" go to the waitlist (off by default).
    is_releasing_unconfirmed_seats: bool = False
    # "Create a Zoom meeting" instead of a pasted link (webapp/zoom); chosen while a draft, kept after.
    is_zoom_meeting: bool = False

    @classmethod
    def of(cls, event: Event) -> EventFields:
        return cls(
            title=event.title, description=event.description, starts_at=event.starts_at, ends_at=event.ends_at,
            is_online=event.is_online, meeting_url=event.meeting_url, venue_name=event.venue_name,
            venue_address=event.venue_address, venue_accessibility=event.venue_accessibility,
            capacity=event.capacity, registration_opens_at=event.registration_opens_at,
            registration_closes_at=event.registration_closes_at,
            is_releasing_unconfirmed_seats=event.is_releasing_unconfirmed_seats,
            is_zoom_meeting=event.is_zoom_meeting,
        )

    @property
    def place(self) -> EventPlace:
        # A Zoom meeting the site makes has no pasted link: its attendees get links of their own.
        return EventPlace(self.is_online, None if self.is_zoom_meeting else self.meeting_url, self.venue_name,
                          self.venue_address, self.venue_accessibility).normalized()


def _apply_plain_fields(event: Event, fields: EventFields) -> None:
    event.title = fields.title
    event.description = fields.description
    # The meeting link belongs to online events, the venue to in-person ones.
    fields.place.apply_to(event)
    event.registration_opens_at = fields.registration_opens_at
    event.registration_closes_at = fields.registration_closes_at
    event.is_releasing_unconfirmed_seats = fields.is_releasing_unconfirmed_seats


def _check_future_start(fields: EventFields, now: datetime) -> None:
    if fields.starts_at <= now:
        raise OrganizeError("The event must start in the future.", field="starts_at")


def check_zoom_choice(fields) -> None:
    """A Zoom meeting made by the site needs the site's Zoom connection, and an online event (or
    series: `fields` is an EventFields or a SeriesFields, webapp/series)."""
    if fields.is_zoom_meeting and not zoom.zoom_available():
        raise OrganizeError("This site can’t make Zoom meetings (its Zoom connection isn’t set up). "
                            "Please paste a meeting link instead.", field="meeting_source")
    if fields.is_zoom_meeting and not fields.is_online:
        raise OrganizeError("Only an online event can have a Zoom meeting.", field="meeting_source")


def create_event(session: Session, group: Group | None, fields: EventFields, *, actor, now: datetime) -> Event:
    """A new draft event of `group`, with a unique slug made from its title: only the group's
    organizers see it until it is published."""
    _check_future_start(fields, now)
    check_zoom_choice(fields)
    event = Event(
        group_id=group.id if group else None, summary="",
        slug=unique_slug(session, Event.slug, fields.title, max_length=100, fallback="event"),
        starts_at=fields.starts_at, ends_at=fields.ends_at, capacity=fields.capacity,
        status=EventStatus.DRAFT, created_at=now, updated_at=now, is_zoom_meeting=fields.is_zoom_meeting,
    )
    _apply_plain_fields(event, fields)
    session.add(event)
    session.flush()
    return event


def publish_event(session: Session, event_id: int, *, actor, now: datetime) -> Event:
    """A draft becomes a scheduled event that members see and register for. Publishing twice is
    harmless. There is no way back: once members may have registered, a draft would hide them."""
    event = lock_event(session, event_id)
    if event.status == EventStatus.SCHEDULED:
        return event
    if event.status != EventStatus.DRAFT:
        raise OrganizeError("A cancelled event can’t be published.", status=409)
    if event.starts_at <= now:
        raise OrganizeError("This draft’s start time has passed. Please edit the time, then publish.", status=409)
    event.status = EventStatus.SCHEDULED
    event.updated_at = now
    session.flush()
    log.info("event %s published by %s", event.id, getattr(actor, "email", "system"))
    # In this transaction: if the publish rolls back, no follower hears of the event.
    tell_followers_of_new_event(session, event, actor=actor, now=now)
    zoom.meeting_published(session, event, now=now)
    return event


def discard_draft(session: Session, event_id: int, *, actor, now: datetime) -> None:
    """Delete a draft. Nobody can have registered for it (registration needs a scheduled event)."""
    event = lock_event(session, event_id)
    if event.status != EventStatus.DRAFT:
        raise OrganizeError("Only a draft can be deleted; a published event is cancelled instead.", status=409)
    zoom.meeting_withdrawn(session, event, now=now)
    session.delete(event)
    session.flush()
    log.info("draft event %s deleted by %s", event_id, getattr(actor, "email", "system"))


def group_drafts(session: Session, group: Group) -> list[Event]:
    """The group's unpublished events, soonest first, for its organizers to find again."""
    return list(session.scalars(
        select(Event).where(Event.group_id == group.id, Event.status == EventStatus.DRAFT)
        .order_by(Event.starts_at, Event.id)
    ))


@dataclass
class GroupAtAGlance:
    """One of a member's groups on "My groups": its drafts and its next published event."""

    group: Group
    drafts_count: int
    next_event: Event | None


def groups_at_a_glance(session: Session, user, *, now: datetime) -> list[GroupAtAGlance]:
    """The groups `user` organizes, each with its number of drafts and the next scheduled event that
    has not ended; three queries whatever the number of groups."""
    groups = groups_organized_by(session, user)
    ids = [group.id for group in groups]
    drafts = dict(session.execute(
        select(Event.group_id, func.count(Event.id))
        .where(Event.group_id.in_(ids), Event.status == EventStatus.DRAFT).group_by(Event.group_id)
    ).all())
    upcoming = (Event.group_id.in_(ids), Event.status == EventStatus.SCHEDULED, Event.ends_at >= now)
    first = select(Event.group_id, func.min(Event.starts_at).label("starts_at")).where(*upcoming) \
        .group_by(Event.group_id).subquery()
    next_events: dict[int, Event] = {}
    for event in session.scalars(
        select(Event).join(first, and_(Event.group_id == first.c.group_id, Event.starts_at == first.c.starts_at))
        .where(*upcoming).order_by(Event.id)
    ):
        next_events.setdefault(event.group_id, event)  # two at the same minute: the one created first
    return [GroupAtAGlance(group, drafts.get(group.id, 0), next_events.get(group.id)) for group in groups]


# --- "same time next month" ---------------------------------------------------------------------------

def same_weekday_next_month(day: date) -> date:
    """The same weekday in the same week of the next month: the 2nd Tuesday gives the next month's
    2nd Tuesday. A 5th weekday gives the next month's last such weekday when it has no 5th."""
    week = (day.day - 1) // 7
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    first = date(year, month, 1)
    found = first + timedelta(days=(day.weekday() - first.weekday()) % 7 + 7 * week)
    return found if found.month == month else found - timedelta(days=7)


def shift_wall_clock(moment: datetime | None, days: int, zone: ZoneInfo) -> datetime | None:
    """`days` later at the same clock time in `zone` (so 6 PM stays 6 PM across a DST change).

    A clock time that does not exist that day (skipped when clocks go forward) comes out an
    hour later, as the clocks show it.
    """
    if moment is None:
        return None
    local = moment.astimezone(zone).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).astimezone(zone)


def next_month_copy(event: Event, zone: ZoneInfo) -> EventFields:
    """The event's fields for the same weekday of next month (see `same_weekday_next_month`), with
    its times and its registration window moved by the same number of days, in New York time."""
    start_day = event.starts_at.astimezone(zone).date()
    days = (same_weekday_next_month(start_day) - start_day).days
    fields = EventFields.of(event)
    for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
        setattr(fields, name, shift_wall_clock(getattr(fields, name), days, zone))
    return fields


def _to_minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


@dataclass
class EventUpdated:
    event: Event
    promoted: list[Registration] = field(default_factory=list)
    change_mails: list[OutboxMail] = field(default_factory=list)


def _update_draft(session: Session, event: Event, fields: EventFields, *, now: datetime) -> EventUpdated:
    """A draft has no attendees: every field is set as typed, and nobody is told."""
    _check_future_start(fields, now)
    check_zoom_choice(fields)
    event.starts_at, event.ends_at, event.capacity = fields.starts_at, fields.ends_at, fields.capacity
    event.is_zoom_meeting = fields.is_zoom_meeting
    _apply_plain_fields(event, fields)
    event.updated_at = now
    session.flush()
    return EventUpdated(event)


def update_event(session: Session, event_id: int, fields: EventFields, *, actor, now: datetime) -> EventUpdated:
    """Save an organizer's edit: a new capacity promotes from the waitlist (and mails those promoted);
    a new time or place tells every active attendee, in one mail each, with an updated .ics.
    Refusals carry their field. A draft is simply saved."""
    event = session.get(Event, event_id)
    if event is not None and event.status == EventStatus.DRAFT:
        return _update_draft(session, event, fields, now=now)
    if event is None or event.status != EventStatus.SCHEDULED:
        raise OrganizeError("Only a scheduled event can be edited.", status=409)
    # Published, the choice stays as it was: attendees may hold Zoom links of their own already.
    fields.is_zoom_meeting = event.is_zoom_meeting
    if event.is_zoom_meeting and not fields.is_online:
        raise OrganizeError("This event’s Zoom meeting was made by the site, so it stays online. To meet in "
                            "person, cancel it and make a new event.", field="meeting_format", status=422)
    result = EventUpdated(event)
    # The capacity and change services take the event's lock and reload it, so they run before the
    # plain fields are set (a reload would drop unflushed edits).
    if fields.capacity != event.capacity:
        try:
            result.promoted = change_capacity(session, event_id, fields.capacity, now=now)
        except RegistrationError as error:
            raise OrganizeError(error.message, field="capacity", status=error.status) from error
    # The form shows whole minutes: a time it sends back unchanged keeps the stored seconds.
    starts_at = event.starts_at if fields.starts_at == _to_minute(event.starts_at) else fields.starts_at
    ends_at = event.ends_at if fields.ends_at == _to_minute(event.ends_at) else fields.ends_at
    moving = (starts_at, ends_at) != (event.starts_at, event.ends_at)
    try:
        result.change_mails = change_event(
            session, event_id, starts_at=starts_at if moving else None, ends_at=ends_at if moving else None,
            place=fields.place, now=now, actor=actor)
    except EventChangeError as error:
        raise OrganizeError(error.message, field="starts_at" if moving else None, status=error.status) from error
    event = session.get(Event, event_id)
    retitled = fields.title != event.title
    _apply_plain_fields(event, fields)
    event.updated_at = now
    session.flush()
    if retitled:  # a new time told Zoom already (change_event); this `now` makes it the same intent
        zoom.meeting_changed(session, event, now=now)
    result.event = event
    return result
