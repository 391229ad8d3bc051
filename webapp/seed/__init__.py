"""Load the real METRO Meetup groups and events (meetups.json) into the database, idempotently."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group, GroupOrganizer

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
) -> dict[str, int]:
    """Create every seeded group and event that is missing; returns counts of what was created.

    Rows that exist are left as they are (organizers may have edited them since), unless
    `refresh` rewrites their text from the seed file or `redate` moves seeded events back into
    the coming weeks.
    """
    data = data or load_seed_data()
    created = {"groups": 0, "events": 0}
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
            _fill_event(event, item, groups)
        if is_new or redate:
            day = today + timedelta(days=item["days_from_now"])
            start_local = datetime.combine(day, time.fromisoformat(item["start_local"]), zone)
            event.starts_at = start_local.astimezone(ZoneInfo("UTC"))
            event.ends_at = event.starts_at + timedelta(minutes=item.get("duration_minutes", 90))
            # Registration opens now and closes at the start (the default).
            event.registration_opens_at = None
            event.registration_closes_at = None
    session.flush()
    return created


def _fill_event(event: Event, item: dict, groups: dict[str, Group]) -> None:
    event.group = groups[item["group"]] if item.get("group") else None
    event.title = item["title"]
    event.summary = item.get("summary", "")
    event.description = item["description"]
    event.is_online = item.get("is_online", True)
    event.venue_name = item.get("venue_name")
    event.venue_address = item.get("venue_address")
    if event.capacity is None or item.get("capacity") is None or item["capacity"] >= event.confirmed_count:
        event.capacity = item.get("capacity")
    event.meeting_url = item.get("meeting_url")
