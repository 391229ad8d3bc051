"""Series over HTTP: an organizer's New series form (every value checked, typed values kept), the
series page with each session's seats and the member's place, Register for all / Cancel all
remaining, the calendar feed, and editing a session "only" or "and all following"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from tests.conftest import post_form as post
from tests.factories import create_cast, create_group, create_user
from tests.series.helpers import NY, series_fields
from tests.support.html import by_id, cells_by_column, parse, text
from tests.support.outbox import mails
from webapp.db import utcnow
from webapp.events.models import Event
from webapp.registrations import services as registrations
from webapp.series import services
from webapp.series.models import Series

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


@pytest.fixture
def world(session):
    group = create_group(slug="metro-chat", name="METRO Community Chat")
    other = create_group(slug="archives")
    people = create_cast(group, other)
    session.commit()
    return dict(group=group, **people)


def series_form(**changes) -> dict:
    first = (utcnow().astimezone(NY) + timedelta(days=5)).date()
    data = dict(title="Community Chat", description="Presenters welcome.", recurrence="biweekly", custom_rule="",
                first_on=first.isoformat(), start_time="18:00", length_minutes="60", end_kind="count",
                end_count="8", end_on="", meeting_format="online", meeting_url="https://zoom.us/j/42",
                venue_name="", venue_address="", venue_accessibility="", capacity="2")
    data.update(changes)
    return data


def count_series(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Series.id)))


def test_an_organizer_creates_a_bi_weekly_series_and_lands_on_its_page(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    form_page = client.get("/groups/metro-chat/series/new")
    assert form_page.status_code == 200 and "Every two weeks" in form_page.get_data(as_text=True)
    response = post(client, "/groups/metro-chat/series/new", series_form())
    assert response.status_code == 303 and response.location.endswith("/series/community-chat")
    page = client.get("/series/community-chat").get_data(as_text=True)
    rows = by_id(page, "series-panel").select("tbody tr")
    assert len(rows) == 7  # the 8th is past the 90-day horizon
    assert all(cells_by_column(row)["Seats"] == "2 of 2 seats left" for row in rows)
    assert all(cells_by_column(row)["You"] == "Not registered" for row in rows)
    assert "Every two weeks on" in page and "6:00 PM New York time · 8 sessions in all" in page
    assert "Register for all 7 sessions" in page
    assert text(by_id(page, "later-sessions")).startswith("1 more session will be added as its date comes near")


@pytest.mark.parametrize("who, status", [("member", 403), ("other_organizer", 403)])
def test_only_the_groups_organizers_may_create_a_series(signed_in_client, world, session, who, status):
    client = signed_in_client(world[who])
    assert client.get("/groups/metro-chat/series/new").status_code == status
    assert post(client, "/groups/metro-chat/series/new", series_form()).status_code == status
    assert count_series(session) == 0


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    response = client.get("/groups/metro-chat/series/new")
    assert response.status_code == 302 and "/sign-in" in response.location


def test_a_post_without_the_csrf_token_is_refused(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    assert client.post("/groups/metro-chat/series/new", data=series_form()).status_code == 400
    assert count_series(session) == 0


@pytest.mark.parametrize("changes, field_id, message", [
    (dict(title=""), "series-title", "Please give the event a title."),
    (dict(title="<b>Chat</b>"), "series-title", ""),
    (dict(recurrence="hourly"), "series-recurrence", "Please choose how often"),
    (dict(recurrence="custom", custom_rule="FREQ=WEEKLY;COUNT=9999"), "series-custom-rule", "Leave COUNT out"),
    (dict(recurrence="custom", custom_rule="DTSTART:2027\x00"), "series-custom-rule", "an invisible character"),
    (dict(recurrence="custom", custom_rule="nonsense"), "series-custom-rule", "isn’t a rule part"),
    (dict(first_on="2020-01-01"), "series-first-on", "today or later"),
    (dict(first_on="next tuesday"), "series-first-on", "like 2027-01-12"),
    (dict(first_on="2099-01-01"), "series-first-on", "within 3 years"),
    (dict(start_time="25:00"), "series-start-time", "like 18:00"),
    (dict(length_minutes="0"), "series-length", "from 5 to 720"),
    (dict(length_minutes="9" * 50), "series-length", "from 5 to 720"),
    (dict(end_count="0"), "series-end-count", "from 1 to 200"),
    (dict(end_count="5000"), "series-end-count", "from 1 to 200"),
    (dict(end_kind="date", end_on="2020-01-01"), "series-end-on", "before the first session"),
    (dict(end_kind="forever"), "series-end-kind", "how the series ends"),
    (dict(capacity="-3"), "series-capacity", "Capacity must be"),
    (dict(meeting_url="http://insecure.example"), "series-meeting-url", "https://"),
    (dict(meeting_format="in_person", venue_name=""), "series-venue-name", "Please name the venue"),
    (dict(description="ünïcödé " * 3000), "series-description", "at most"),
])
def test_a_bad_value_is_refused_next_to_its_field_with_everything_typed_kept(
        signed_in_client, world, session, changes, field_id, message):
    client = signed_in_client(world["organizer"])
    data = series_form(**changes)
    response = post(client, "/groups/metro-chat/series/new", data)
    assert response.status_code == 422
    assert count_series(session) == 0
    page = response.get_data(as_text=True)
    field = by_id(page, f"{field_id}-field")
    assert "field-error" in str(field) and message in text(field)
    assert by_id(page, "series-title")["value"] == data["title"]


def test_the_series_page_shows_each_sessions_seats_and_the_members_place(signed_in_client, world, session):
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now, capacity=1), actor=None, now=now)
    made = services.sessions_of(session, series.id)
    registrations.register(session, made[1].id, member=create_user(), now=now)
    session.commit()
    client = signed_in_client(world["member"])
    page = client.get(f"/series/{series.slug}").get_data(as_text=True)
    assert "Register for all 7 sessions" in page

    response = post(client, f"/series/{series.slug}/register", {})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    day = made[1].starts_at.astimezone(NY)
    assert f"Registered for 6 sessions; waitlisted for 1 (full): {day:%a}, {day:%b} {day.day}" in page
    rows = [cells_by_column(row) for row in by_id(page, "series-panel").select("tbody tr")]
    assert rows[0]["You"] == "Registered" and rows[0]["Seats"] == "Full · waitlist open"
    assert rows[1]["You"] == "Waitlisted (#1 in line)"
    assert "Cancel all remaining sessions" in page and "Register for all" not in page
    assert [m.kind for m in mails(session, recipient="member@example.org")] == ["series_registration"]

    response = post(client, f"/series/{series.slug}/cancel", {})
    page = response.get_data(as_text=True)
    assert "Cancelled 7 sessions. New sessions won’t register you." in page
    rows = [cells_by_column(row) for row in by_id(page, "series-panel").select("tbody tr")]
    assert all(row["You"] == "Not registered" for row in rows)


def test_htmx_gets_the_series_panel_alone(signed_in_client, world, session):
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    session.commit()
    client = signed_in_client(world["member"])
    response = post(client, f"/series/{series.slug}/register", {}, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="series-panel"') and "<html" not in html


def test_registering_for_a_series_signed_out_asks_to_sign_in_and_needs_the_csrf_token(client, signed_in_client, world,
                                                                              session):
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    session.commit()
    response = post(client, f"/series/{series.slug}/register", {})
    assert response.status_code == 303 and "/sign-in" in response.location
    signed_in = signed_in_client(world["member"])
    assert signed_in.post(f"/series/{series.slug}/register").status_code == 400
    assert mails(session) == []


def test_registering_for_a_series_counts_towards_the_members_limit(app, signed_in_client, world, session):
    app.config["REGISTRATION_LIMIT_PER_MEMBER"] = "1 per hour"
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    session.commit()
    client = signed_in_client(world["member"])
    assert post(client, f"/series/{series.slug}/register", {}).status_code == 200
    refused = post(client, f"/series/{series.slug}/cancel", {})
    assert refused.status_code == 429 and "many times in a short while" in refused.get_data(as_text=True)
    assert len(mails(session, recipient="member@example.org")) == 1


def test_an_unknown_series_is_not_found(client, world):
    assert client.get("/series/nope").status_code == 404
    assert client.get("/series/nope/calendar.ics").status_code == 404
    assert client.get("/series/%00").status_code in (400, 404)


def test_the_series_calendar_feed_lists_every_session_with_its_new_york_time(client, world, session):
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    session.commit()
    response = client.get(f"/series/{series.slug}/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 7
    assert all(e.decoded("DTSTART").astimezone(NY).hour == 18 for e in events)
    assert calendar.walk("VTIMEZONE") and b"zoom.us" not in response.data  # never the meeting link


def test_an_event_page_of_a_session_links_to_its_series(client, world, session):
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    first = services.sessions_of(session, series.id)[0]
    session.commit()
    page = client.get(f"/events/{first.slug}").get_data(as_text=True)
    link = parse(page).select_one(".event-series a")
    assert link["href"] == f"/series/{series.slug}"


def test_editing_a_session_asks_only_this_or_all_following_and_does_what_was_chosen(signed_in_client, world,
                                                                                   session):
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    made = services.sessions_of(session, series.id)
    slugs = [e.slug for e in made]
    session.commit()
    client = signed_in_client(world["organizer"])
    form = client.get(f"/events/{slugs[2]}/edit").get_data(as_text=True)
    assert "This session only" in form and "This and all following sessions" in form

    def edit(slug, scope, title):
        start = next(e for e in made if e.slug == slug).starts_at.astimezone(NY)
        return post(client, f"/events/{slug}/edit", dict(
            title=title, description="Presenters welcome.", starts_at=f"{start:%Y-%m-%dT%H:%M}",
            ends_at=f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M}", meeting_format="online",
            meeting_url="https://zoom.us/j/42", capacity="", scope=scope))

    assert edit(slugs[2], "this", "Special session").status_code == 303
    assert edit(slugs[1], "following", "Renamed chat").status_code == 303
    session.expire_all()
    titles = [session.scalar(select(Event.title).where(Event.slug == s)) for s in slugs]
    assert titles[0] == "Community Chat" and titles[1] == "Renamed chat"
    assert titles[2] == "Special session" and set(titles[3:]) == {"Renamed chat"}


def test_the_group_page_lists_its_running_series(client, world, session):
    assert "series-title" not in client.get("/groups/metro-chat").get_data(as_text=True)
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    session.commit()
    page = client.get("/groups/metro-chat").get_data(as_text=True)
    link = by_id(page, "series-title").find_parent("section").find("a")
    assert link["href"] == f"/series/{series.slug}" and text(link) == "Community Chat"


def test_the_series_feed_answers_304_until_a_session_is_edited_or_added(client, world, session):
    now = utcnow()
    series = services.create_series(session, world["group"], series_fields(now), actor=None, now=now)
    session.commit()
    url = f"/series/{series.slug}/calendar.ics"
    first = client.get(url)
    etag = first.headers["ETag"].strip('"')
    assert first.status_code == 200 and first.headers["Last-Modified"] and "no-cache" in first.headers["Cache-Control"]
    by_etag = client.get(url, headers={"If-None-Match": f'"{etag}"'})
    assert by_etag.status_code == 304 and by_etag.data == b""
    assert client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304

    made = services.sessions_of(session, series.id)
    made[3].title = "Special session"
    made[3].updated_at = now + timedelta(seconds=5)
    session.commit()
    edited = client.get(url, headers={"If-None-Match": f'"{etag}"'})
    assert edited.status_code == 200 and b"Special session" in edited.data
    assert edited.headers["ETag"].strip('"') != etag

    etag = edited.headers["ETag"].strip('"')
    services.materialize_sessions(session, series.id, now=now + timedelta(days=28))
    session.commit()
    assert len(services.sessions_of(session, series.id)) > len(made)
    grown = client.get(url, headers={"If-None-Match": f'"{etag}"'})
    assert grown.status_code == 200 and grown.headers["ETag"].strip('"') != etag
