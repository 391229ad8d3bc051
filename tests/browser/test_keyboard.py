"""Browser: the organizer at the door with a keyboard alone (issue 18). Tab, Shift+Tab, Enter and
Space check an attendee in, undo it, and give a waitlisted person a seat; after every htmx swap the
focus is inside the swapped list, where it can be seen, and the page is axe-clean."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.keyboard import assert_focus_visible_within, focused_name, tab_to
from tests.factories import create_event, create_group, create_user
from webapp.db import utcnow
from webapp.groups.models import GroupOrganizer
from webapp.registrations import services as registrations

ROWS = "#attendee-rows"


@pytest.fixture
def door(session):
    """An event a week away with one seat: Ada has it, Ben waits."""
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    organizer = create_user(email="org@example.org", display_name="Olga Organizer")
    group.organizers.append(GroupOrganizer(name="Olga Organizer", user_id=organizer.id, email=organizer.email,
                                           position=0))
    event = create_event(group, slug="linked-data", title="Linked Data Round-table", capacity=1,
                         starts_at=utcnow() + timedelta(days=7))
    for email, name in (("ada@example.org", "Ada Lovelace"), ("ben@example.org", "Ben Franklin")):
        member = create_user(email=email, display_name=name)
        registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    return event


def press_and_stay(page, key: str, name: str, pressed: str, count: str) -> None:
    """Press the focused check-in toggle; the list is swapped and the toggle keeps the focus."""
    page.keyboard.press(key)
    expect(page.get_by_role("button", name=name)).to_have_attribute("aria-pressed", pressed)
    expect(page.locator("#checked-in-count")).to_have_text(count)
    assert_focus_visible_within(page, ROWS)
    assert focused_name(page) == name


def test_organizer_checks_in_and_undoes_with_the_keyboard_alone(live_server, session, door, page, problems):
    sign_in(page, live_server, session, "org@example.org")
    page.goto(live_server.url + "/events/linked-data/attendees")
    expect(page.get_by_role("heading", level=1)).to_have_text("Attendees: Linked Data Round-table")
    assert_accessible(page, "(attendee list)")

    # Check Ada in with Space, then undo it with Enter: focus stays on her toggle each time.
    tab_to(page, "Checked in Ada Lovelace")
    assert_focus_visible_within(page, ROWS)
    press_and_stay(page, "Space", "Checked in Ada Lovelace", "true", "1 of 1 checked in")
    assert_accessible(page, "(Ada checked in)")
    press_and_stay(page, "Enter", "Checked in Ada Lovelace", "false", "0 of 1 checked in")

    # Give Ben a seat: his button goes away with the old list, so focus moves to the news.
    tab_to(page, "Give a seat (capacity 1 → 2) to Ben Franklin")
    page.keyboard.press("Enter")
    notice = page.locator(ROWS).get_by_role("status").filter(has_text="Ben Franklin got a seat and was emailed.")
    expect(notice).to_be_focused()
    assert_focus_visible_within(page, ROWS)
    assert_accessible(page, "(seat given, focus on the notice)")

    # From the notice, on to Ben's toggle, then Shift+Tab back to Ada's: both checked in.
    tab_to(page, "Checked in Ben Franklin")
    press_and_stay(page, "Space", "Checked in Ben Franklin", "true", "1 of 2 checked in")
    tab_to(page, "Checked in Ada Lovelace", backwards=True)
    press_and_stay(page, "Space", "Checked in Ada Lovelace", "true", "2 of 2 checked in")
    assert_accessible(page, "(both checked in)")


def test_tab_to_fails_with_the_names_it_passed(live_server, session, door, page):
    page.goto(live_server.url + "/events/linked-data")
    with pytest.raises(AssertionError, match="never reached 'No such control'.*Skip to content"):
        tab_to(page, "No such control", limit=3)
