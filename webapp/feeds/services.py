"""Which events a feed lists, and the cheap fingerprint calendar clients poll against.

A feed lists published events that have not ended, those that ended in the last FEED_PAST_DAYS, and
cancelled ones for FEED_CANCELLED_DAYS after they were cancelled (as STATUS:CANCELLED, so a subscribed
calendar removes them). Drafts never. Clients poll often: `feed_state` answers "has anything changed?"
with one aggregate query, so a 304 needs no rendering.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, joinedload

from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group

# Stops an unbounded file if a group ever has thousands of events: the soonest past ones go first.
FEED_MAX_EVENTS = 1000
# Known when nothing was ever published, so Last-Modified is never missing.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedWindow:
    """The cut-offs at one instant: scheduled events that ended after `past_since`, cancelled ones
    cancelled after `cancelled_since`."""

    now: datetime
    past_since: datetime
    cancelled_since: datetime
    past_days: timedelta
    cancelled_days: timedelta

    @classmethod
    def at(cls, now: datetime) -> FeedWindow:
        past = timedelta(days=current_app.config["FEED_PAST_DAYS"])
        cancelled = timedelta(days=current_app.config["FEED_CANCELLED_DAYS"])
        return cls(now, now - past, now - cancelled, past, cancelled)

    def listed(self):
        """The SQL condition for "this event is in the feed"."""
        return or_(
            and_(Event.status == EventStatus.SCHEDULED, Event.ends_at >= self.past_since),
            and_(Event.status == EventStatus.CANCELLED, Event.updated_at >= self.cancelled_since),
        )


def _of_group(group: Group | None):
    return [Event.group_id == group.id] if group is not None else []


def feed_events(session: Session, group: Group | None, *, now: datetime) -> list[Event]:
    """The events of a group's feed (or the site's, for None), soonest first."""
    window = FeedWindow.at(now)
    newest_first = session.scalars(
        select(Event).options(joinedload(Event.group))
        .where(window.listed(), *_of_group(group))
        .order_by(Event.starts_at.desc(), Event.id.desc())
        .limit(FEED_MAX_EVENTS)
    )
    return list(reversed(list(newest_first)))


def upcoming_feed_events(session: Session, group: Group | None, *, now: datetime) -> list[Event]:
    """The Atom feed's entries: published events that have not ended, soonest first."""
    return list(session.scalars(
        select(Event).options(joinedload(Event.group))
        .where(Event.status == EventStatus.SCHEDULED, Event.ends_at >= now, *_of_group(group))
        .order_by(Event.starts_at, Event.id)
        .limit(FEED_MAX_EVENTS)
    ))


@dataclass(frozen=True)
class FeedState:
    etag: str
    last_modified: datetime


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def feed_state(session: Session, group: Group | None, *, now: datetime, kind: str, upcoming_only: bool = False
               ) -> FeedState:
    """What the feed's ETag and Last-Modified come from, in one aggregate query and no rendering.

    An edit, a publication or a cancellation changes max(updated_at), and so does a change to an
    event's agenda (webapp/slots raises its agenda_sequence too, which the sum keeps in the ETag even
    when two changes share one updated_at); an event leaving the window
    with the clock alone changes the count, and the moment it left is its Last-Modified, so a client
    that only sends If-Modified-Since sees it go too.
    """
    window = FeedWindow.at(now)
    if upcoming_only:
        listed = and_(Event.status == EventStatus.SCHEDULED, Event.ends_at >= now)
        gone_at_end = and_(Event.status == EventStatus.SCHEDULED, Event.ends_at < now)
        gone_cancelled = Event.status == EventStatus.CANCELLED
        past_delay = timedelta(0)
    else:
        listed = window.listed()
        gone_at_end = and_(Event.status == EventStatus.SCHEDULED, Event.ends_at < window.past_since)
        gone_cancelled = and_(Event.status == EventStatus.CANCELLED, Event.updated_at < window.cancelled_since)
        past_delay = window.past_days
    count, newest, ids, agendas, last_ended, last_cancelled = session.execute(
        select(
            func.count(case((listed, Event.id))),
            func.max(case((listed, Event.updated_at))),
            func.coalesce(func.sum(case((listed, Event.id))), 0),
            func.coalesce(func.sum(case((listed, Event.agenda_sequence))), 0),
            func.max(case((gone_at_end, Event.ends_at))),
            func.max(case((gone_cancelled, Event.updated_at))),
        ).where(Event.status.in_((EventStatus.SCHEDULED, EventStatus.CANCELLED)), *_of_group(group))
    ).one()
    # Raw aggregates skip the column type: SQLite hands back text, so parse what is not a datetime.
    moments = [EPOCH]
    for value, delay in ((newest, timedelta(0)), (last_ended, past_delay),
                         (last_cancelled, window.cancelled_days if not upcoming_only else timedelta(0))):
        value = _as_datetime(value)
        if value is not None:
            moments.append(min(value + delay, now))
    last_modified = max(moments).replace(microsecond=0)
    config = current_app.config
    fingerprint = "|".join(str(part) for part in (
        kind, group.id if group else "site", group.name if group else "", count, ids, agendas, newest,
        last_modified,
        config["FEED_PAST_DAYS"], config["FEED_CANCELLED_DAYS"], config["SITE_URL"], config["SITE_TIMEZONE"],
    ))
    return FeedState(etag=hashlib.sha256(fingerprint.encode()).hexdigest()[:32], last_modified=last_modified)


def series_feed_state(session: Session, series, *, now: datetime) -> FeedState:
    """The series feed's ETag and Last-Modified: every session it lists (scheduled and cancelled, no
    window), in one aggregate query. A session edited, added or cancelled, or its agenda changed,
    changes max(updated_at), the count, the ids or the agendas' sum; the series' own edit (its title
    names the calendar) changes its updated_at."""
    count, newest, ids, agendas = session.execute(
        select(func.count(Event.id), func.max(Event.updated_at), func.coalesce(func.sum(Event.id), 0),
               func.coalesce(func.sum(Event.agenda_sequence), 0))
        .where(Event.series_id == series.id, Event.status.in_((EventStatus.SCHEDULED, EventStatus.CANCELLED)))
    ).one()
    moments = [EPOCH, *(value for value in (_as_datetime(newest), _aware(series.updated_at)) if value is not None)]
    last_modified = min(max(moments), now).replace(microsecond=0)
    config = current_app.config
    fingerprint = "|".join(str(part) for part in (
        "series-ics", series.id, series.title, count, ids, agendas, newest, series.updated_at, last_modified,
        config["SITE_NAME"], config["SITE_URL"], config["SITE_TIMEZONE"],
    ))
    return FeedState(etag=hashlib.sha256(fingerprint.encode()).hexdigest()[:32], last_modified=last_modified)


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return _aware(value)
    return _aware(datetime.fromisoformat(str(value)))
