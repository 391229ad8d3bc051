"""A member's private calendar feed: the events they hold a seat at, at an address with a secret in it.

Calendar apps poll without a session cookie, so the secret is the only proof of who asks: a wrong or
an old one finds nothing (the view answers 404 and says no more). Like the group feeds, the feed
keeps what a subscribed calendar must remove as STATUS:CANCELLED for FEED_CANCELLED_DAYS:

- a confirmed registration of a scheduled event: listed until FEED_PAST_DAYS after the event ended;
- a confirmed registration of an event cancelled since: CANCELLED;
- a registration confirmed once and cancelled since (by the member or the organizers): CANCELLED.

A waitlisted place is not listed; a promotion makes it confirmed, and it appears. The meeting link is
in it only as the member's own /join/ link, and only while `may_see_meeting_link` says the member may
see it (from REMINDER_WINDOW_HOURS before the start to the end): the raw meeting URL never.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from webapp import pagecache
from webapp.db import insert_on_conflict
from webapp.display import site_zone
from webapp.events.calendar import calendar_feed_ics, event_vevent, feed_agendas
from webapp.events.models import Event, EventStatus
from webapp.feeds.links import private_calendar_url, subscription_links
from webapp.feeds.models import PrivateCalendar
from webapp.feeds.services import EPOCH, FEED_MAX_EVENTS, FeedState, FeedWindow
from webapp.registrations.mails import may_see_meeting_link, reminder_window
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.tokens import join_url

PRIVATE_CALENDAR_NAME = "My events · METRO Meetups"
SECRET_BYTES = 32  # 256 bits: token_urlsafe writes them as 43 characters
SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# Registrations whose event ended this long before the feed's oldest entry are not read at all: their
# entries left the feed long ago (a cancellation is always before the start, so before the end).
HISTORY_MARGIN = timedelta(days=30)


# --- The secret ----------------------------------------------------------------------------------


def private_calendar_secret(session: Session, member, *, now: datetime) -> str:
    """The member's secret, made the first time it is asked for (two first asks at once make one)."""
    secret = session.scalar(select(PrivateCalendar.secret).where(PrivateCalendar.user_id == member.id))
    if secret is not None:
        return secret
    session.execute(
        insert_on_conflict(session)(PrivateCalendar)
        .values(user_id=member.id, secret=secrets.token_urlsafe(SECRET_BYTES), created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    return session.scalar(select(PrivateCalendar.secret).where(PrivateCalendar.user_id == member.id))


def reset_private_calendar(session: Session, member, *, now: datetime) -> str:
    """Give the member's feed a new secret: the old address finds nothing from this commit on.

    Nothing else changes: the member stays signed in everywhere, and their registrations stay as they are.
    """
    row = session.get(PrivateCalendar, member.id, populate_existing=True)
    if row is None:
        row = PrivateCalendar(user_id=member.id)
        session.add(row)
    row.secret = secrets.token_urlsafe(SECRET_BYTES)
    row.created_at = now
    session.flush()
    pagecache.note_change(session)  # My events, kept per member, shows the address: the old one goes now
    return row.secret


def member_id_for_secret(session: Session, secret: str) -> int | None:
    """Whose feed this secret opens, or None. Anything not shaped like a secret (too long, NUL,
    markup, other alphabets) is refused before the database sees it."""
    if not SECRET_SHAPE.fullmatch(secret):
        return None
    return session.scalar(select(PrivateCalendar.user_id).where(PrivateCalendar.secret == secret))


@dataclass(frozen=True)
class PrivateCalendarLinks:
    """What the account page and My events show: the address and the Subscribe choices."""

    url: str
    links: list


def private_calendar_links(session: Session, member, *, now: datetime, make: bool = True
                           ) -> PrivateCalendarLinks | None:
    """The member's address and Subscribe choices; made first if need be, unless `make` is false
    (a form sent back with a problem writes nothing), when a member without one gets None."""
    if make:
        secret = private_calendar_secret(session, member, now=now)
    else:
        secret = session.scalar(select(PrivateCalendar.secret).where(PrivateCalendar.user_id == member.id))
        if secret is None:
            return None
    url = private_calendar_url(secret)
    return PrivateCalendarLinks(url, subscription_links(url, PRIVATE_CALENDAR_NAME))


# --- What the feed lists -------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateEntry:
    """One registration as the member's feed shows it."""

    registration: Registration
    is_cancelled: bool  # STATUS:CANCELLED: the event, or the member's place at it, was cancelled
    join_url: str | None  # the member's own /join/ link, inside the reminder window only

    @property
    def event(self) -> Event:
        return self.registration.event


@dataclass(frozen=True)
class PrivateFeed:
    entries: list[PrivateEntry]
    state: FeedState


def _confirmed_this_generation(registration: Registration) -> bool:
    """Confirmed at some point since the member last (re)joined: a promotion comes after the place in
    line; a return to the waitlist after cancelling comes after the old confirmation."""
    confirmed_at, waitlisted_at = registration.confirmed_at, registration.waitlisted_at
    return confirmed_at is not None and (waitlisted_at is None or confirmed_at >= waitlisted_at)


def _entry(registration: Registration, window: FeedWindow) -> PrivateEntry | None:
    """The registration's entry in the feed at `window.now`, or None when it has none (the one rule)."""
    event = registration.event
    status = registration.status
    if status == RegistrationStatus.CONFIRMED and event.status == EventStatus.SCHEDULED:
        if event.ends_at < window.past_since:
            return None
        link = join_url(registration) if may_see_meeting_link(registration, now=window.now) else None
        return PrivateEntry(registration, False, link)
    if status == RegistrationStatus.CONFIRMED and event.status == EventStatus.CANCELLED:
        return PrivateEntry(registration, True, None) if event.updated_at >= window.cancelled_since else None
    if status == RegistrationStatus.CANCELLED and _confirmed_this_generation(registration):
        cancelled_at = registration.cancelled_at
        if cancelled_at is not None and cancelled_at >= window.cancelled_since:
            return PrivateEntry(registration, True, None)
    return None


def _moments(registration: Registration, entry: PrivateEntry | None, window: FeedWindow) -> list[datetime]:
    """When this registration's entry last changed, or left the feed: what Last-Modified is made of.

    The clock alone changes an entry twice: the join link appears when the reminder window opens and
    goes when the event ends; and it leaves the feed when its days are up.
    """
    event, now = registration.event, window.now
    own = [t for t in (registration.confirmed_at, registration.cancelled_at, registration.waitlisted_at) if t]
    if entry is not None:
        moments = [event.updated_at, *own]
        if not entry.is_cancelled:
            moments += [t for t in (event.starts_at - reminder_window(), event.ends_at) if t <= now]
        return moments
    if registration.status == RegistrationStatus.CONFIRMED and event.status == EventStatus.SCHEDULED:
        own.append(event.ends_at + window.past_days)
    elif registration.status == RegistrationStatus.CONFIRMED and event.status == EventStatus.CANCELLED:
        own.append(event.updated_at + window.cancelled_days)
    elif registration.cancelled_at is not None:
        own.append(registration.cancelled_at + window.cancelled_days)
    return [min(t, now) for t in own]


def private_feed(session: Session, member_id: int, *, now: datetime) -> PrivateFeed:
    """The member's feed at `now`: its entries (soonest first) and its ETag and Last-Modified.

    One query, with no rendering, so a poll answered 304 stays cheap. The ETag covers every field an
    entry shows, whether its join link is in it (so it changes the moment the reminder window opens),
    and the settings the file depends on.
    """
    window = FeedWindow.at(now)
    oldest = now - max(window.past_days, window.cancelled_days) - HISTORY_MARGIN
    registrations = session.scalars(
        select(Registration).join(Registration.event).options(joinedload(Registration.event))
        .where(Registration.user_id == member_id, Event.status != EventStatus.DRAFT, Event.ends_at >= oldest)
        .order_by(Event.starts_at.desc(), Event.id.desc())
    )
    entries, moments = [], [EPOCH]
    for registration in registrations:
        entry = _entry(registration, window)
        moments += [min(t, now) for t in _moments(registration, entry, window)]
        if entry is not None and len(entries) < FEED_MAX_EVENTS:
            entries.append(entry)
    entries.reverse()
    last_modified = max(moments).replace(microsecond=0)
    config = current_app.config
    fingerprint = "|".join(str(part) for part in (
        "private-ics", member_id, last_modified, *(
            (e.registration.id, e.registration.status, e.registration.generation, e.is_cancelled,
             e.join_url, e.event.id, e.event.updated_at.isoformat(), e.event.calendar_sequence)
            for e in entries),
        config["FEED_PAST_DAYS"], config["FEED_CANCELLED_DAYS"], config["REMINDER_WINDOW_HOURS"],
        config["SITE_URL"], config["SITE_TIMEZONE"],
    ))
    state = FeedState(etag=hashlib.sha256(fingerprint.encode()).hexdigest()[:32], last_modified=last_modified)
    return PrivateFeed(entries, state)


def private_feed_ics(feed: PrivateFeed) -> str:
    """The member's feed as iCalendar: the same UIDs and SEQUENCEs as their mails' calendar files."""
    zone = site_zone()
    talks = feed_agendas([entry.event for entry in feed.entries])
    return calendar_feed_ics(
        [(entry.event, event_vevent(
            entry.event, zone=zone, meeting_url=entry.join_url, cancelled=entry.is_cancelled,
            stamped_at=_stamped_at(entry), talks=talks.get(entry.event.id, "")))
         for entry in feed.entries],
        name=PRIVATE_CALENDAR_NAME, zone=zone,
    )


def _stamped_at(entry: PrivateEntry) -> datetime:
    # A member's own cancellation revises the entry then, though the event itself did not change.
    event, cancelled_at = entry.event, entry.registration.cancelled_at
    if entry.registration.status == RegistrationStatus.CANCELLED and cancelled_at is not None:
        return max(event.updated_at, cancelled_at)
    return event.updated_at
