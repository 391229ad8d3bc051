"""iCalendar files and add-to-calendar links for an event."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import current_app, url_for
from icalendar import Calendar, Timezone
from icalendar import Event as VEvent
from sqlalchemy.orm import object_session

from webapp.db import db
from webapp.events.models import Event, EventStatus
from webapp.events.presentation import full_place
from webapp.slots.agenda import agenda, agenda_text, agendas_of
from webapp.urls import absolute_url


def event_url(event: Event) -> str:
    return absolute_url("events.detail", slug=event.slug)


def _where(event: Event, meeting_url: str | None) -> str:
    if not event.is_online:
        return full_place(event)
    return meeting_url or "Online (Zoom); registered attendees get the link the day before"


def event_uid(event: Event) -> str:
    """Stable for the event's life: a calendar replaces the entry with this UID instead of adding one."""
    domain = urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"
    return f"event-{event.id}@{domain}"


def event_vevent(event: Event, *, meeting_url: str | None = None, sequence: int | None = None,
                 zone: ZoneInfo | None = None, cancelled: bool = False,
                 stamped_at: datetime | None = None, talks: str = "") -> VEvent:
    """The one VEVENT every calendar file is made of: the event's .ics, the mails' and the feeds'.

    `sequence`: the event's calendar_sequence unless given (it moves with agenda changes too).
    `zone`: write the times as that zone's wall time (with TZID) instead of UTC, so a subscribed
    calendar keeps New York time across daylight saving changes. `talks`: the agenda's lines
    (webapp.slots.agenda.agenda_text), after the summary. `cancelled`: STATUS:CANCELLED
    although the event goes ahead (a member's own feed, after they cancelled), revised at `stamped_at`.
    """
    vevent = VEvent()
    vevent.add("uid", event_uid(event))
    vevent.add("sequence", event.calendar_sequence if sequence is None else sequence)
    vevent.add("dtstamp", (stamped_at or event.updated_at).astimezone(UTC))
    vevent.add("dtstart", event.starts_at.astimezone(zone or UTC))
    vevent.add("dtend", event.ends_at.astimezone(zone or UTC))
    vevent.add("summary", event.title)
    access = f"Access: {event.venue_accessibility}" if not event.is_online and event.venue_accessibility else ""
    vevent.add("description", "\n\n".join(p for p in (event.summary, talks, access, event_url(event)) if p))
    vevent.add("location", _where(event, meeting_url))
    vevent.add("url", event_url(event))
    if cancelled or event.status == "cancelled":
        vevent.add("status", "CANCELLED")
    return vevent


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//METRO Meetups//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    return calendar


def event_ics(event: Event, *, meeting_url: str | None = None, sequence: int | None = None,
              agenda_items: list | None = None) -> str:
    """One VEVENT; the UID is stable so an updated file replaces the entry in a calendar.
    Its description carries the agenda: `agenda_items` when the caller has it, else one query
    (the feeds load every event's at once: feed_agendas)."""
    calendar = _calendar()
    if agenda_items is None:
        agenda_items = agenda(object_session(event) or db.session, event) if event.id is not None else []
    calendar.add_component(event_vevent(event, meeting_url=meeting_url, sequence=sequence,
                                        talks=agenda_text(agenda_items)))
    return calendar.to_ical().decode("utf-8")


def feed_agendas(events: list[Event]) -> dict[int, str]:
    """Each event's agenda lines for its description, as its own .ics has them, in one query for all."""
    if not events:
        return {}
    agendas = agendas_of(object_session(events[0]) or db.session, events)
    return {event_id: agenda_text(items) for event_id, items in agendas.items()}


def feed_ics(events: list[Event], *, name: str, zone: ZoneInfo) -> str:
    """A subscription feed (a group's, the site's, a series'): public entries only (never a meeting
    link), each with its agenda, in `zone` with its VTIMEZONE."""
    talks = feed_agendas(events)
    return calendar_feed_ics([(event, event_vevent(event, zone=zone, talks=talks.get(event.id, "")))
                              for event in events], name=name, zone=zone)


def calendar_feed_ics(entries: list[tuple[Event, VEvent]], *, name: str, zone: ZoneInfo) -> str:
    """A subscription feed of these entries (each event's VEVENT, its times in `zone`), with the VTIMEZONE."""
    calendar = _calendar()
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone.key)
    for _, vevent in entries:
        calendar.add_component(vevent)
    events = [event for event, _ in entries]
    if events:
        # From just before the first event to a year past the last: every transition they need.
        first = min(e.starts_at for e in events).astimezone(zone).date() - timedelta(days=1)
        last = max(e.ends_at for e in events).astimezone(zone).date() + timedelta(days=400)
        calendar.subcomponents.insert(0, vtimezone(zone.key, first, last))
    return calendar.to_ical().decode("utf-8")


_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _yearly_rule(onsets: list[datetime]) -> dict | None:
    """The RRULE these onsets follow ("2nd Sunday of March", "last Sunday of October"), or None."""
    for from_end in (False, True):
        rules = set()
        for onset in onsets:
            if from_end:
                nth = -((monthrange(onset.year, onset.month)[1] - onset.day) // 7 + 1)
            else:
                nth = (onset.day - 1) // 7 + 1
            rules.add((onset.month, nth, onset.weekday()))
        if len(rules) == 1:
            month, nth, weekday = rules.pop()
            return {"freq": "yearly", "bymonth": month, "byday": f"{nth}{_WEEKDAYS[weekday]}"}
    return None


@lru_cache(maxsize=64)
def vtimezone(tzid: str, first: date, last: date) -> Timezone:
    """The zone's VTIMEZONE, its transitions as yearly rules where they follow one.

    icalendar lists every transition as an RDATE; many readers (dateutil, so vobject, and older
    Outlooks) ignore RDATE and would put a summer event in winter time. A rule is read by all.
    """
    timezone = Timezone.from_tzinfo(ZoneInfo(tzid), first_date=first, last_date=last)
    for part in timezone.subcomponents:
        rdates = part.get("rdate")
        if rdates is None:
            continue
        lists = rdates if isinstance(rdates, list) else [rdates]
        onsets = [part.get("dtstart").dt] + [d.dt for dates in lists for d in dates.dts]
        rule = _yearly_rule(onsets)
        if rule is not None:
            del part["rdate"]
            part.add("rrule", rule)
    return timezone


def _public_details(event: Event) -> str:
    """What a calendar link fills in as the entry's text: the summary and the page, never the meeting link."""
    return "\n\n".join(p for p in (event.summary, event_url(event)) if p)


def google_calendar_url(event: Event) -> str:
    """Google Calendar's "add event" form, filled in; the dates in UTC so no zone is guessed."""
    fmt = "%Y%m%dT%H%M%SZ"
    dates = f"{event.starts_at.astimezone(UTC):{fmt}}/{event.ends_at.astimezone(UTC):{fmt}}"
    query = urlencode(
        {"action": "TEMPLATE", "text": event.title, "dates": dates, "details": _public_details(event),
         "location": _where(event, None)}
    )
    return f"https://calendar.google.com/calendar/render?{query}"


OUTLOOK_HOSTS = {"live": "outlook.live.com", "office": "outlook.office.com"}


def _outlook_time(dt: datetime) -> str:
    return f"{dt.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def outlook_calendar_url(event: Event, account: str = "live") -> str:
    """Outlook on the web's "new event" form: `live` for personal accounts, `office` for work ones."""
    query = urlencode(
        {"path": "/calendar/action/compose", "rru": "addevent", "subject": event.title,
         "startdt": _outlook_time(event.starts_at), "enddt": _outlook_time(event.ends_at),
         "body": _public_details(event), "location": _where(event, None)},
        quote_via=quote,
    )
    return f"https://{OUTLOOK_HOSTS[account]}/calendar/deeplink/compose?{query}"


@dataclass(frozen=True)
class CalendarLink:
    label: str
    url: str
    is_download: bool = False


def calendar_links(event: Event) -> list[CalendarLink]:
    """The "Add to calendar" choices anyone sees on an event page; none carries the meeting link."""
    if event.status != EventStatus.SCHEDULED:
        return []
    return [
        # The page's own address for the file, so it downloads from wherever the page was opened.
        CalendarLink("Calendar file (.ics)", url_for("events.calendar_file", slug=event.slug), is_download=True),
        CalendarLink("Google Calendar", google_calendar_url(event)),
        CalendarLink("Outlook.com", outlook_calendar_url(event, "live")),
        CalendarLink("Outlook (Microsoft 365)", outlook_calendar_url(event, "office")),
    ]
