"""Browser: a newcomer's whole journey with the keyboard alone (issue 18). From the home page to an
event, typing their needs, email and name, registering, signing in from the mailed link, on to My
events through the menu, and cancelling after the question (Escape first keeps the seat). Every
Tab stop shows its focus ring; after each htmx swap focus is on the news, and each page is axe-clean."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, emailed_link_path
from tests.browser.keyboard import assert_focus_visible, assert_focus_visible_within, tab_to
from tests.factories import create_event, create_group, create_user
from webapp.db import utcnow
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration

PANEL = "#registration-panel"


@pytest.fixture
def one_seat(session):
    """A week away, one seat; Ben will wait for it once the newcomer has it."""
    group = create_group(slug="metadata", name="Metadata Practitioners")
    event = create_event(group, slug="linked-data", title="Linked Data Round-table", capacity=1,
                         starts_at=utcnow() + timedelta(days=7))
    session.commit()
    return event


def walk(page, name, **kwargs):
    tab_to(page, name, see_every_stop=True, **kwargs)


def test_a_newcomer_registers_signs_in_and_cancels_with_the_keyboard_alone(
        live_server, session, one_seat, page, problems):
    page.goto(live_server.url + "/")
    walk(page, "Events")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Upcoming events")
    walk(page, "Linked Data Round-table")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Linked Data Round-table")
    assert_accessible(page, "(event page, signed out)")

    # The needs box is there before Register, for someone who has no account yet.
    walk(page, re.compile("^Accessibility needs"))
    page.keyboard.type("Live captions, please")
    walk(page, re.compile("^Email address"))
    page.keyboard.type("cy@example.org")
    walk(page, re.compile("^Your name"))
    page.keyboard.type("Cy Newcomer")
    walk(page, "Register")
    page.keyboard.press("Enter")
    inbox = page.locator(PANEL).get_by_role("heading", name="Check your inbox")
    expect(inbox).to_be_focused()
    expect(page.locator(PANEL)).to_contain_text(
        "We sent a link to cy@example.org; open it to finish registering for Linked Data Round-table.")
    assert_accessible(page, "(check your inbox)")

    # The mailed link, then its one button.
    page.goto(live_server.url + emailed_link_path(session))
    walk(page, "Sign in", role="button")
    page.keyboard.press("Enter")
    expect(page.locator(PANEL)).to_contain_text("You’re registered.")
    newcomer = session.query(Registration).one()
    assert newcomer.accessibility_needs == "Live captions, please"
    assert newcomer.user.display_name == "Cy Newcomer"
    ben = create_user(email="ben@example.org", display_name="Ben Franklin")
    registrations.register(session, one_seat.id, member=ben, now=utcnow())  # waits for Cy's seat
    session.commit()

    walk(page, "My events")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("My events")
    assert_accessible(page, "(My events)")

    # Cancel asks first; Escape keeps the seat and gives the focus back to the button.
    walk(page, "Cancel my registration for Linked Data Round-table")
    page.keyboard.press("Enter")
    question = page.get_by_text("Your seat goes to the next person in line")
    expect(question).to_be_visible()
    expect(page.locator(":focus")).to_contain_text("Your seat goes to the next person in line")
    assert_focus_visible(page)
    assert_accessible(page, "(the cancel question)")
    page.keyboard.press("Escape")
    expect(question).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel my registration for Linked Data Round-table")).to_be_focused()
    session.rollback()
    assert session.get(Registration, newcomer.id).status == "confirmed"

    page.keyboard.press("Enter")
    expect(question).to_be_visible()  # the question's swap is done before the next Tab
    expect(page.locator(":focus")).to_contain_text("Your seat goes to the next person in line")
    walk(page, "Yes, cancel")
    page.keyboard.press("Enter")
    result = page.get_by_role("status").filter(has_text="You cancelled your registration for Linked Data Round-table")
    expect(result).to_be_focused()
    expect(result).to_contain_text("Your seat went to the next person in line.")
    assert_focus_visible_within(page, f"#registration-{newcomer.id}")
    assert_accessible(page, "(cancelled, in words)")
    session.rollback()
    assert session.get(Registration, newcomer.id).status == "cancelled"
    assert registrations.registration_for(session, one_seat.id, ben).status == "confirmed"
