"""The iCalendar subscription feeds, read back with vobject (icalendar wrote them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import vobject

from tests.factories import create_event, create_group
from webapp.db import utcnow
from webapp.events.models import EventStatus

NEW_YORK = ZoneInfo("America/New_York")


def read_calendar(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    return vobject.readOne(response.get_data(as_text=True))


def vevents(calendar) -> dict[str, object]:
    return {str(v.summary.value): v for v in getattr(calendar, "vevent_list", [])}


@pytest.fixture
def freeze(monkeypatch, app):
    """Sets the feeds' clock: freeze(datetime) and every feed request after it sees that instant.

    The page cache is emptied too, as PAGECACHE_SECONDS would empty it while real time passes."""
    def set_now(now: datetime):
        monkeypatch.setattr("webapp.feeds.views.utcnow", lambda: now)
        app.extensions["pagecache"].clear()
    return set_now


def test_group_feed_lists_published_events_with_stable_uid_sequence_and_no_meeting_link(client, session, app):
    group = create_group(slug="web-archiving", name="Web Archiving")
    other = create_group(slug="other")
    upcoming = create_event(group, title="Crawl night", meeting_url="https://zoom.us/j/999000111", sequence=3)
    recent = create_event(group, title="Last month", starts_at=utcnow() - timedelta(days=30))
    create_event(group, title="Long ago", starts_at=utcnow() - timedelta(days=120))
    create_event(group, title="Secret draft", status=EventStatus.DRAFT)
    create_event(other, title="Another group's")
    session.commit()

    calendar = read_calendar(client.get("/groups/web-archiving/calendar.ics"))

    events = vevents(calendar)
    assert set(events) == {"Crawl night", "Last month"}
    crawl = events["Crawl night"]
    site = app.config["SITE_URL"]
    assert crawl.uid.value == f"event-{upcoming.id}@{urlsplit(site).hostname}"
    assert int(crawl.sequence.value) == 3
    assert crawl.url.value == f"{site}/events/{upcoming.slug}"
    assert events["Last month"].uid.value == f"event-{recent.id}@{urlsplit(site).hostname}"
    body = client.get("/groups/web-archiving/calendar.ics").get_data(as_text=True)
    assert "zoom.us" not in body and "999000111" not in body
    assert str(calendar.x_wr_calname.value).startswith("Web Archiving")


def test_the_same_uid_and_sequence_as_the_event_file(client, session):
    group = create_group(slug="g")
    event = create_event(group, sequence=2)
    session.commit()
    single = vobject.readOne(client.get(f"/events/{event.slug}/calendar.ics").get_data(as_text=True))
    feed = read_calendar(client.get("/groups/g/calendar.ics"))
    assert single.vevent.uid.value == feed.vevent.uid.value
    assert single.vevent.sequence.value == feed.vevent.sequence.value == "2"


def test_site_feed_has_every_group_and_metro_events(client, session):
    create_event(create_group(), title="Group one")
    create_event(None, title="METRO's own")
    create_event(create_group(), title="A draft", status=EventStatus.DRAFT)
    session.commit()
    assert set(vevents(read_calendar(client.get("/calendar.ics")))) == {"Group one", "METRO's own"}


def test_unknown_group_is_404(client, session):
    assert client.get("/groups/no-such-group/calendar.ics").status_code == 404
    assert client.get("/groups/%3Cb%3E/calendar.ics").status_code == 404
    assert client.get("/groups/%00x/calendar.ics").status_code == 400  # the site refuses NUL in any URL
    assert client.get("/groups/" + "é" * 300 + "/calendar.ics").status_code == 404


def test_an_empty_feed_is_still_a_calendar(client, session):
    create_group(slug="quiet")
    session.commit()
    calendar = read_calendar(client.get("/groups/quiet/calendar.ics"))
    assert vevents(calendar) == {}


@pytest.mark.parametrize("day", ["2027-03-14", "2027-11-07"])  # the Sundays clocks change in New York
def test_dst_days_keep_new_york_wall_time(client, session, freeze, day):
    freeze(datetime(2027, 1, 10, tzinfo=UTC))
    group = create_group(slug="dst")
    starts = datetime.fromisoformat(f"{day}T18:00").replace(tzinfo=NEW_YORK)
    morning = datetime.fromisoformat(f"{day}T01:30").replace(tzinfo=NEW_YORK, fold=0)
    create_event(group, title="Evening", starts_at=starts.astimezone(UTC),
                 ends_at=(starts + timedelta(hours=2)).astimezone(UTC))
    create_event(group, title="Early", starts_at=morning.astimezone(UTC),
                 ends_at=morning.astimezone(UTC) + timedelta(hours=3))
    session.commit()

    response = client.get("/groups/dst/calendar.ics")
    calendar = read_calendar(response)
    body = response.get_data(as_text=True)
    assert "BEGIN:VTIMEZONE" in body and "TZID:America/New_York" in body
    assert "DTSTART;TZID=America/New_York:" + day.replace("-", "") + "T180000" in body
    events = vevents(calendar)
    evening = events["Evening"].dtstart.value
    # vobject resolves the TZID through the file's own VTIMEZONE: the instant is the one stored.
    assert evening.astimezone(UTC) == starts.astimezone(UTC)
    assert evening.astimezone(NEW_YORK).hour == 18
    early = events["Early"]
    assert early.dtstart.value.astimezone(UTC) == morning.astimezone(UTC)
    assert early.dtend.value.astimezone(UTC) - early.dtstart.value.astimezone(UTC) == timedelta(hours=3)


def test_cancelled_event_is_kept_as_cancelled_then_dropped(client, session, freeze, app):
    group = create_group(slug="c")
    cancelled_on = datetime(2027, 5, 1, 12, tzinfo=UTC)
    create_event(group, title="Called off", starts_at=cancelled_on + timedelta(days=10),
                 status=EventStatus.CANCELLED, updated_at=cancelled_on, sequence=1)
    session.commit()
    days = app.config["FEED_CANCELLED_DAYS"]

    freeze(cancelled_on + timedelta(days=days - 1))
    kept = vevents(read_calendar(client.get("/groups/c/calendar.ics")))["Called off"]
    assert kept.status.value == "CANCELLED"
    assert int(kept.sequence.value) == 1

    freeze(cancelled_on + timedelta(days=days + 1))
    assert vevents(read_calendar(client.get("/groups/c/calendar.ics"))) == {}


def test_markup_and_non_ascii_titles_round_trip(client, session):
    group = create_group(slug="m", name="Bibliothèques & <Archives>")
    create_event(group, title='Ünïcødé </script><b>"bold"</b>; a, b\\c — 東京')
    session.commit()
    calendar = read_calendar(client.get("/groups/m/calendar.ics"))
    assert set(vevents(calendar)) == {'Ünïcødé </script><b>"bold"</b>; a, b\\c — 東京'}
    assert calendar.x_wr_calname.value.startswith("Bibliothèques & <Archives>")


class TestConditional:
    def test_etag_and_last_modified_answer_304(self, client, session):
        group = create_group(slug="poll")
        create_event(group)
        session.commit()
        first = client.get("/groups/poll/calendar.ics")
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert etag and modified

        by_etag = client.get("/groups/poll/calendar.ics", headers={"If-None-Match": etag})
        assert by_etag.status_code == 304 and by_etag.data == b""
        assert by_etag.headers["ETag"] == etag
        by_date = client.get("/groups/poll/calendar.ics", headers={"If-Modified-Since": modified})
        assert by_date.status_code == 304

    def test_304_needs_one_query_per_answer_and_no_rendering(self, client, session, monkeypatch, app):
        from tests.support.queries import count_queries

        group = create_group(slug="cheap")
        for _ in range(5):
            create_event(group)
        session.commit()
        etag = client.get("/groups/cheap/calendar.ics").headers["ETag"]
        monkeypatch.setattr("webapp.feeds.views.feed_ics", lambda *a, **k: pytest.fail("rendered for a 304"))
        app.extensions["pagecache"].clear()  # the view's own answer, as when the cached copy expired
        with count_queries() as statements:
            assert client.get("/groups/cheap/calendar.ics", headers={"If-None-Match": etag}).status_code == 304
        assert sum("FROM events" in s for s in statements) == 1, statements

    def test_an_edit_changes_the_etag(self, client, session):
        group = create_group(slug="edit")
        event = create_event(group, title="Before")
        session.commit()
        etag = client.get("/groups/edit/calendar.ics").headers["ETag"]
        event.title = "After"
        session.commit()
        response = client.get("/groups/edit/calendar.ics", headers={"If-None-Match": etag})
        assert response.status_code == 200 and "After" in response.get_data(as_text=True)
        assert response.headers["ETag"] != etag

    def test_an_event_leaving_the_window_changes_both(self, client, session, freeze, app):
        group = create_group(slug="aging")
        ended = datetime(2027, 1, 1, 20, tzinfo=UTC)
        create_event(group, starts_at=ended - timedelta(hours=1), ends_at=ended, updated_at=ended)
        session.commit()
        freeze(ended + timedelta(days=app.config["FEED_PAST_DAYS"] - 1))
        first = client.get("/groups/aging/calendar.ics")
        assert len(vevents(read_calendar(first))) == 1
        freeze(ended + timedelta(days=app.config["FEED_PAST_DAYS"] + 1))
        for headers in ({"If-None-Match": first.headers["ETag"]},
                        {"If-Modified-Since": first.headers["Last-Modified"]}):
            later = client.get("/groups/aging/calendar.ics", headers=headers)
            assert later.status_code == 200
            assert vevents(read_calendar(later)) == {}

    def test_a_draft_changes_nothing(self, client, session):
        group = create_group(slug="drafty")
        create_event(group)
        session.commit()
        etag = client.get("/groups/drafty/calendar.ics").headers["ETag"]
        create_event(group, status=EventStatus.DRAFT)
        session.commit()
        assert client.get("/groups/drafty/calendar.ics", headers={"If-None-Match": etag}).status_code == 304


class TestPageCache:
    def test_a_second_poll_is_served_from_memory_and_its_304_too(self, client, session, app):
        from tests.support.queries import count_queries

        group = create_group(slug="cached")
        create_event(group)
        session.commit()
        cache = app.extensions["pagecache"]
        first = client.get("/groups/cached/calendar.ics")
        hits = cache.hits
        with count_queries() as statements:
            second = client.get("/groups/cached/calendar.ics")
            not_modified = client.get("/groups/cached/calendar.ics", headers={"If-None-Match": first.headers["ETag"]})
        assert cache.hits == hits + 2
        assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
        assert not_modified.status_code == 304 and not_modified.data == b""
        assert all("content_versions" in s for s in statements), statements


@pytest.mark.parametrize("tzid, rules", [
    ("America/New_York", {"DAYLIGHT": "2SU", "STANDARD": "1SU"}),
    ("Europe/Berlin", {"DAYLIGHT": "-1SU", "STANDARD": "-1SU"}),  # "last Sunday": day 25 to 31
])
def test_vtimezone_transitions_are_yearly_rules(tzid, rules):
    from datetime import date

    from webapp.events.calendar import vtimezone

    timezone = vtimezone(tzid, date(2026, 1, 1), date(2031, 1, 1))
    found = {}
    for part in timezone.subcomponents:
        if "RRULE" in part:
            byday = part["RRULE"]["BYDAY"]
            found[part.name] = byday[0] if isinstance(byday, list) else byday
            assert "RDATE" not in part
    assert found == rules
