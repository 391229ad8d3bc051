"""Series: making their sessions ahead, registering for all of them at once, and editing
"this session and all following".

Every session is an ordinary event, so capacity, waitlists, reminders and change mails are the
events' and registrations' own rules: whole-series registration calls `register` once per session,
under that session's row lock. Locks are always taken series first, then sessions in start order,
so two members registering for all at once queue up and never deadlock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.db import lock_row, lock_rows
from webapp.display import plural
from webapp.events.models import Event, EventStatus
from webapp.follows.services import tell_followers_of_new_series
from webapp.groups.models import Group
from webapp.organize.services import EventFields, EventUpdated, OrganizeError, check_zoom_choice, update_event
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.series.mails import queue_series_mail
from webapp.series.models import Series, SeriesRegistration, SeriesSlotOffer
from webapp.series.recurrence import Recurrence, localize, occurrences
from webapp.slots import services as slots
from webapp.slots.models import SlotClaim, SlotOffer
from webapp.slugs import unique_slug
from webapp.zoom import services as zoom

log = logging.getLogger(__name__)

# The most sessions one call makes: a sweep makes the rest later.
MATERIALIZE_MAX = 60
# What an organizer can set on one session alone, which the series then stops setting there.
SESSION_FIELDS = ("title", "description", "capacity", "place", "time")


class SeriesError(OrganizeError):
    """A series change refused, with the form field its message belongs next to."""


@dataclass
class SeriesFields:
    """A series as the organizer's form describes it."""

    title: str
    description: str
    rrule: str
    first_on: date
    local_time: time
    duration_minutes: int
    end_count: int | None
    end_on: date | None
    is_online: bool
    capacity: int | None = None
    meeting_url: str | None = None
    venue_name: str | None = None
    venue_address: str | None = None
    venue_accessibility: str | None = None
    # "Create a Zoom meeting for each session" instead of a pasted link (webapp/zoom).
    is_zoom_meeting: bool = False


def horizon(now: datetime) -> datetime:
    return now + timedelta(days=current_app.config["SERIES_HORIZON_DAYS"])


def lock_series(session: Session, series_id: int) -> Series:
    series = lock_row(session, Series, series_id, Series.updated_at)
    if series is None:
        raise SeriesError("We couldn’t find that series.", status=404)
    return series


def create_series(session: Session, group: Group, fields: SeriesFields, *, actor, now: datetime) -> Series:
    """A new series of `group`; its sessions up to the horizon are made (published) at once. The
    group's followers hear of the series once, as a series: not of each of eight sessions."""
    zone = ZoneInfo(current_app.config["SITE_TIMEZONE"])
    first = localize(datetime.combine(fields.first_on, fields.local_time), zone)
    if first <= now:
        raise SeriesError("The first session must be in the future.", field="first_on")
    check_zoom_choice(fields)  # the event form's rule: the site's Zoom connection, and online
    values = vars(fields) | ({"meeting_url": None} if fields.is_zoom_meeting else {})  # each attendee gets their own
    series = Series(group_id=group.id, timezone=zone.key, created_at=now, updated_at=now,
                    slug=unique_slug(session, Series.slug, fields.title, max_length=100, fallback="series"),
                    **values)
    session.add(series)
    session.flush()
    log.info("series %s created by %s", series.id, getattr(actor, "email", "system"))
    made = materialize_sessions(session, series.id, now=now)
    tell_followers_of_new_series(session, series, made, actor=actor, now=now)
    return series


def sessions_of(session: Session, series_id: int, *, upcoming_from: datetime | None = None) -> list[Event]:
    """The series' sessions (scheduled and cancelled) in start order; only those not started yet with
    `upcoming_from`."""
    query = select(Event).where(Event.series_id == series_id,
                                Event.status.in_((EventStatus.SCHEDULED, EventStatus.CANCELLED)))
    if upcoming_from is not None:
        query = query.where(Event.starts_at > upcoming_from)
    return list(session.scalars(query.order_by(Event.starts_at, Event.id)))


def _new_session(session: Session, series: Series, starts_at: datetime, *, now: datetime) -> Event:
    local_day = starts_at.astimezone(ZoneInfo(series.timezone)).date()
    event = Event(
        group_id=series.group_id, series_id=series.id, series_occurrence_on=local_day,
        slug=unique_slug(session, Event.slug, f"{series.title} {local_day.isoformat()}", max_length=100,
                         fallback="session"),
        title=series.title, summary="", description=series.description,
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=series.duration_minutes),
        capacity=series.capacity, is_online=series.is_online, meeting_url=series.meeting_url,
        is_zoom_meeting=series.is_zoom_meeting,
        venue_name=series.venue_name, venue_address=series.venue_address,
        venue_accessibility=series.venue_accessibility,
        status=EventStatus.SCHEDULED, created_at=now, updated_at=now,
    )
    session.add(event)
    return event


def materialize_sessions(session: Session, series_id: int, *, now: datetime,
                         until: datetime | None = None) -> list[Event]:
    """Make the series' sessions that start before the horizon (or `until`, when sooner) and don't
    exist yet, and register every whole-series member for each (a full one waitlists them, and mails
    them which).

    Idempotent: under the series' lock, a day that has a session (even a cancelled or moved one)
    is never made again; the database's unique (series, day) is the last line of defence.
    """
    series = lock_series(session, series_id)
    made_on = set(session.scalars(select(Event.series_occurrence_on).where(Event.series_id == series.id)))
    zone = ZoneInfo(series.timezone)
    created = []
    end = horizon(now) if until is None else min(until, horizon(now))
    for starts_at in occurrences(series, (now, end)):
        if starts_at.astimezone(zone).date() not in made_on and len(created) < MATERIALIZE_MAX:
            created.append(_new_session(session, series, starts_at, now=now))
    if not created:
        return []
    session.flush()
    for event in created:
        # Published at once, so its Zoom meeting is queued as publishing an event queues it (before
        # the members' registrants below, which wait for it).
        zoom.meeting_published(session, event, now=now)
    for offer in series_slot_offers(session, series.id):
        for event in created:
            _copy_offer(session, offer, event, now=now)
    members = list(session.scalars(select(SeriesRegistration).where(
        SeriesRegistration.series_id == series.id, SeriesRegistration.cancelled_at.is_(None))))
    for event in created:
        for member in members:
            # One mail per new session, as a single registration sends: a seat (with its .ics) or a place in line.
            _register_quietly(session, event.id, member.user_id, now=now, mail=True,
                              accessibility_needs=member.accessibility_needs)
    log.info("series %s: %d sessions made", series.id, len(created))
    return created


def materialize_all(session: Session, *, now: datetime) -> int:
    """The daily sweep: every series still running gets its sessions up to the horizon."""
    ids = list(session.scalars(select(Series.id).order_by(Series.id)))
    return sum(len(materialize_sessions(session, series_id, now=now)) for series_id in ids)


class _Member:
    """Only the id: `register` needs no more, and the sweep has no loaded users."""

    def __init__(self, user_id: int):
        self.id = user_id


def _register_quietly(session: Session, event_id: int, user_id: int, *, now: datetime, mail: bool,
                      accessibility_needs: str = ""):
    """Register for one session; None when its registration is closed (the others go on)."""
    try:
        return registrations.register(session, event_id, member=_Member(user_id), now=now, mail=mail,
                                      accessibility_needs=accessibility_needs)
    except registrations.RegistrationError:
        return None


# --- slots in each session ------------------------------------------------------------------------------

def series_slot_offers(session: Session, series_id: int) -> list[SeriesSlotOffer]:
    return list(session.scalars(select(SeriesSlotOffer).where(SeriesSlotOffer.series_id == series_id)
                                .order_by(SeriesSlotOffer.id)))


def _copy_offer(session: Session, offer: SeriesSlotOffer, event: Event, *, now: datetime) -> SlotOffer | None:
    """The session's copy of a series offer, by the slots' own rule; None where it can't take it
    (started, cancelled, or shortened alone so the slots no longer fit): the other sessions go on."""
    try:
        with session.begin_nested():
            return slots.offer_slots(session, event.id, label=offer.label, minutes=offer.minutes,
                                     how_many=offer.how_many, now=now, series_offer_id=offer.id)
    except slots.SlotError:
        return None


def offer_series_slots(session: Session, series_id: int, *, label: str, minutes, how_many,
                       now: datetime) -> SeriesSlotOffer:
    """Slots every session offers: kept on the series for the sessions made later, and copied now to
    each session still ahead that has no offers of its own (one edited alone keeps its own)."""
    label, minutes, how_many = slots.checked_offer(label, minutes, how_many)
    series = lock_series(session, series_id)
    offered = sum(o.minutes * o.how_many for o in series_slot_offers(session, series.id))
    slots.check_fits(offered, minutes, how_many, series.duration_minutes, "session")
    offer = SeriesSlotOffer(series_id=series.id, label=label, minutes=minutes, how_many=how_many, created_at=now)
    session.add(offer)
    session.flush()
    upcoming = [e for e in sessions_of(session, series.id, upcoming_from=now) if e.status == EventStatus.SCHEDULED]
    own = set(session.scalars(select(SlotOffer.event_id).where(
        SlotOffer.event_id.in_([e.id for e in upcoming]), SlotOffer.series_offer_id.is_(None))))
    for event in upcoming:
        if event.id not in own:
            _copy_offer(session, offer, event, now=now)
    return offer


@dataclass
class SlotDefaultsOutcome:
    """What a change of a series' slot default did to the sessions ahead, session by session."""

    offer: SeriesSlotOffer | None
    followed: list[Event] = field(default_factory=list)  # their copy changed, or was made or removed
    kept: list[tuple[Event, str]] = field(default_factory=list)  # left as they were, and why


def _series_offer(session: Session, series: Series, offer_id) -> SeriesSlotOffer:
    text = str(offer_id if offer_id is not None else "")
    row_id = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None
    offer = session.get(SeriesSlotOffer, row_id) if row_id else None
    if offer is None or offer.series_id != series.id:
        raise slots.SlotError("We couldn’t find those slots in this series.", status=404)
    return offer


def _scheduled_ahead(session: Session, series_id: int, now: datetime) -> list[Event]:
    return [e for e in sessions_of(session, series_id, upcoming_from=now) if e.status == EventStatus.SCHEDULED]


def _copies(session: Session, offer_id: int, events: list[Event]) -> dict[int, SlotOffer]:
    return {copy.event_id: copy for copy in session.scalars(select(SlotOffer).where(
        SlotOffer.series_offer_id == offer_id, SlotOffer.event_id.in_([e.id for e in events])))}


def _held_places(session: Session, copy: SlotOffer) -> list[int]:
    return list(session.scalars(select(SlotClaim.place).where(SlotClaim.offer_id == copy.id,
                                                              SlotClaim.place.is_not(None))))


def _session_minutes(event: Event) -> int:
    return int((event.ends_at - event.starts_at).total_seconds() // 60)


def edit_series_slots(session: Session, series_id: int, offer_id, *, label: str, minutes, how_many,
                      now: datetime) -> SlotDefaultsOutcome:
    """Change a series' slot default (label, length, how many) and, session by session, the copies
    ahead: a copy nobody claimed follows; a claimed one follows only while every held place still
    exists (how_many at least the highest place held), else it is kept as it was; a session with no
    offers at all gets one. The slots' own rules decide (checked_offer, check_fits), per session too."""
    label, minutes, how_many = slots.checked_offer(label, minutes, how_many)
    series = lock_series(session, series_id)
    offer = _series_offer(session, series, offer_id)
    others = sum(o.minutes * o.how_many for o in series_slot_offers(session, series.id) if o.id != offer.id)
    slots.check_fits(others, minutes, how_many, series.duration_minutes, "session")
    offer.label, offer.minutes, offer.how_many = label, minutes, how_many
    session.flush()
    outcome = SlotDefaultsOutcome(offer)
    upcoming = _scheduled_ahead(session, series.id, now)
    copies = _copies(session, offer.id, upcoming)
    offered = _offered_by_event(session, upcoming)
    for event in upcoming:
        copy = copies.get(event.id)
        if copy is None:
            if event.id not in offered and _copy_offer(session, offer, event, now=now) is not None:
                outcome.followed.append(event)
            continue
        if (copy.label, copy.minutes, copy.how_many) == (label, minutes, how_many):
            continue
        slots.lock_event(session, event.id)  # claims are decided under the session's lock
        held = _held_places(session, copy)
        if held and max(held) > how_many:
            outcome.kept.append((event, f"{plural(len(held), 'slot')} claimed there, so it keeps "
                                        f"{copy.how_many}"))
            continue
        try:
            slots.check_fits(offered[event.id] - copy.minutes * copy.how_many, minutes, how_many,
                             _session_minutes(event), "session")
        except slots.SlotError:
            outcome.kept.append((event, "the new slots would run past the end of this session"))
            continue
        copy.label, copy.minutes, copy.how_many = label, minutes, how_many
        outcome.followed.append(event)
    session.flush()
    return outcome


def remove_series_slots(session: Session, series_id: int, offer_id, *, now: datetime) -> SlotDefaultsOutcome:
    """Remove a series' slot default: the sessions made later don't get it, and its copies ahead that
    nobody claimed go; a copy someone claimed stays, as that session's own."""
    series = lock_series(session, series_id)
    offer = _series_offer(session, series, offer_id)
    outcome = SlotDefaultsOutcome(None)
    upcoming = _scheduled_ahead(session, series.id, now)
    for event in upcoming:
        copy = _copies(session, offer.id, [event]).get(event.id)
        if copy is None:
            continue
        slots.lock_event(session, event.id)
        held = _held_places(session, copy)
        if held:
            outcome.kept.append((event, f"{plural(len(held), 'slot')} claimed there, so it keeps them"))
            continue
        session.delete(copy)
        outcome.followed.append(event)
    # The copies in sessions past (and the claimed ones) become their sessions' own (ON DELETE SET NULL).
    session.delete(offer)
    session.flush()
    return outcome


def _offered_by_event(session: Session, events: list[Event]) -> dict[int, int]:
    """Minutes of slots each session offers already (every offer, its own and the series' copies)."""
    if not events:
        return {}
    rows = session.execute(select(SlotOffer.event_id, func.sum(SlotOffer.minutes * SlotOffer.how_many))
                           .where(SlotOffer.event_id.in_([e.id for e in events])).group_by(SlotOffer.event_id))
    return dict(rows.all())


# --- a member and the whole series --------------------------------------------------------------------

@dataclass
class SeriesOutcome:
    series: Series
    confirmed: list[Event] = field(default_factory=list)
    waitlisted: list[Event] = field(default_factory=list)
    cancelled: list[Event] = field(default_factory=list)
    changed: bool = True


def series_registration_for(session: Session, series_id: int, user_id: int) -> SeriesRegistration | None:
    return session.scalar(select(SeriesRegistration).where(
        SeriesRegistration.series_id == series_id, SeriesRegistration.user_id == user_id))


def register_for_series(session: Session, series_id: int, *, member, now: datetime,
                        accessibility_needs: str = "") -> SeriesOutcome:
    """Register the member for every session still ahead, in start order, under the sessions' locks
    (taken in one statement): a seat, or a place in line where one is full. Later sessions register
    them as they are made. One mail lists every session and the member's place in it.

    `accessibility_needs`: checked as the event page checks them (RegistrationError for that field,
    before anything is written) and kept on each session's registration made here.
    Registering again while registered for the series changes nothing and sends nothing."""
    accessibility_needs = registrations.checked_accessibility_needs(accessibility_needs)
    series = lock_series(session, series_id)
    record = series_registration_for(session, series.id, member.id)
    if record is not None and record.is_active:
        return SeriesOutcome(series, changed=False)
    if record is None:
        record = SeriesRegistration(series_id=series.id, user_id=member.id, created_at=now)
        session.add(record)
    else:
        record.generation += 1
        record.cancelled_at = None
    record.accessibility_needs = accessibility_needs  # for the sessions made later too
    outcome = SeriesOutcome(series)
    upcoming = [e.id for e in sessions_of(session, series.id, upcoming_from=now) if e.status == EventStatus.SCHEDULED]
    # Every session's lock in one statement and the member's registrations in one more, then one
    # flush: a query or three per session made 26 sessions cost a hundred round trips, all while
    # holding the series' lock that every other member registering for all waits on. Taking the
    # sessions' locks in any order is safe under the series' lock: whoever else holds one holds
    # that session only (a single registration, an edit).
    events = sorted(lock_rows(session, Event, upcoming, Event.confirmed_count), key=lambda e: (e.starts_at, e.id))
    mine = {r.event_id: r for r in session.scalars(select(Registration).where(
        Registration.user_id == member.id, Registration.event_id.in_(upcoming)))} if upcoming else {}
    taken = []
    for event in events:
        registration = mine.get(event.id)
        if registration is None or not registration.is_active:
            if registrations.registration_window_problem(event, now):
                continue  # this session's registration is closed; the others go on
            registration = registrations.take_place(session, event, registration, user_id=member.id,
                                                     accessibility_needs=accessibility_needs, now=now)
            taken.append((event, registration))
        status = registration.status
        (outcome.confirmed if status == RegistrationStatus.CONFIRMED else outcome.waitlisted).append(event)
    session.flush()
    for event, registration in taken:  # a seat taken here is one as `register` gives: a Zoom registrant
        zoom.seats_taken(session, event, [registration], now=now)
    queue_series_mail(session, record, "registered", confirmed=outcome.confirmed, waitlisted=outcome.waitlisted,
                      now=now)
    return outcome


def cancel_series_registration(session: Session, series_id: int, *, member, now: datetime) -> SeriesOutcome:
    """Cancel every session still ahead (and the series registration, so no new session registers the
    member): one step, one mail; each freed seat goes to that session's line as usual."""
    series = lock_series(session, series_id)
    record = series_registration_for(session, series.id, member.id)
    upcoming = [event.id for event in sessions_of(session, series.id, upcoming_from=now)]
    active = list(session.scalars(select(Registration).join(Event, Registration.event_id == Event.id).where(
        Registration.user_id == member.id, Registration.event_id.in_(upcoming),
        Registration.status != RegistrationStatus.CANCELLED).order_by(Event.starts_at, Event.id)))
    if (record is None or not record.is_active) and not active:
        return SeriesOutcome(series, changed=False)
    if record is None:
        record = SeriesRegistration(series_id=series.id, user_id=member.id, created_at=now)
        session.add(record)
    record.cancelled_at = now
    outcome = SeriesOutcome(series)
    for registration in active:
        try:
            result = registrations.cancel(session, registration, now=now, mail=False)
        except registrations.RegistrationError:
            continue
        if result.changed:
            outcome.cancelled.append(result.event)
    session.flush()
    queue_series_mail(session, record, "cancelled", cancelled=outcome.cancelled, now=now)
    return outcome


@dataclass
class SessionRow:
    """One line of the series page: a session, its seats, and the viewer's place in it."""

    event: Event
    registration: Registration | None
    position: int | None = None


def session_rows(session: Session, series: Series, member, *, now: datetime) -> list[SessionRow]:
    """The sessions that have not ended, with the member's registration and place in line for each
    (three queries)."""
    events = [event for event in sessions_of(session, series.id) if event.ends_at > now]
    mine: dict[int, Registration] = {}
    if member is not None and getattr(member, "is_authenticated", False) and events:
        mine = {r.event_id: r for r in session.scalars(select(Registration).where(
            Registration.user_id == member.id, Registration.event_id.in_([e.id for e in events])))}
    # One query for every place in line, not one per session the member waits for.
    positions = registrations.waitlist_positions(session, list(mine.values()))
    return [SessionRow(event, mine.get(event.id), positions.get(mine[event.id].id) if event.id in mine else None)
            for event in events]


def later_session_count(session: Session, series: Series, *, now: datetime) -> int:
    """Sessions the rule still has in store beyond the horizon: not made yet, so not on the page."""
    made_on = set(session.scalars(select(Event.series_occurrence_on).where(Event.series_id == series.id)))
    zone = ZoneInfo(series.timezone)
    return sum(1 for start in occurrences(series, (now, now + timedelta(days=366 * 10)))
               if start.astimezone(zone).date() not in made_on)


def series_of_events(session: Session, events: list[Event]) -> list[Series]:
    """The series these events are sessions of (a group page's upcoming events: its running series);
    no query when none is a session."""
    ids = {event.series_id for event in events if event.series_id is not None}
    if not ids:
        return []
    return list(session.scalars(select(Series).where(Series.id.in_(ids)).order_by(Series.title, Series.id)))


def get_series_by_slug(session: Session, slug: str) -> Series | None:
    return session.scalar(select(Series).where(Series.slug == slug))


# --- editing: this session only, or this and all following ----------------------------------------------

def changed_fields(before: EventFields, after: EventFields, zone: ZoneInfo) -> set[str]:
    """Which of SESSION_FIELDS an edit changed."""
    changed = set()
    for name in ("title", "description", "capacity"):
        if getattr(before, name) != getattr(after, name):
            changed.add(name)
    if before.place != after.place:
        changed.add("place")
    def clock(fields: EventFields):
        return fields.starts_at.astimezone(zone).time(), fields.ends_at - fields.starts_at
    if clock(before) != clock(after):
        changed.add("time")
    return changed


def update_session_only(session: Session, event_id: int, fields: EventFields, *, actor,
                        now: datetime) -> EventUpdated:
    """Edit one session as any event (its attendees told as usual); what changed is this session's
    own from now on: an edit of the series never overwrites it."""
    event = session.get(Event, event_id)
    zone = ZoneInfo(current_app.config["SITE_TIMEZONE"])
    changed = changed_fields(EventFields.of(event), fields, zone) if event is not None else set()
    result = update_event(session, event_id, fields, actor=actor, now=now)
    if result.event.series_id is not None and changed:
        detached = set(result.event.series_detached.split()) | changed
        result.event.series_detached = " ".join(sorted(detached))
        session.flush()
    return result


def _copy_edited(fields: EventFields, target, changed: set[str]) -> None:
    """Set the edited fields named in `changed` (but the time, which each caller places its own
    way) on `target`: a later session's fields, or the series' defaults."""
    if "title" in changed:
        target.title = fields.title
    if "description" in changed:
        target.description = fields.description
    if "capacity" in changed:
        target.capacity = fields.capacity
    if "place" in changed:
        place = fields.place
        target.is_online, target.meeting_url = place.is_online, place.meeting_url
        target.venue_name, target.venue_address = place.venue_name, place.venue_address
        target.venue_accessibility = place.venue_accessibility


def _apply(fields: EventFields, target: Event, changed: set[str], zone: ZoneInfo, *,
           local_time: time, duration: timedelta) -> EventFields:
    """`target`'s fields with the edited ones set (those it has not detached)."""
    result = EventFields.of(target)
    _copy_edited(fields, result, changed)
    if "time" in changed:
        day = target.starts_at.astimezone(zone).date()
        result.starts_at = localize(datetime.combine(day, local_time), zone)
        result.ends_at = result.starts_at + duration
    return result


def update_following(session: Session, event_id: int, fields: EventFields, *, actor, now: datetime) -> list[Event]:
    """Edit a session and every later one of its series, and the series itself (the defaults of the
    sessions made later). The time is a time of day: each later session keeps its own day. A later
    session keeps what was edited on it alone. Each session with registrations is updated in place,
    and its attendees are told as for any event (webapp/events/changes.py)."""
    event = session.get(Event, event_id)
    if event is None or event.series_id is None:
        raise SeriesError("This event isn’t part of a series.", status=409)
    zone = ZoneInfo(current_app.config["SITE_TIMEZONE"])
    changed = changed_fields(EventFields.of(event), fields, zone)
    series = lock_series(session, event.series_id)
    local_start = fields.starts_at.astimezone(zone)
    local_time, duration = local_start.time().replace(tzinfo=None), fields.ends_at - fields.starts_at
    later = [e for e in sessions_of(session, series.id) if e.status == EventStatus.SCHEDULED
             and (e.starts_at, e.id) > (event.starts_at, event.id)]
    updated = [update_event(session, event.id, fields, actor=actor, now=now).event]
    event.series_detached = ""
    for other in later:
        mine = changed - set(other.series_detached.split())
        if mine:
            other_fields = _apply(fields, other, mine, zone, local_time=local_time, duration=duration)
            updated.append(update_event(session, other.id, other_fields, actor=actor, now=now).event)
    series = session.get(Series, series.id)
    _copy_edited(fields, series, changed)
    if "time" in changed:
        series.local_time, series.duration_minutes = local_time, int(duration.total_seconds() // 60)
    series.updated_at = now
    session.flush()
    return updated


def recurrence_of(series: Series) -> Recurrence:
    return Recurrence(series.rrule, series.first_on, series.local_time, series.timezone, series.end_count,
                      series.end_on, series.sessions_before or 0)
