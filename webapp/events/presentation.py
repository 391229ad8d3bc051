"""How an event is described in few words: its place once, the short place on a card, the map
link, and the text a link preview (Open Graph) shows when the page is posted to a list or a chat."""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlencode

import nh3

from webapp.display import format_date, format_time_range, markdown
from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group

# "NY", "NY 10036", "New York 10036-1234": the state part of a US address, after the locality.
_STATE = re.compile(r"^(NY|N\.Y\.|New York)(\s+\d{5}(-\d{4})?)?$", re.IGNORECASE)
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
# "New York, NY" is Manhattan's postal name; members say Manhattan.
_BOROUGH_NAMES = {"new york": "Manhattan", "new york city": "Manhattan", "nyc": "Manhattan"}
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
PREVIEW_MAX = 300


def address_after_venue(event: Event) -> str | None:
    """The address without the venue's name when the address repeats it ("METRO, 599 Eleventh…")."""
    address = (event.venue_address or "").strip()
    venue = (event.venue_name or "").strip()
    if venue and address.casefold().startswith(venue.casefold()):
        rest = address[len(venue):]
        # Only a whole name followed by a separator: "METRO" must not eat "METROpolitan Hall".
        if not rest or rest[0] in ", ;-–—\n":
            address = rest.lstrip(" ,;-–—\n")
    return address or None


def full_place(event: Event) -> str:
    """Venue and address in one line, the venue named once: for calendars and previews."""
    return ", ".join(p for p in (event.venue_name, address_after_venue(event)) if p)


def locality(address: str | None) -> str | None:
    """The town or borough of an address: the part before the state ("…, Brooklyn, NY" → Brooklyn)."""
    parts = [p.strip() for p in (address or "").split(",") if p.strip()]
    if len(parts) > 1 and _ZIP.match(parts[-1]):
        parts.pop()
    state = parts.pop() if len(parts) > 1 and _STATE.match(parts[-1]) else None
    # The first part is the street unless the state followed it directly ("New York, NY 10036").
    candidates = parts if state and len(parts) == 1 else parts[1:]
    names = [p for p in candidates if not any(c.isdigit() for c in p)]
    if not names:
        # "1 Main St, New York": the city taken for the state.
        return _BOROUGH_NAMES.get(state.casefold()) if state else None
    return _BOROUGH_NAMES.get(names[-1].casefold(), names[-1])


def short_place(event: Event) -> str:
    """'In person · METRO, Manhattan' or 'Online': what an event card says of where."""
    if event.is_online:
        return "Online"
    venue = (event.venue_name or "").strip()
    town = locality(address_after_venue(event))
    names = [venue] if venue else []
    if town and town.casefold() != venue.casefold():
        names.append(town)
    where = ", ".join(names)
    return f"In person · {where}" if where else "In person"


def map_search_url(event: Event) -> str | None:
    """An OpenStreetMap search for the address: no embedded map, nothing that tracks the visitor."""
    address = address_after_venue(event)
    if event.is_online or not address:
        return None
    return "https://www.openstreetmap.org/search?" + urlencode({"query": address}, quote_via=quote)


def _clip(text: str, limit: int) -> str:
    # Line breaks and runs of spaces go; the narrow no-break space in "6 PM" stays.
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _when(event: Event) -> str:
    return f"{format_date(event.starts_at)}, {format_time_range(event.starts_at, event.ends_at)}"


def event_preview(event: Event) -> str:
    """The description a link preview shows: when (New York time, zone named), where, who hosts it."""
    host = event.group.name if event.group else "METRO"
    where = short_place(event).replace("In person · ", "In person at ")
    facts = f"{_when(event)} · {where} · Hosted by {host}."
    if event.status == EventStatus.CANCELLED:
        facts = f"Cancelled. {facts}"
    return _clip(f"{facts} {event.summary or ''}", PREVIEW_MAX)


def plain_text(markdown_text: str | None) -> str:
    """Markdown as the plain words it shows, for places that take no markup."""
    return html.unescape(nh3.clean(str(markdown(markdown_text)), tags=set()))


def group_preview(group: Group, next_event: Event | None) -> str:
    """A group's link preview: its first paragraph, and its next event's date and title."""
    first_paragraph = (group.description or "").strip().split("\n\n", 1)[0]
    about = _clip(plain_text(first_paragraph), 200)
    if next_event is None:
        return about
    return _clip(f"Next: {_when(next_event)} · {next_event.title}. {about}", PREVIEW_MAX)
