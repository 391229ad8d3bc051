"""Load the real METRO Meetup groups and events (meetups.json) into the database, idempotently.

Events come from METRO's spring 2020 Meetups page. Most are re-dated into the coming weeks
(`days_from_now`); the two whose text belongs to 2020 ("Privacy During Lockdown", "Applying 2010
Lessons in 2020") keep a day in 2020 (`held_on`) and show under Past events, since a page that
offered them as upcoming in a later year would be wrong. The page names no day for either: their
`held_on` days are approximate, in the order the page listed them. Text that promises a way to
reach the METRO team writes `{contact_email}`, filled in from the CONTACT_EMAIL setting.

A seeded series (`series`) is anchored on a seeded event, its first session: the series takes that
event's time, length, place, capacity and text, and the event becomes its first session in place (so
a database seeded before series existed keeps that event, its registrations and its link, and gets
no second session on its day). The sweep makes the later sessions as for any series. Slots
(`slots`) are offered on a seeded event or in every session of a seeded series.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.events.models import Event, EventStatus
from webapp.follows.services import tell_followers_of_new_series
from webapp.groups.models import Group, GroupOrganizer
from webapp.series import services as series_services
from webapp.series.models import Series
from webapp.series.recurrence import rule_for
from webapp.slots import services as slots
from webapp.slots.models import SlotOffer

SEED_FILE = Path(__file__).resolve().parent / "meetups.json"


def load_seed_data(path: Path = SEED_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def seed(
    session: Session,
    *,
    today: date,
    zone: ZoneInfo,
    redate: bool = False,
    refresh: bool = False,
    data: dict | None = None,
    contact_email: str | None = None,
) -> dict[str, int]:
    """Create every seeded group and event that is missing; returns counts of what was created.

    Rows that exist are left as they are (organizers may have edited them since), unless
    `refresh` rewrites their text from the seed file or `redate` moves seeded events back into
    the coming weeks (events held on a fixed day stay on it). `contact_email` defaults to the
    app's CONTACT_EMAIL.
    """
    data = data or load_seed_data()
    contact_email = contact_email or current_app.config["CONTACT_EMAIL"]
    created = {"groups": 0, "events": 0, "series": 0, "sessions": 0}
    groups: dict[str, Group] = {}
    for item in data["groups"]:
        group = session.scalar(select(Group).where(Group.slug == item["slug"]))
        if group is None:
            group = Group(slug=item["slug"])
            session.add(group)
            created["groups"] += 1
        elif not refresh:
            groups[group.slug] = group
            continue
        group.name = item["name"]
        group.description = item["description"]
        group.external_url = item.get("external_url")
        group.is_active = item.get("is_active", True)
        wanted = [(o["name"], o.get("role", "Organizer")) for o in item.get("organizers", [])]
        if [(o.name, o.role) for o in group.organizers] != wanted:
            group.organizers.clear()
            session.flush()
            for position, (name, role) in enumerate(wanted):
                group.organizers.append(GroupOrganizer(name=name, role=role, position=position))
        groups[group.slug] = group
    session.flush()

    for item in data["events"]:
        event = session.scalar(select(Event).where(Event.slug == item["slug"]))
        is_new = event is None
        if is_new:
            event = Event(slug=item["slug"], status=EventStatus.SCHEDULED)
            session.add(event)
            created["events"] += 1
        if is_new or refresh:
            _fill_event(event, item, groups, contact_email=contact_email)
        # A series' session keeps its day: the series' rule places it (webapp/series).
        if is_new or (redate and event.series_id is None):
            day = held_on(item) or today + timedelta(days=item["days_from_now"])
            start_local = datetime.combine(day, time.fromisoformat(item["start_local"]), zone)
            event.starts_at = start_local.astimezone(ZoneInfo("UTC"))
            event.ends_at = event.starts_at + timedelta(minutes=item.get("duration_minutes", 90))
            # Registration opens now and closes at the start (the default).
            event.registration_opens_at = None
            event.registration_closes_at = None
    session.flush()
    # The seed's clock: the start of `today` where the program meets.
    now = datetime.combine(today, time(), zone).astimezone(ZoneInfo("UTC"))
    items = {item["slug"]: item for item in data["events"]}
    for item in data["events"]:
        if item.get("slots"):
            _offer_event_slots(session, item, now=now)
    for item in data.get("series", []):
        made = _seed_series(session, item, items[item["first_session"]], groups, zone=zone, now=now)
        if made is not None:
            created["series"] += 1
            created["sessions"] += made
    return created


def _seed_series(session: Session, item: dict, first: dict, groups: dict[str, Group], *, zone: ZoneInfo,
                 now: datetime) -> int | None:
    """The seeded series `item`, anchored on its first session's seeded event: made once (None when it
    exists: its sessions are the sweep's, its rows the organizers'); the number of sessions made
    beyond that first one."""
    if session.scalar(select(Series.id).where(Series.slug == item["slug"])) is not None:
        return None
    anchor = session.scalar(select(Event).where(Event.slug == first["slug"]))
    local_start = anchor.starts_at.astimezone(zone)
    series = Series(
        group_id=groups[item["group"]].id, slug=item["slug"], title=item["title"],
        description=anchor.description, rrule=rule_for(item["recurrence"], local_start.date()),
        first_on=local_start.date(), local_time=local_start.time().replace(tzinfo=None), timezone=zone.key,
        duration_minutes=int((anchor.ends_at - anchor.starts_at).total_seconds() // 60),
        end_count=item["end_count"], end_on=None, capacity=anchor.capacity, is_online=anchor.is_online,
        meeting_url=anchor.meeting_url, venue_name=anchor.venue_name, venue_address=anchor.venue_address,
        venue_accessibility=anchor.venue_accessibility, created_at=now, updated_at=now)
    session.add(series)
    session.flush()
    # The seeded event is the first session, where it is, with what it has: no second one on its day.
    anchor.series_id, anchor.series_occurrence_on = series.id, local_start.date()
    if anchor.title != series.title:
        anchor.series_detached = "title"  # "… Book Club #5" is that session's own name
    session.flush()
    made = series_services.materialize_sessions(session, series.id, now=now)
    for offer in item.get("slots", []):
        series_services.offer_series_slots(session, series.id, **offer, now=now)
    # Its group's followers hear of it as of any new series, once.
    sessions = [e for e in series_services.sessions_of(session, series.id) if e.starts_at > now]
    tell_followers_of_new_series(session, series, sessions, actor=None, now=now)
    return len(made)


def _offer_event_slots(session: Session, item: dict, *, now: datetime) -> None:
    """A seeded event's slots, on an event that has none yet (an organizer's own offers stay theirs);
    none on one that has started or is cancelled."""
    event = session.scalar(select(Event).where(Event.slug == item["slug"]))
    if session.scalar(select(SlotOffer.id).where(SlotOffer.event_id == event.id).limit(1)) is not None:
        return
    for offer in item["slots"]:
        try:
            with session.begin_nested():
                slots.offer_slots(session, event.id, **offer, now=now)
        except slots.SlotError:
            return


def held_on(item: dict) -> date | None:
    """The fixed day of a seeded event whose text dates it (`held_on`), or None: re-dated."""
    return date.fromisoformat(item["held_on"]) if item.get("held_on") else None


def _fill_event(event: Event, item: dict, groups: dict[str, Group], *, contact_email: str) -> None:
    event.group = groups[item["group"]] if item.get("group") else None
    event.title = item["title"]
    event.summary = item.get("summary", "")
    event.description = item["description"].replace("{contact_email}", contact_email)
    event.is_online = item.get("is_online", True)
    event.venue_name = item.get("venue_name")
    event.venue_address = item.get("venue_address")
    if event.capacity is None or item.get("capacity") is None or item["capacity"] >= event.confirmed_count:
        event.capacity = item.get("capacity")
    event.meeting_url = item.get("meeting_url")
