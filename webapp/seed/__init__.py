"""Load the real METRO Meetup groups and events (meetups.json) into the database, idempotently.

Events come from METRO's spring 2020 Meetups page. Most are re-dated into the coming weeks
(`days_from_now`); the two whose text belongs to 2020 ("Privacy During Lockdown", "Applying 2010
Lessons in 2020") keep a day in 2020 (`held_on`) and show under Past events, since a page that
offered them as upcoming in a later year would be wrong. The page names no day for either: their
`held_on` days are approximate, in the order the page listed them. Text that promises a way to
reach the METRO team writes `{contact_email}`, filled in from the CONTACT_EMAIL setting.
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
            _fill_event(event, item, groups, contact_email=contact_email)
        if is_new or redate:
            day = held_on(item) or today + timedelta(days=item["days_from_now"])
            start_local = datetime.combine(day, time.fromisoformat(item["start_local"]), zone)
            event.starts_at = start_local.astimezone(ZoneInfo("UTC"))
            event.ends_at = event.starts_at + timedelta(minutes=item.get("duration_minutes", 90))
            # Registration opens now and closes at the start (the default).
            event.registration_opens_at = None
            event.registration_closes_at = None
    session.flush()
    return created


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
