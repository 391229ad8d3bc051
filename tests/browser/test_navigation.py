"""Browser: the main navigation leads members to "My events" and organizers to "My groups", and on a
phone it folds behind a Menu button that works by keyboard and without JavaScript (issue 18)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, hand_over, sign_in
from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.accounts.models import Role
from webapp.db import utcnow
from webapp.events.models import EventStatus
from webapp.groups.models import GroupOrganizer

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def people(session):
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    create_event(group, slug="linked-data-lunch", title="Linked Data Lunch", capacity=10,
                 starts_at=utcnow() + timedelta(days=5))
    create_event(group, slug="draft-meetup", title="Draft Meetup", status=EventStatus.DRAFT)
    create_user(email="ada@example.org", display_name="Ada Lovelace")
    create_user(email="rita@example.org", display_name="Rita Reviewer", roles=[Role.REVIEWER])
    group.organizers.append(GroupOrganizer(name="Rita Reviewer", email="rita@example.org", position=1))
    session.commit()


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def menu_state(page) -> tuple[str, bool]:
    """What assistive technology is told about the Menu button: its role and whether it is expanded."""
    cdp = page.context.new_cdp_session(page)
    try:
        for node in cdp.send("Accessibility.getFullAXTree")["nodes"]:
            if node.get("name", {}).get("value") == "Menu" and not node.get("ignored"):
                properties = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
                return node["role"]["value"], properties.get("expanded")
    finally:
        cdp.detach()
    raise AssertionError("no Menu button in the accessibility tree")


def test_signed_out_members_and_organizers_each_see_their_own_links(live_server, session, people, page, problems):
    page.goto(live_server.url + "/events")
    nav = main_nav(page)
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()
    expect(nav.get_by_role("link", name="My events")).to_have_count(0)
    expect(nav.get_by_role("link", name="My groups")).to_have_count(0)
    assert_accessible(page, "(signed out)")

    # A member: "My events", no "My groups".
    sign_in(page, live_server, session, "ada@example.org")
    expect(nav.get_by_role("link", name="My groups")).to_have_count(0)
    nav.get_by_role("link", name="My events").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My events")
    expect(nav.get_by_role("link", name="My events")).to_have_attribute("aria-current", "page")
    assert_accessible(page, "(my events)")

    # An organizer: "My groups", with the group's drafts, next event, attendee list and New event.
    hand_over(page, live_server, session, "org@example.org")
    nav.get_by_role("link", name="My groups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My groups")
    expect(nav.get_by_role("link", name="My groups")).to_have_attribute("aria-current", "page")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Metadata Practitioners"))
    expect(card).to_contain_text("Linked Data Lunch")
    expect(card).to_contain_text("0 confirmed of 10 seats")
    assert_accessible(page, "(my groups)")
    card.get_by_role("link", name="1 draft of Metadata Practitioners").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Drafts of Metadata Practitioners")
    page.go_back()
    card.get_by_role("link", name="Attendee list for Linked Data Lunch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Attendees: Linked Data Lunch")
    page.go_back()
    card.get_by_role("link", name="New event for Metadata Practitioners").click()
    expect(page.get_by_label("Title")).to_be_visible()
    page.go_back()
    card.get_by_role("link", name="Metadata Practitioners", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Metadata Practitioners")


def test_on_a_phone_the_menu_opens_and_closes_by_keyboard(live_server, session, people, page, problems):
    page.set_viewport_size(PHONE)
    # The reviewer who organizes has the longest navigation of all.
    sign_in(page, live_server, session, "rita@example.org")
    page.goto(live_server.url + "/events")
    nav = main_nav(page)
    menu = nav.locator("summary")
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 80, "the header is one row on a phone, not a quarter of the screen"
    expect(nav.get_by_role("link", name="Events", exact=True)).to_be_hidden()
    assert menu_state(page) == ("DisclosureTriangle", False)  # read as "Menu, button, collapsed"
    assert_accessible(page, "(phone, menu closed)")

    # Tab from the top: skip link, brand, then the Menu button, with a visible focus ring.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(menu).to_be_focused()
    assert menu.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(nav.get_by_role("link", name="My groups")).to_be_visible()
    assert menu_state(page)[1] is True
    # Every link is in reach and big enough to tap, and none sticks out of the screen.
    for link in nav.get_by_role("link").all() + [nav.get_by_role("button", name="Sign out")]:
        box = link.bounding_box()
        assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page, "(phone, menu open)")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Events", exact=True)).to_be_focused()

    # Escape closes it and puts focus back on the button; Space opens it again.
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="Events", exact=True)).to_be_hidden()
    expect(menu).to_be_focused()
    page.keyboard.press("Space")
    expect(nav.get_by_role("link", name="Events", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu).to_be_focused()

    # Open, the Sign out button in it still signs out.
    page.keyboard.press("Enter")
    nav.get_by_role("button", name="Sign out").click()
    menu.click()
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()


def test_on_a_phone_the_menu_works_without_javascript(live_server, session, people, browser):
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = context.new_page()
    page.goto(live_server.url + "/")
    nav = main_nav(page)
    expect(nav.get_by_role("link", name="Groups")).to_be_hidden()
    nav.locator("summary").click()
    expect(nav.get_by_role("link", name="Groups")).to_be_visible()
    nav.locator("summary").click()
    expect(nav.get_by_role("link", name="Groups")).to_be_hidden()
    nav.locator("summary").click()
    nav.get_by_role("link", name="Groups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meetup groups")
    context.close()


def test_on_a_desktop_the_links_show_in_one_row_with_no_menu_button(live_server, session, people, page, problems):
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, session, "rita@example.org")
    page.goto(live_server.url + "/events")
    nav = main_nav(page)
    expect(nav.locator("summary")).to_be_hidden()
    items = nav.get_by_role("link").all() + [nav.get_by_role("button", name="Sign out")]
    assert [item.inner_text().split("\n")[0] for item in items][-4:] == ["My events", "My groups", "My account",
                                                                        "Sign out"]
    tops = {round(item.bounding_box()["y"]) for item in items}
    assert len(tops) == 1, "every link on the brand's row"
    brand = page.locator(".brand").bounding_box()
    assert abs(brand["y"] + brand["height"] / 2 - (min(tops) + items[0].bounding_box()["height"] / 2)) < 8
    assert_accessible(page, "(desktop navigation)")
