"""Changing a series' schedule after it was created: a new rule from a day on, and/or a new end.

What the organizer sees before confirming and what is done are the same computation (`plan_schedule`):

- the new schedule starts on `starts_on` (today or later, within the horizon); sessions before that day
  keep their dates (the schedule they were made on);
- a session not started yet, on or after `starts_on`, whose day is not on the new schedule (or is past
  the new end) is cancelled by the events' own cancel path (`cancel_event`: its registrants and its
  waitlist are mailed, once); one whose day is on it stays as it is, with its registrations, slot
  claims and the edits made on it alone;
- the new schedule's days up to the horizon that have no session are made by `materialize_sessions`
  (whole-series members are registered as for any new session); a day whose session was cancelled
  before stays cancelled, as the sweep never makes a day twice;
- an end after a number of sessions counts every day of the series from its very first, held or
  cancelled, earlier schedules' too (`Series.sessions_before` keeps how many those were).

The time of day is not part of this: "this and all following" on a session changes it.
All of it happens under the series' lock, so the sweep and Register for all, which take that lock
first too, see the series before the change or after it, never a removed day in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.events.changes import EventChangeError, cancel_event
from webapp.events.models import Event, EventStatus
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.series.models import Series
from webapp.series.recurrence import COUNT_MAX, Recurrence, localize, occurrences
from webapp.series.services import SeriesError, horizon, lock_series, materialize_sessions, recurrence_of, sessions_of


@dataclass(frozen=True)
class ScheduleChange:
    """The new schedule as the organizer's form gives it: a rule from a day on, and an end."""

    rrule: str
    starts_on: date
    end_count: int | None = None
    end_on: date | None = None


@dataclass
class SchedulePlan:
    """What a change does, for the confirm page and after it."""

    series: Series
    change: ScheduleChange
    sessions_before: int
    cancelled: list[Event] = field(default_factory=list)
    told_people: int = 0  # registrants and waitlisted of the cancelled sessions, each counted once
    told_mails: int = 0  # one per registration on each cancelled session
    added: list[datetime] = field(default_factory=list)  # starts (UTC) of the sessions made now
    stay_cancelled: list[date] = field(default_factory=list)  # new days whose session was cancelled before
    total_sessions: int = 0
    is_same: bool = False  # the series already has exactly this schedule and nothing is to do

    @property
    def changes_anything(self) -> bool:
        return not self.is_same


def _local_days(recurrence, zone: ZoneInfo) -> list[date]:
    return [start.astimezone(zone).date() for start in occurrences(recurrence)]


def _check(series: Series, change: ScheduleChange, *, now: datetime) -> None:
    zone = ZoneInfo(series.timezone)
    today = now.astimezone(zone).date()
    if change.starts_on < today:
        raise SeriesError("The new schedule must start today or later.", field="first_on")
    first = localize(datetime.combine(change.starts_on, series.local_time), zone)
    if first <= now:
        raise SeriesError(f"The new schedule must start in the future: {series.local_time:%-I:%M %p} has passed "
                          "today, so start it tomorrow or later.", field="first_on")
    days = current_app.config["SERIES_HORIZON_DAYS"]
    if first > horizon(now):
        # Sessions exist up to the horizon: the old schedule's days before a later start would never be made.
        raise SeriesError(f"The new schedule must start within {days} days (sessions are made that far ahead).",
                          field="first_on")
    if (change.end_count is None) == (change.end_on is None):
        raise SeriesError("Please choose how the series ends.", field="end_kind")
    if change.end_count is not None and not 1 <= change.end_count <= COUNT_MAX:
        raise SeriesError(f"The number of sessions must be from 1 to {COUNT_MAX}.", field="end_count")
    if change.end_on is not None and change.end_on < change.starts_on:
        raise SeriesError("The last day can’t be before the new schedule starts.", field="end_on")


def plan_schedule(session: Session, series: Series, change: ScheduleChange, *, now: datetime) -> SchedulePlan:
    """What `change_schedule` would do now (reads only); SeriesError when the change can't be made."""
    _check(series, change, now=now)
    zone = ZoneInfo(series.timezone)
    old = recurrence_of(series)
    # The days the old schedule has before the new one starts: kept, and counted by a count end.
    before = sum(1 for day in _local_days(old, zone) if day < change.starts_on)
    sessions_before = series.sessions_before + before
    new = Recurrence(change.rrule, change.starts_on, series.local_time, series.timezone, change.end_count,
                     change.end_on, sessions_before)
    new_days = set(_local_days(new, zone))
    plan = SchedulePlan(series, change, sessions_before, total_sessions=sessions_before + len(new_days))
    made = {event.series_occurrence_on: event for event in session.scalars(
        select(Event).where(Event.series_id == series.id))}
    ahead = [event for event in sessions_of(session, series.id, upcoming_from=now)
             if event.status == EventStatus.SCHEDULED]
    plan.cancelled = [event for event in ahead
                      if event.series_occurrence_on >= change.starts_on and event.series_occurrence_on not in new_days]
    if plan.cancelled:
        told = session.execute(select(func.count(Registration.id), func.count(func.distinct(Registration.user_id)))
                               .where(Registration.event_id.in_([e.id for e in plan.cancelled]),
                                      Registration.status.in_((RegistrationStatus.CONFIRMED,
                                                               RegistrationStatus.WAITLISTED)))).one()
        plan.told_mails, plan.told_people = told
    # What the sweep would make now: the old schedule's days before the new start, the new one's after.
    start_new = localize(datetime.combine(change.starts_on, series.local_time), zone)
    window = (now, horizon(now))
    wanted = [s for s in occurrences(old, (now, min(start_new, window[1])))] + occurrences(new, window)
    for start in wanted:
        day = start.astimezone(zone).date()
        if day not in made:
            plan.added.append(start)
        elif made[day].status == EventStatus.CANCELLED and made[day].starts_at > now:
            plan.stay_cancelled.append(day)
    plan.is_same = (not plan.cancelled and not plan.added and (series.rrule, series.end_count, series.end_on) ==
                    (change.rrule, change.end_count, change.end_on)
                    and _same_days(old, new, zone, change.starts_on))
    return plan


def _same_days(old, new, zone: ZoneInfo, starts_on: date) -> bool:
    """Whether both schedules have the same days from `starts_on` on (a replayed change: the series
    was re-anchored on that day, its rule and end as they are)."""
    return [d for d in _local_days(old, zone) if d >= starts_on] == _local_days(new, zone)


def change_schedule(session: Session, series_id: int, change: ScheduleChange, *, actor, now: datetime,
                    seen_version: str | None = None) -> SchedulePlan:
    """Apply `change` under the series' lock, as `plan_schedule` says (planned again under the lock).

    `seen_version`: the series' `updated_at` the organizer's confirm page was made from; when the series
    changed since, SeriesError (409) and nothing is done, so a stale confirm can't do what it didn't show.
    A replayed confirm finds the schedule as it is: nothing more is done and nothing is mailed twice."""
    series = lock_series(session, series_id)  # fresh from the database, as the lock found it
    plan = plan_schedule(session, series, change, now=now)
    if plan.is_same:
        return plan
    if seen_version is not None and version_token(series) != seen_version:
        raise SeriesError("The series changed since you looked at this: please check what would happen now.",
                          status=409)
    zone = ZoneInfo(series.timezone)
    # Sessions before the new start are the old schedule's: make those the sweep hasn't made yet.
    start_new = localize(datetime.combine(change.starts_on, series.local_time), zone)
    materialize_sessions(session, series.id, now=now, until=start_new)
    for event in plan.cancelled:
        try:
            cancel_event(session, event.id, now=now, actor=actor)
        except EventChangeError:
            continue  # it started meanwhile (not under our lock): it is held, not cancelled
    series.rrule, series.first_on, series.sessions_before = change.rrule, change.starts_on, plan.sessions_before
    series.end_count, series.end_on = change.end_count, change.end_on
    series.updated_at = now
    session.flush()
    materialize_sessions(session, series.id, now=now)
    return plan


def version_token(series: Series) -> str:
    """What the confirm form carries back as `version`: the series' last change, to the microsecond
    (naive: SQLite gives it back without its zone, PostgreSQL with)."""
    return series.updated_at.replace(tzinfo=None).isoformat(timespec="microseconds")


def next_session_day(session: Session, series: Series, *, now: datetime) -> date:
    """The form's default start of the new schedule: the next session's day; for a series that has
    ended, the next day its rule would have had (so a Tuesday series goes on on Tuesdays); else tomorrow."""
    zone = ZoneInfo(series.timezone)
    for event in sessions_of(session, series.id, upcoming_from=now):
        if event.status == EventStatus.SCHEDULED:
            return event.series_occurrence_on
    endless = Recurrence(series.rrule, series.first_on, series.local_time, series.timezone,
                         end_on=horizon(now).astimezone(zone).date())
    for start in occurrences(endless, (now, horizon(now))):
        return start.astimezone(zone).date()
    return now.astimezone(zone).date() + timedelta(days=1)

