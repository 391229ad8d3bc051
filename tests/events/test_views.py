from datetime import timedelta

from tests.factories import create_event, create_group
from webapp.db import utcnow
from webapp.events.models import EventStatus


def test_events_page_lists_upcoming_events_soonest_first(client, session):
    group = create_group(name="Web Archiving")
    create_event(group, title="Later meetup", starts_at=utcnow() + timedelta(days=9))
    create_event(group, title="Sooner meetup", starts_at=utcnow() + timedelta(days=2))
    create_event(group, title="Old meetup", starts_at=utcnow() - timedelta(days=9))
    session.commit()

    html = client.get("/events").get_data(as_text=True)

    assert html.index("Sooner meetup") < html.index("Later meetup")
    assert "Old meetup" not in html
    assert "2 upcoming events" in html


def test_past_events_are_reachable_latest_first(client, session):
    create_event(title="Long ago", starts_at=utcnow() - timedelta(days=30))
    create_event(title="Last week", starts_at=utcnow() - timedelta(days=7))
    create_event(title="Next week")
    session.commit()

    html = client.get("/events?when=past").get_data(as_text=True)

    assert html.index("Last week") < html.index("Long ago")
    assert "Next week" not in html


def test_search_matches_title_and_group_name_case_insensitively(client, session):
    archiving = create_group(name="Web Archiving", slug="web-archiving")
    create_event(archiving, title="Crawling the city")
    create_event(title="Privacy during lockdown")
    session.commit()

    by_group = client.get("/events?q=web%20ARCHIVING").get_data(as_text=True)
    by_title = client.get("/events?q=privacy").get_data(as_text=True)

    assert "Crawling the city" in by_group and "Privacy during lockdown" not in by_group
    assert "Privacy during lockdown" in by_title and "Crawling the city" not in by_title


def test_search_treats_like_wildcards_as_plain_text(client, session):
    create_event(title="100% digital")
    create_event(title="Something else")
    session.commit()

    html = client.get("/events?q=%25").get_data(as_text=True)

    assert "100% digital" in html
    assert "Something else" not in html


def test_filters_by_group_format_and_date_range(client, session):
    ux = create_group(name="UX in Libraries", slug="ux")
    soon = utcnow() + timedelta(days=3)
    create_event(ux, title="UX online", starts_at=soon)
    create_event(ux, title="UX in person", is_online=False, venue_name="METRO", starts_at=soon)
    create_event(ux, title="UX much later", starts_at=utcnow() + timedelta(days=60))
    create_event(title="METRO hosted chat", starts_at=soon)
    session.commit()

    start = (utcnow() + timedelta(days=1)).date().isoformat()
    end = (utcnow() + timedelta(days=10)).date().isoformat()
    html = client.get(f"/events?group=ux&format=online&start={start}&end={end}").get_data(as_text=True)
    assert "UX online" in html
    assert "UX in person" not in html
    assert "UX much later" not in html
    assert "METRO hosted chat" not in html

    metro = client.get("/events?group=metro").get_data(as_text=True)
    assert "METRO hosted chat" in metro and "UX online" not in metro


def test_bad_dates_get_a_message_not_an_error(client, session):
    create_event(title="Still listed")
    session.commit()

    response = client.get("/events?start=not-a-date&end=2026-01-01&page=abc&format=telepathy")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Use a date like 2026-12-01." in html
    assert 'value="not-a-date"' not in html


def test_end_before_start_is_explained(client, session):
    response = client.get("/events?start=2027-02-01&end=2027-01-01")
    assert "The end date is before the start date." in response.get_data(as_text=True)


def test_htmx_filter_request_gets_only_the_results_fragment_and_a_clean_url(client, session):
    create_event(title="Fragment event")
    session.commit()

    response = client.get("/events?q=fragment&group=&format=", headers={"HX-Request": "true"})

    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="event-results"')
    assert "<html" not in html and "<form" not in html
    assert "Fragment event" in html
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["HX-Push-Url"] == "/events?q=fragment"


def test_history_restore_and_boosted_requests_get_the_whole_page(client, session):
    for header in ("HX-History-Restore-Request", "HX-Boosted"):
        response = client.get("/events", headers={"HX-Request": "true", header: "true"})
        assert "<html" in response.get_data(as_text=True)


def test_load_more_pages_through_results(app, client, session):
    app.config["EVENTS_PAGE_SIZE"] = 2
    for day in range(1, 6):
        create_event(title=f"Event day {day}", starts_at=utcnow() + timedelta(days=day))
    session.commit()

    first = client.get("/events").get_data(as_text=True)
    assert "Event day 2" in first and "Event day 3" not in first
    assert 'href="/events?page=2"' in first

    more = client.get("/events?page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert more.lstrip().startswith("<li>")
    assert "Event day 3" in more and "Event day 4" in more and "Event day 2" not in more
    assert "/events?page=3" in more

    last = client.get("/events?page=3", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Event day 5" in last and "Load more" not in last


def test_event_page_shows_new_york_time_with_zone_and_hides_meeting_link(client, session):
    from datetime import UTC, datetime

    group = create_group(name="PLSN", slug="plsn")
    create_event(
        group,
        slug="book-club",
        title="Book club",
        capacity=20,
        starts_at=datetime(2030, 1, 17, 23, 0, tzinfo=UTC),  # 6 PM EST
        ends_at=datetime(2030, 1, 18, 0, 30, tzinfo=UTC),
        meeting_url="https://zoom.us/j/999000111",
    )
    session.commit()

    html = client.get("/events/book-club").get_data(as_text=True)

    assert "Thursday, January 17, 2030" in html
    assert "6\u202fPM\u20137:30\u202fPM EST" in html
    assert "20 of 20 seats left" in html
    assert "zoom.us/j/999000111" not in html


def test_summer_event_is_shown_in_daylight_time(client, session):
    from datetime import UTC, datetime

    create_event(
        slug="summer", starts_at=datetime(2030, 7, 1, 16, 0, tzinfo=UTC),
        ends_at=datetime(2030, 7, 1, 17, 0, tzinfo=UTC),
    )
    session.commit()
    assert "12\u202fPM\u20131\u202fPM EDT" in client.get("/events/summer").get_data(as_text=True)


def test_full_event_shows_waitlist(client, session):
    create_event(slug="full", capacity=2, confirmed_count=2)
    session.commit()
    assert "waitlist" in client.get("/events/full").get_data(as_text=True).lower()


def test_unknown_and_draft_events_are_404(client, session):
    create_event(slug="secret-draft", status=EventStatus.DRAFT)
    session.commit()
    assert client.get("/events/no-such-event").status_code == 404
    assert client.get("/events/secret-draft").status_code == 404
    assert "secret-draft" not in client.get("/events").get_data(as_text=True)


def test_cancelled_event_says_so(client, session):
    create_event(slug="called-off", status=EventStatus.CANCELLED)
    session.commit()
    html = client.get("/events/called-off").get_data(as_text=True)
    assert "This event has been cancelled." in html


def test_markdown_description_is_rendered_without_raw_html(client, session):
    create_event(slug="md", description="**Bold** <script>alert(1)</script> [x](javascript:alert(1))")
    session.commit()
    html = client.get("/events/md").get_data(as_text=True)
    assert "<strong>Bold</strong>" in html
    assert "<script>alert(1)" not in html
    assert "href=\"javascript:" not in html


def test_titles_are_escaped(client, session):
    create_event(slug="xss", title="<img src=x onerror=alert(1)>")
    session.commit()
    html = client.get("/events/xss").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
