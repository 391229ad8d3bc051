"""iCalendar files and add-to-calendar links for an event."""

from __future__ import annotations

from datetime import UTC
from urllib.parse import urlencode, urlsplit

from flask import current_app
from icalendar import Calendar
from icalendar import Event as VEvent

from webapp.events.models import Event
from webapp.urls import absolute_url


def event_url(event: Event) -> str:
    return absolute_url("events.detail", slug=event.slug)


def _where(event: Event, meeting_url: str | None) -> str:
    if not event.is_online:
        return ", ".join(p for p in (event.venue_name, event.venue_address) if p)
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


def google_calendar_url(event: Event) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    dates = f"{event.starts_at.astimezone(UTC):{fmt}}/{event.ends_at.astimezone(UTC):{fmt}}"
    query = urlencode(
        {"action": "TEMPLATE", "text": event.title, "dates": dates, "details": event_url(event),
         "location": _where(event, None)}
    )
    return f"https://calendar.google.com/calendar/render?{query}"
