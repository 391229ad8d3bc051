"""The links that subscribe a calendar app to a feed, and the <head> links of the Atom feeds."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from webapp.events.calendar import CalendarLink
from webapp.groups.models import Group
from webapp.urls import absolute_url

SITE_CALENDAR_NAME = "METRO Meetups"


def calendar_feed_url(group: Group | None) -> str:
    if group is None:
        return absolute_url("feeds.site_calendar")
    return absolute_url("feeds.group_calendar", slug=group.slug)


def atom_feed_url(group: Group | None) -> str:
    if group is None:
        return absolute_url("feeds.site_atom")
    return absolute_url("feeds.group_atom", slug=group.slug)


def webcal_url(feed_url: str) -> str:
    """webcal: asks the visitor's own calendar app (Apple Calendar, Thunderbird...) to subscribe."""
    return urlunsplit(("webcal", *urlsplit(feed_url)[1:]))


def subscribe_links(group: Group | None = None) -> list[CalendarLink]:
    """"Subscribe" choices for a group's calendar (or the whole site's): every one keeps itself up to date."""
    name = f"{group.name} · {SITE_CALENDAR_NAME}" if group else SITE_CALENDAR_NAME
    return subscription_links(calendar_feed_url(group), name)


def private_calendar_url(secret: str) -> str:
    return absolute_url("feeds.private_calendar", secret=secret)


def subscription_links(feed: str, name: str) -> list[CalendarLink]:
    """The "Subscribe" choices for any feed address: the calendar apps that keep it up to date."""
    return [
        CalendarLink("Apple Calendar and other apps", webcal_url(feed)),
        CalendarLink("Google Calendar", "https://calendar.google.com/calendar/r?"
                     + urlencode({"cid": webcal_url(feed)}, quote_via=quote)),
        CalendarLink("Outlook.com", "https://outlook.live.com/calendar/0/addfromweb?"
                     + urlencode({"url": feed, "name": name}, quote_via=quote)),
    ]
