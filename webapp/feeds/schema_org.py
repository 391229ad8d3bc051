"""schema.org `Event` data for an event page (JSON-LD), so search engines and apps read it right.

Public facts only: the online "location" is the event page, never the meeting link.
"""

from __future__ import annotations

import json

from markupsafe import Markup
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from webapp.db import db
from webapp.display import local
from webapp.events.calendar import event_url
from webapp.events.changes import TIME
from webapp.events.models import Event, EventChangeMail, EventStatus
from webapp.events.presentation import address_after_venue
from webapp.registrations.models import Registration
from webapp.urls import absolute_url

SCHEMA = "https://schema.org/"
# In a <script> element "</script>" ends it whatever the type: "<", ">" and "&" travel as \u escapes,
# which every JSON reader turns back into the same characters.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                              "\u2029": "\\u2029"})


def was_moved(session: Session, event: Event) -> bool:
    """Whether the event's time was changed after attendees were told it: the change mails record that."""
    return bool(session.scalar(select(exists().where(
        EventChangeMail.registration_id == Registration.id, Registration.event_id == event.id,
        EventChangeMail.changes.contains(TIME),
    ))))


def event_status(session: Session, event: Event) -> str:
    if event.status == EventStatus.CANCELLED:
        return SCHEMA + "EventCancelled"
    return SCHEMA + ("EventRescheduled" if was_moved(session, event) else "EventScheduled")


def _location(event: Event) -> dict:
    if event.is_online:
        return {"@type": "VirtualLocation", "url": event_url(event)}
    place = {"@type": "Place", "name": event.venue_name}
    address = address_after_venue(event)
    if address:
        place["address"] = {"@type": "PostalAddress", "streetAddress": address}
    return place


def _organizer(event: Event) -> dict:
    if event.group is None:
        return {"@type": "Organization", "name": "METRO", "url": absolute_url("pages.home")}
    return {"@type": "Organization", "name": event.group.name,
            "url": absolute_url("groups.detail", slug=event.group.slug)}


def event_data(session: Session, event: Event) -> dict:
    """The schema.org Event, as a dict: times with their New York offset, seats as the live count."""
    data = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": event.title,
        "url": event_url(event),
        "startDate": local(event.starts_at).isoformat(),
        "endDate": local(event.ends_at).isoformat(),
        "eventAttendanceMode": SCHEMA + ("OnlineEventAttendanceMode" if event.is_online
                                         else "OfflineEventAttendanceMode"),
        "eventStatus": event_status(session, event),
        "location": _location(event),
        "organizer": _organizer(event),
        "isAccessibleForFree": True,
    }
    if event.summary:
        data["description"] = event.summary
    if event.status == EventStatus.SCHEDULED:  # a cancelled event has nothing left to offer
        data["offers"] = {
            "@type": "Offer",
            "price": 0,
            "priceCurrency": "USD",
            "url": event_url(event),
            # Full means every seat is taken or people already wait for one: new members join the waitlist.
            "availability": SCHEMA + ("SoldOut" if event.is_full else "InStock"),
        }
    return data


def event_json_ld(event: Event) -> Markup:
    """The JSON for <script type="application/ld+json">: safe inside the element, whatever the title."""
    text = json.dumps(event_data(db.session, event), ensure_ascii=False, separators=(",", ":"))
    return Markup(text.translate(_SCRIPT_SAFE))
