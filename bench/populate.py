"""Top the benchmark database up to a realistic size with the app's own models.

Run after `flask db upgrade` and `flask seed` (the real METRO groups and events):

    DATABASE_URL=... SECRET_KEY=bench .venv/bin/python bench/populate.py --groups 25 --events 300

It adds synthetic groups (with organizers) until there are --groups groups, then synthetic
events until there are --events events: a mix of past and upcoming, online and in person,
capped (some full, with a waitlist) and open, a few cancelled, a few hosted by METRO itself.
The data is deterministic (fixed random seed) and dated relative to now, so every run sees the
same shape. The last line printed is `EVENT_SLUG=<slug>`: the seeded event whose page is
benchmarked (an upcoming one with a group), or a synthetic one when no seed data is loaded.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from webapp import create_app
from webapp.db import db
from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group, GroupOrganizer

PREFIX = "bench-"

TOPICS = [
    "Digital Preservation", "Metadata", "Open Access", "Archives Outreach", "Web Archiving",
    "Linked Data", "Special Collections", "Library Instruction", "Oral History",
    "Community Archives", "Museum Collections", "Copyright", "Data Curation",
    "Accessibility", "Zine Libraries", "School Librarians", "Public Programs",
    "Born-Digital Records", "Audiovisual Archiving", "Library Technology",
]
KINDS = ["Working Group", "Meetup", "Interest Group", "Roundtable", "Collective"]
FIRST = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Fatima", "Grace", "Hiro", "Ines", "Jamal",
         "Kira", "Luis", "Mina", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara"]
LAST = ["Alvarez", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Gupta", "Haddad", "Ito",
        "Johnson", "Kim", "Lopez", "Moreau", "Nguyen", "Okafor", "Patel", "Rossi", "Singh"]
FORMATS = ["Lightning talks", "Hands-on workshop", "Open discussion", "Panel", "Show and tell",
           "Reading group", "Site visit", "Office hours", "Case study", "Tool demo"]
SUBJECTS = ["file fixity at scale", "cataloging zines", "ArchivesSpace migrations",
            "teaching with primary sources", "web archiving social media", "IIIF viewers",
            "oral history consent forms", "accessible PDFs", "rights statements",
            "Wikidata for collections", "disaster planning", "grant writing",
            "community-driven description", "email archives", "born-digital photos"]
VENUES = [
    ("METRO Library Council", "599 11th Avenue, 8th Floor, New York, NY 10036"),
    ("Brooklyn Public Library, Central Library", "10 Grand Army Plaza, Brooklyn, NY 11238"),
    ("New York Public Library, Stavros Niarchos Foundation Library",
     "455 Fifth Avenue, New York, NY 10016"),
    ("Queens Public Library at Jamaica", "89-11 Merrick Boulevard, Jamaica, NY 11432"),
]


def description_for(rng: random.Random, title: str, topic: str) -> str:
    """A few paragraphs of Markdown, about the length of a real event description."""
    bullets = rng.sample(SUBJECTS, 4)
    return "\n\n".join([
        f"Join us for **{title}**. This session brings together people working on "
        f"{topic.lower()} across New York's libraries, archives and museums to share what is "
        "working, what is not, and what they would try next.",
        "We will start with short introductions, then spend most of the time in conversation. "
        "No preparation is needed, and newcomers are especially welcome. Bring a question, a "
        "project you are stuck on, or simply your curiosity.",
        "### What we'll cover\n\n" + "\n".join(f"- {b.capitalize()}" for b in bullets),
        "Slides and notes will be shared with registered attendees afterwards. Questions? "
        "Write to the organizers through the [group's page](https://metro.org/meetups).",
        "*Accessibility:* live captions are provided for online sessions; in-person venues are "
        "wheelchair accessible. Let us know if you need anything else to take part.",
    ])


def add_groups(rng: random.Random, wanted: int) -> int:
    have = db.session.scalar(select(func.count(Group.id))) or 0
    n = 0
    while have + n < wanted:
        topic = TOPICS[n % len(TOPICS)]
        kind = KINDS[n % len(KINDS)]
        group = Group(
            slug=f"{PREFIX}group-{n + 1}",
            name=f"{topic} {kind}" + (f" {n // len(TOPICS) + 1}" if n >= len(TOPICS) else ""),
            description=(
                f"A METRO Meetup for people working on {topic.lower()} in New York's libraries, "
                "archives and museums. We meet about once a month, mostly online."
            ),
            external_url=None,
            is_active=(n % 9 != 8),  # a few no longer meet, like the real directory
        )
        for position in range(1 + n % 3):
            name = f"{FIRST[(n * 3 + position) % len(FIRST)]} {LAST[(n * 5 + position) % len(LAST)]}"
            group.organizers.append(
                GroupOrganizer(name=name, role="Organizer" if position else "Chair",
                               position=position)
            )
        db.session.add(group)
        n += 1
    db.session.flush()
    return n


def add_events(rng: random.Random, wanted: int, now: datetime) -> int:
    have = db.session.scalar(select(func.count(Event.id))) or 0
    groups = list(db.session.scalars(select(Group).order_by(Group.id)))
    missing = max(wanted - have, 0)
    for i in range(missing):
        # Spread over 18 months back and 6 months ahead: about a third are upcoming.
        day_offset = -540 + (720 * i) // max(missing, 1) + rng.randint(-3, 3)
        start_hour_local = rng.choice([12, 13, 15, 17, 18])  # New York time, roughly
        starts_at = (now + timedelta(days=day_offset)).replace(
            hour=(start_hour_local + 5) % 24, minute=rng.choice([0, 0, 30]), second=0,
            microsecond=0,
        )
        # Keep every synthetic event clear of "now" so past/upcoming counts are stable.
        if abs((starts_at - now).total_seconds()) < 86400:
            starts_at += timedelta(days=2)
        ends_at = starts_at + timedelta(minutes=rng.choice([60, 90, 90, 120]))
        group = None if i % 11 == 0 else groups[i % len(groups)]
        topic = TOPICS[i % len(TOPICS)]
        title = f"{FORMATS[i % len(FORMATS)]}: {rng.choice(SUBJECTS)}"
        is_online = i % 4 != 0
        venue = VENUES[i % len(VENUES)]
        capacity = None
        confirmed = waitlist = 0
        if i % 3 == 0:  # a third are capped; some of those are full with a waitlist
            capacity = rng.choice([12, 20, 30, 50])
            if i % 9 == 0:
                confirmed, waitlist = capacity, rng.randint(1, 6)
            else:
                confirmed = rng.randint(0, capacity - 1)
        event = Event(
            group=group,
            slug=f"{PREFIX}{i + 1}-{title.split(':')[0].lower().replace(' ', '-')}",
            title=title,
            summary=f"{FORMATS[i % len(FORMATS)]} on {topic.lower()}, with time for questions.",
            description=description_for(rng, title, topic),
            starts_at=starts_at,
            ends_at=ends_at,
            is_online=is_online,
            venue_name=None if is_online else venue[0],
            venue_address=None if is_online else venue[1],
            capacity=capacity,
            confirmed_count=confirmed,
            waitlist_count=waitlist,
            meeting_url="https://zoom.us/j/1234567890" if is_online else None,
            status=EventStatus.CANCELLED if i % 23 == 5 else EventStatus.SCHEDULED,
        )
        db.session.add(event)
    db.session.flush()
    return missing


def pick_event_slug(now: datetime) -> str:
    """An upcoming seeded (real) event with a group; a synthetic one if nothing is seeded."""
    base = (
        select(Event.slug)
        .join(Group, Event.group_id == Group.id)
        .where(Event.status == EventStatus.SCHEDULED, Event.ends_at >= now)
        .order_by(Event.starts_at, Event.id)
        .limit(1)
    )
    seeded = db.session.scalar(base.where(~Event.slug.startswith(PREFIX)))
    return seeded or db.session.scalar(base)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=25)
    parser.add_argument("--events", type=int, default=300)
    args = parser.parse_args()

    rng = random.Random(20261123)
    now = datetime.now(UTC)
    app = create_app()
    with app.app_context():
        new_groups = add_groups(rng, args.groups)
        new_events = add_events(rng, args.events, now)
        db.session.commit()
        groups = db.session.scalar(select(func.count(Group.id)))
        events = db.session.scalar(select(func.count(Event.id)))
        upcoming = db.session.scalar(
            select(func.count(Event.id)).where(Event.ends_at >= now)
        )
        slug = pick_event_slug(now)
        db.session.remove()
        db.engine.dispose()
    print(
        f"populate: added {new_groups} groups and {new_events} events; now {groups} groups, "
        f"{events} events ({upcoming} upcoming, {events - upcoming} past)"
    )
    if slug is None:
        print("populate: no upcoming event with a group to benchmark", file=sys.stderr)
        return 1
    print(f"EVENT_SLUG={slug}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
