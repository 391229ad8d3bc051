"""The Atom feeds of upcoming events, read back with feedparser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import feedparser
import pytest
from bs4 import BeautifulSoup

from tests.factories import create_event, create_group
from webapp.db import utcnow
from webapp.events.models import EventStatus

ATOM = "{http://www.w3.org/2005/Atom}"


def read_feed(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/atom+xml"
    ET.fromstring(response.data)  # well-formed XML, or this raises
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    return feed


def test_group_feed_lists_upcoming_events_with_links_to_their_pages(client, session, app):
    group = create_group(slug="web-archiving", name="Web Archiving")
    soon = create_event(group, title="Sooner", starts_at=utcnow() + timedelta(days=2), summary="Bring a laptop.")
    create_event(group, title="Later", starts_at=utcnow() + timedelta(days=9))
    create_event(group, title="Past", starts_at=utcnow() - timedelta(days=2))
    create_event(group, title="Called off", status=EventStatus.CANCELLED)
    create_event(group, title="Draft", status=EventStatus.DRAFT)
    create_event(create_group(), title="Elsewhere")
    session.commit()
    site = app.config["SITE_URL"]

    feed = read_feed(client.get("/groups/web-archiving/events.atom"))

    assert feed.feed.title == "Web Archiving: upcoming events"
    assert feed.feed.id.startswith("tag:")
    assert feed.feed.author == "Web Archiving"
    assert feed.feed.updated_parsed is not None
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": f"{site}/groups/web-archiving/events.atom", "alternate": f"{site}/groups/web-archiving"}
    assert [e.title for e in feed.entries] == ["Sooner", "Later"]
    entry = feed.entries[0]
    assert entry.link == f"{site}/events/{soon.slug}"
    assert entry.id == feed.entries[0].id != feed.entries[1].id
    assert "Bring a laptop." in entry.summary and "Hosted by Web Archiving" in entry.summary
    assert entry.updated_parsed and entry.published_parsed
    assert "zoom.us" not in client.get("/groups/web-archiving/events.atom").get_data(as_text=True)


def test_site_feed_and_unknown_group(client, session):
    create_event(create_group(), title="One")
    create_event(None, title="METRO's")
    session.commit()
    feed = read_feed(client.get("/events.atom"))
    assert sorted(e.title for e in feed.entries) == ["METRO's", "One"]
    assert feed.feed.author == "METRO"
    assert client.get("/groups/nope/events.atom").status_code == 404


def test_markup_non_ascii_and_control_characters_are_escaped(client, session):
    group = create_group(slug="m", name="Archives & <Co>")
    create_event(group, title="</summary><script>alert(1)</script> Ünïcødé — 東京 \x0b",
                 summary="Fish & chips <b>bold</b> ]]>")
    session.commit()
    response = client.get("/groups/m/events.atom")
    feed = read_feed(response)
    root = ET.fromstring(response.data)
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "</summary><script>alert(1)</script> Ünïcødé — 東京 "
    assert "Fish & chips <b>bold</b> ]]>" in entry.find(f"{ATOM}summary").text
    assert entry.find(f"{ATOM}summary").get("type") == "text"
    assert root.find(f"{ATOM}author/{ATOM}name").text == "Archives & <Co>"
    assert feed.entries[0].title.startswith("</summary><script>")


def test_an_empty_feed_is_valid(client, session):
    create_group(slug="quiet")
    session.commit()
    assert read_feed(client.get("/groups/quiet/events.atom")).entries == []


def test_etag_304_and_an_ended_event_leaving(client, session, monkeypatch):
    group = create_group(slug="poll")
    ends = datetime(2030, 1, 1, 20, tzinfo=UTC)
    create_event(group, starts_at=ends - timedelta(hours=1), ends_at=ends, updated_at=ends - timedelta(days=30))
    session.commit()
    monkeypatch.setattr("webapp.feeds.views.utcnow", lambda: ends - timedelta(hours=2))
    first = client.get("/groups/poll/events.atom")
    assert len(read_feed(first).entries) == 1
    again = client.get("/groups/poll/events.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    by_date = client.get("/groups/poll/events.atom", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert by_date.status_code == 304

    monkeypatch.setattr("webapp.feeds.views.utcnow", lambda: ends + timedelta(minutes=5))
    client.application.extensions["pagecache"].clear()  # as PAGECACHE_SECONDS passing would
    for headers in ({"If-None-Match": first.headers["ETag"]}, {"If-Modified-Since": first.headers["Last-Modified"]}):
        later = client.get("/groups/poll/events.atom", headers=headers)
        assert later.status_code == 200 and read_feed(later).entries == []


def test_calendar_and_atom_etags_differ(client, session):
    create_event(create_group(slug="two"))
    session.commit()
    atom, calendar = client.get("/groups/two/events.atom"), client.get("/groups/two/calendar.ics")
    assert atom.headers["ETag"] != calendar.headers["ETag"]


@pytest.mark.parametrize("path, feed_path", [("/groups/head", "/groups/head/events.atom"),
                                             ("/events", "/events.atom"), ("/events?when=past", "/events.atom")])
def test_pages_name_their_atom_feed_in_head(client, session, path, feed_path, app):
    create_group(slug="head")
    session.commit()
    soup = BeautifulSoup(client.get(path).get_data(as_text=True), "html.parser")
    alternates = soup.head.select('link[rel="alternate"][type="application/atom+xml"]')
    assert [link["href"] for link in alternates] == [app.config["SITE_URL"] + feed_path]
    assert alternates[0]["title"].endswith("upcoming events")
