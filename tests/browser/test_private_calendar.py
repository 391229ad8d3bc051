"""Browser: a member finds their private calendar's address on the account page, copies it, resets it
with the keyboard alone (the old address stops at once), and finds the same feed on My events.
Every state axe-checked."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.keyboard import assert_focus_visible, tab_to
from tests.factories import create_user


def test_a_member_copies_and_resets_their_calendar_address(live_server, session, page, problems):
    create_user(email="ada@example.org", display_name="Ada Lovelace")
    session.commit()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, live_server, session, "ada@example.org")
    page.goto(live_server.url + "/account")

    box = page.get_by_role("region", name="Your events in your calendar")
    address = box.get_by_label("Calendar address, for any other app")
    old = address.input_value()
    assert "/my/calendar/" in old and old.endswith(".ics")
    expect(box.get_by_role("link", name="Google Calendar")).to_be_visible()
    assert page.request.get(live_server.url + urlsplit(old).path).status == 200
    assert_accessible(page, "(account page, private calendar)")

    tab_to(page, "Copy address", role="button")
    page.keyboard.press("Enter")
    expect(box.locator("#private-calendar-copy-status")).to_have_text("Address copied")
    assert page.evaluate("navigator.clipboard.readText()") == old

    # Reset asks first, in words, then makes a new address; all by keyboard.
    summary = box.locator("summary", has_text="Reset the address")
    # A <summary> has no name in the accessibility snapshot keyboard.tab_to reads: Tab until it is focused.
    tab_to(page, "Copy address", role="button")
    page.keyboard.press("Tab")
    expect(summary).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(box.get_by_text("The old address stops working at once")).to_be_visible()
    assert_accessible(page, "(reset question open)")
    tab_to(page, "Yes, make a new address", role="button")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    notice = box.get_by_text("The old one has stopped working")
    expect(notice).to_be_visible()
    expect(page.locator("#private-calendar .notice")).to_be_focused()
    new = address.input_value()
    assert new != old
    assert page.request.get(live_server.url + urlsplit(old).path).status == 404
    assert page.request.get(live_server.url + urlsplit(new).path).status == 200
    assert_accessible(page, "(after reset)")

    # My events subscribes to the same (new) feed; still signed in.
    page.goto(live_server.url + "/my/events")
    subscribe = page.get_by_role("region", name="Subscribe")
    expect(subscribe.get_by_label("Calendar address, for any other app")).to_have_value(new)
    expect(subscribe.get_by_role("link", name="Apple Calendar and other apps")).to_have_attribute(
        "href", new.replace("http://", "webcal://", 1))
    assert_accessible(page, "(My events with Subscribe)")
