"""An event's page as anyone sees it: add to calendar and share before registering, where an in-person
event is, the time in the visitor's own zone, and the page on a phone, by keyboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageProblems, assert_accessible
from tests.factories import create_event, create_group

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 720}
# Thursday 10 December 2099, 6–7:30 PM in New York: in Berlin, 12:00–1:30 AM on Friday.
STARTS = datetime(2099, 12, 10, 23, 0, tzinfo=UTC)
MEETING = "https://zoom.us/j/987654321?pwd=secret"
# Longer than the facts column, as real descriptions are: the column then has room to stick.
LONG_TEXT = "\n\n".join(["Back in 2016, METRO and XFR Collective built an audio/video digitization rack "
                          "for community use; we will talk about how projects are scoped and decks kept running."] * 12)
LONG_SLUG = "preserving-community-audiovisual-collections-with-xfr-collective-and-friends"


@pytest.fixture
def events(session):
    group = create_group(name="Web Archiving Interest Group", slug="web-archiving")
    online = create_event(group, slug="crawl-night", title="Crawl Night", starts_at=STARTS,
                          ends_at=STARTS + timedelta(minutes=90), meeting_url=MEETING)
    in_person = create_event(None, slug=LONG_SLUG, title="Preserving community audiovisual collections together",
                             is_online=False, venue_name="METRO", meeting_url=None, description=LONG_TEXT,
                             venue_address="METRO, 599 Eleventh Avenue, 8th Floor, New York, NY 10036",
                             starts_at=STARTS + timedelta(days=1), ends_at=STARTS + timedelta(days=1, hours=2))
    session.commit()
    return {"online": online, "in_person": in_person}


def open_page(browser, url, **context_options):
    """A page in a browser context of its own (a time zone, a phone), its console watched."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(url)
    return context, page, problems


def test_anyone_signed_out_can_add_the_event_to_their_calendar(live_server, events, page, problems):
    page.goto(live_server.url + "/events/crawl-night")

    calendar = page.get_by_role("region", name="Add to calendar")
    expect(calendar.get_by_role("link")).to_have_text(
        ["Calendar file (.ics)", "Google Calendar", "Outlook.com", "Outlook (Microsoft 365)"])
    expect(calendar.get_by_role("link", name="Google Calendar")).to_have_attribute(
        "href", re.compile(r"^https://calendar\.google\.com/calendar/render\?.*dates=20991210T230000Z%2F20991211T003000Z"))
    expect(calendar.get_by_role("link", name="Outlook.com")).to_have_attribute(
        "href", re.compile(r"^https://outlook\.live\.com/calendar/deeplink/compose\?.*startdt=2099-12-10T23%3A00%3A00Z"))
    expect(calendar.get_by_role("link", name="Outlook (Microsoft 365)")).to_have_attribute(
        "href", re.compile(r"^https://outlook\.office\.com/calendar/deeplink/compose\?"))
    # The registration panel has not been touched: nobody is registered, the choices are there anyway.
    expect(page.get_by_role("button", name="Register")).to_be_visible()
    with page.expect_download() as download:
        calendar.get_by_role("link", name="Calendar file (.ics)").click()
    ics = download.value.path().read_text()
    assert "SUMMARY:Crawl Night" in ics and "DTSTART:20991210T230000Z" in ics
    assert "zoom.us" not in page.content() and "zoom.us" not in ics
    assert_accessible(page, "(event page, signed out)")


def test_the_share_button_copies_the_link_and_says_so_where_there_is_no_share_sheet(live_server, events, page,
                                                                                    problems):
    # A browser without the Web Share API (most desktops); the clipboard records what it is given.
    page.add_init_script("""
        delete Navigator.prototype.share;
        window.__copied = [];
        Object.defineProperty(navigator, 'clipboard', {value: {
            writeText: text => { window.__copied.push(text); return Promise.resolve(); }}});
    """)
    page.goto(live_server.url + "/events/crawl-night")

    share = page.get_by_role("region", name="Share")
    button = share.get_by_role("button", name="Copy link")
    button.focus()
    page.keyboard.press("Enter")

    expect(share.get_by_role("status")).to_have_text("Link copied")
    assert page.evaluate("window.__copied") == ["http://meetups.test/events/crawl-night"]
    assert share.get_by_role("status").get_attribute("aria-live") == "polite"
    assert_accessible(page, "(link copied)")


def test_the_share_button_opens_the_share_sheet_where_there_is_one(live_server, events, page, problems):
    page.add_init_script("""
        window.__shared = [];
        navigator.share = data => { window.__shared.push(data); return Promise.resolve(); };
    """)
    page.goto(live_server.url + "/events/crawl-night")

    page.get_by_role("region", name="Share").get_by_role("button", name="Share").click()

    assert page.evaluate("window.__shared") == [{"title": "Crawl Night", "url": "http://meetups.test/events/crawl-night"}]


def test_without_script_the_link_itself_is_there_to_copy(live_server, events, browser):
    context, page, _ = open_page(browser, live_server.url + "/events/crawl-night", java_script_enabled=False)

    share = page.get_by_role("region", name="Share")
    expect(share.get_by_role("link", name="http://meetups.test/events/crawl-night")).to_be_visible()
    expect(share.get_by_role("button")).to_be_hidden()  # a button that could do nothing is not shown
    expect(page.get_by_role("region", name="Add to calendar").get_by_role("link")).to_have_count(4)
    expect(page.get_by_text("in your time zone")).to_have_count(0)
    context.close()


def test_a_visitor_in_berlin_also_sees_the_time_in_their_own_zone(live_server, events, browser):
    context, page, problems = open_page(browser, live_server.url + "/events/crawl-night", timezone_id="Europe/Berlin")

    facts = page.get_by_role("complementary", name="When and where")
    expect(facts).to_contain_text("6\u202fPM\u20137:30\u202fPM EST")
    expect(facts.locator(".local-time")).to_have_text(
        re.compile(r"^12:00–1:30\sAM in your time zone \(Europe/Berlin\), Friday$"))
    assert_accessible(page, "(Berlin)")

    # On the event cards too, also those htmx brings in when the list is filtered.
    page.goto(live_server.url + "/events")
    card = page.locator("#event-results article", has_text="Crawl Night")
    expect(card).to_contain_text(re.compile(r"12:00–1:30\sAM in your time zone \(Europe/Berlin\), Friday"))
    page.get_by_label("Search").fill("crawl")
    expect(page).to_have_url(re.compile(r"q=crawl"))
    expect(page.locator("#event-results article")).to_have_count(1)
    expect(page.locator("#event-results .local-time")).to_have_count(1)
    # In-person events are in New York time only: that is where the visitor will be.
    page.goto(live_server.url + f"/events/{LONG_SLUG}")
    expect(page.get_by_text("in your time zone")).to_have_count(0)
    problems.assert_none()
    context.close()


def test_a_visitor_in_new_york_sees_new_york_time_only(live_server, events, browser):
    context, page, problems = open_page(browser, live_server.url + "/events/crawl-night",
                                        timezone_id="America/New_York")

    facts = page.get_by_role("complementary", name="When and where")
    expect(facts.locator("time[data-site-zone='America/New_York']")).to_have_text("6\u202fPM\u20137:30\u202fPM EST")
    # The script has run (it shows the share button) and found nothing to add.
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()
    expect(page.get_by_text("in your time zone")).to_have_count(0)
    page.goto(live_server.url + "/events")
    expect(page.locator("#event-results article")).to_have_count(2)
    expect(page.get_by_text("in your time zone")).to_have_count(0)
    problems.assert_none()
    context.close()


def test_an_in_person_event_names_its_venue_once_and_links_the_address_to_a_map(live_server, events, page,
                                                                              problems):
    page.goto(live_server.url + f"/events/{LONG_SLUG}")

    facts = page.get_by_role("complementary", name="When and where")
    expect(facts).not_to_contain_text("METRO, 599")
    address = facts.get_by_role("link", name=re.compile(r"^599 Eleventh Avenue, 8th Floor, New York, NY 10036"))
    expect(address).to_have_attribute(
        "href", "https://www.openstreetmap.org/search?query=599%20Eleventh%20Avenue%2C%208th%20Floor%2C%20New%20York"
                "%2C%20NY%2010036")
    expect(address).to_have_attribute("rel", "noopener noreferrer")

    page.goto(live_server.url + "/events")
    expect(page.locator("#event-results article", has_text="Preserving community")).to_contain_text(
        "In person · METRO, Manhattan")
    expect(page.locator("#event-results article", has_text="Crawl Night").locator(".event-place")).to_have_text(
        "Online")
    assert_accessible(page, "(cards with places)")


@pytest.mark.parametrize(("viewport", "slug"), [(PHONE, "crawl-night"), (PHONE, LONG_SLUG), (LAPTOP, LONG_SLUG)],
                         ids=["phone-online", "phone-in-person", "laptop-in-person"])
def test_the_page_fits_and_every_control_is_reached_by_keyboard_in_view_with_focus_shown(
        live_server, events, browser, viewport, slug):
    # Reduced motion: focus scrolls the page at once instead of smoothly, so positions can be read.
    context, page, problems = open_page(browser, f"{live_server.url}/events/{slug}", viewport=viewport,
                                        timezone_id="Asia/Tokyo", reduced_motion="reduce")

    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], "the page scrolls sideways"
    controls = [page.get_by_role("region", name="Add to calendar").get_by_role("link", name=name)
                for name in ("Calendar file (.ics)", "Google Calendar", "Outlook.com", "Outlook (Microsoft 365)")]
    controls += [page.get_by_role("region", name="Share").get_by_role("link"),
                 page.get_by_role("region", name="Share").get_by_role("button", name="Copy link")]
    if slug == LONG_SLUG:
        controls.insert(0, page.get_by_role("link", name=re.compile("^599 Eleventh Avenue")))
    wanted = {control.evaluate("el => el.outerHTML") for control in controls}

    # Tab from the top of the page until every control has had the focus, each scrolled into view with its
    # ring showing (in a short laptop window too, beside a description longer than the facts column).
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const el = document.activeElement, box = el.getBoundingClientRect();
            return {html: el.outerHTML, outline: getComputedStyle(el).outlineStyle,
                    left: box.left, right: box.right, top: box.top, bottom: box.bottom};
        }""")
        if focused["html"] in wanted:
            assert focused["outline"] != "none", f"no visible focus on {focused['html']}"
            # (A pixel's leeway: the page scrolls by whole pixels, boxes are measured in fractions.)
            where = focused["html"]
            assert -1 <= focused["left"] and focused["right"] <= viewport["width"] + 1, f"off screen: {where}"
            assert -1 <= focused["top"] and focused["bottom"] <= viewport["height"] + 1, f"out of view: {where}"
            reached.add(focused["html"])
        if reached == wanted:
            break
    assert reached == wanted, f"not reached by Tab: {wanted - reached}"
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert_accessible(page, f"({viewport['width']} px)")
    problems.assert_none()
    context.close()
