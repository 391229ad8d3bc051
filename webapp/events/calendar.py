"""iCalendar files and add-to-calendar links for an event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit

from flask import current_app, url_for
from icalendar import Calendar
from icalendar import Event as VEvent

from webapp.events.models import Event, EventStatus
from webapp.events.presentation import full_place
from webapp.urls import absolute_url


def event_url(event: Event) -> str:
    return absolute_url("events.detail", slug=event.slug)


def _where(event: Event, meeting_url: str | None) -> str:
    if not event.is_online:
        return full_place(event)
    return meeting_url or "Online (Zoom); registered attendees get the link the day before"


def event_ics(event: Event, *, meeting_url: str | None = None, sequence: int = 0) -> str:
    """One VEVENT; the UID is stable so an updated file replaces the entry in a calendar."""
    domain = urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"
    calendar = Calendar()
    calendar.add("prodid", "-//METRO Meetups//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    vevent = VEvent()
    vevent.add("uid", f"event-{event.id}@{domain}")
    vevent.add("sequence", sequence)
    vevent.add("dtstamp", event.updated_at.astimezone(UTC))
    vevent.add("dtstart", event.starts_at.astimezone(UTC))
    vevent.add("dtend", event.ends_at.astimezone(UTC))
    vevent.add("summary", event.title)
    access = f"Access: {event.venue_accessibility}" if not event.is_online and event.venue_accessibility else ""
    vevent.add("description", "\n\n".join(p for p in (event.summary, access, event_url(event)) if p))
    vevent.add("location", _where(event, meeting_url))
    vevent.add("url", event_url(event))
    if event.status == "cancelled":
        vevent.add("status", "CANCELLED")
    calendar.add_component(vevent)
    return calendar.to_ical().decode("utf-8")


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
