"""Browser: from the account page to "Your data", axe-clean, on a desktop and a phone; the
download link hands over the JSON file."""

from __future__ import annotations

import json
from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_event, create_group, create_user
from webapp.db import utcnow
from webapp.registrations import services as registrations


def test_a_member_reads_and_downloads_their_data(app, live_server, session, page, problems):
    group = create_group(slug="a11y", name="Accessibility in Libraries")
    member = create_user(email="rae.long.address.for.a.phone@example.org", display_name="Rae")
    event = create_event(group, title="Captions for everyone", starts_at=utcnow() + timedelta(days=3))
    registrations.register(session, event.id, member=member, accessibility_needs="Live captions, please", now=utcnow())
    session.commit()
    signed_in_cookie(page, app, live_server, member)

    page.goto(live_server.url + "/account")
    page.get_by_role("link", name="See your data").click()
    expect(page.get_by_role("heading", name="Your data", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="Your registrations")).to_contain_text("Live captions, please")
    assert_accessible(page, "your data")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download it all (JSON)").click()
    data = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert data["registrations"][0]["accessibility_needs"] == "Live captions, please"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    assert_accessible(page, "your data on a phone")
    page.screenshot(path="/tmp/yourdata-phone.png", full_page=True)
