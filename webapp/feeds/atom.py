"""Atom (RFC 4287) feeds of upcoming events, written with ElementTree so every text is escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from flask import current_app

from webapp.events.calendar import event_url
from webapp.events.models import Event
from webapp.events.presentation import event_preview
from webapp.groups.models import Group
from webapp.urls import absolute_url

ATOM_NS = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot carry at all, even escaped: dropped rather than making the feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The "tag:" URIs (RFC 4151) are ids that survive a slug change; the date is when the site began.
TAG_DATE = "2024"


def _text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag(specific: str) -> str:
    domain = urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"
    return f"tag:{domain},{TAG_DATE}:{specific}"


def _add(parent: ET.Element, name: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, name, {k: _text(v) for k, v in attributes.items()})
    if text is not None:
        element.text = _text(text)
    return element


def events_feed(events: list[Event], *, group: Group | None, updated: datetime) -> str:
    """The group's (or the site's) upcoming events, one entry each, linking to the event pages."""
    if group is not None:
        title, page, self_url = (f"{group.name}: upcoming events", absolute_url("groups.detail", slug=group.slug),
                                 absolute_url("feeds.group_atom", slug=group.slug))
        feed_id = _tag(f"group-{group.id}/events")
    else:
        title, page, self_url = ("METRO Meetups: upcoming events", absolute_url("events.index"),
                                 absolute_url("feeds.site_atom"))
        feed_id = _tag("events")
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    _add(feed, "updated", _stamp(updated))
    _add(_add(feed, "author"), "name", group.name if group else "METRO")
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=page)
    for event in events:
        entry = _add(feed, "entry")
        _add(entry, "id", _tag(f"event-{event.id}"))
        _add(entry, "title", event.title)
        _add(entry, "updated", _stamp(event.updated_at))
        _add(entry, "published", _stamp(event.created_at))
        _add(entry, "link", rel="alternate", type="text/html", href=event_url(event))
        _add(_add(entry, "author"), "name", event.group.name if event.group else "METRO")
        _add(entry, "summary", event_preview(event), type="text")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"
