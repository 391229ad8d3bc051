"""Calendars and feeds as a visitor meets them: the Subscribe box on a group page and on the events page,
the Atom feeds named in <head>, and the event page's schema.org data breaking nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.factories import create_event, create_group

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def group(session):
    group = create_group(name="Web Archiving Interest Group", slug="web-archiving")
    create_event(group, slug="crawl-night", title="Crawl Night </script> & friends")
    session.commit()
    return group


def tab_to(page, locator, limit: int = 80) -> None:
    """Press Tab until `locator` has the focus: it is reachable by keyboard alone."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            return
    pytest.fail(f"never reached by Tab: {locator}")


@pytest.mark.parametrize("path, feed, atom", [
    ("/groups/web-archiving", "/groups/web-archiving/calendar.ics", "/groups/web-archiving/events.atom"),
    ("/events", "/calendar.ics", "/events.atom"),
])
def test_subscribe_links_on_group_and_events_pages(live_server, group, page, problems, path, feed, atom):
    page.goto(live_server.url + path)

    # Feed readers and browser extensions find the Atom feed in <head>.
    alternate = page.locator('head link[rel="alternate"][type="application/atom+xml"]')
    expect(alternate).to_have_count(1)
    expect(alternate).to_have_attribute("href", re.compile(rf"^https?://[^/]+{re.escape(atom)}$"))

    box = page.get_by_role("region", name="Subscribe")
    expect(box.get_by_role("link", name="Apple Calendar and other apps")).to_have_attribute(
        "href", re.compile(rf"^webcal://[^/]+{re.escape(feed)}$"))
    google = box.get_by_role("link", name="Google Calendar")
    quoted_feed = re.escape(feed.replace("/", "%2F"))
    expect(google).to_have_attribute(
        "href", re.compile(rf"^https://calendar\.google\.com/calendar/r\?cid=webcal%3A%2F%2F.*{quoted_feed}$"))
    expect(box.get_by_role("link", name="Outlook.com")).to_have_attribute(
        "href", re.compile(r"^https://outlook\.live\.com/calendar/0/addfromweb\?url=https?%3A.*&name="))
    expect(box.get_by_role("link", name="Atom feed")).to_have_attribute(
        "href", re.compile(rf"{re.escape(atom)}$"))
    tab_to(page, google)
    assert_accessible(page, "with the Subscribe box")

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the feed address overflows"
    assert_accessible(page, "on a phone")


def test_event_page_carries_schema_org_data_without_a_csp_error(live_server, group, page, problems):
    page.goto(live_server.url + "/events/crawl-night")

    data_block = page.locator('head script[type="application/ld+json"]')
    expect(data_block).to_have_count(1)
    # The browser reads it back as the same data: the title's "</script>" did not end the element.
    data = page.evaluate("JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)")
    assert data["@type"] == "Event" and data["name"] == "Crawl Night </script> & friends"
    expect(page.get_by_role("heading", level=1)).to_have_text("Crawl Night </script> & friends")
    assert_accessible(page, "with JSON-LD")
    # `problems` fails the test on any console error or CSP violation: script-src 'self' must not
    # object to a data block (browsers never run it).
