"""Browser: the organizer at the door with a keyboard alone (issue 18). Tab, Shift+Tab, Enter and
Space check an attendee in, undo it, and give a waitlisted person a seat; after every htmx swap the
focus is inside the swapped list, where it can be seen, and the page is axe-clean."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.keyboard import assert_focus_visible_within, focused_name, tab_to
from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.db import utcnow
from webapp.registrations import services as registrations

ROWS = "#attendee-rows"


@pytest.fixture
def door(session):
    """An event a week away with one seat: Ada has it, Ben waits."""
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    event = create_event(group, slug="linked-data", title="Linked Data Round-table", capacity=1,
                         starts_at=utcnow() + timedelta(days=7))
    for email, name in (("ada@example.org", "Ada Lovelace"), ("ben@example.org", "Ben Franklin")):
        member = create_user(email=email, display_name=name)
        registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    return event


def record_live_updates(page) -> None:
    """From now on, note the text added to live regions that were already in the page: what a
    screen reader announces (a region inserted together with its text is not reliably read)."""
    page.evaluate("""() => {
        window.liveUpdates = [];
        new MutationObserver(records => records.forEach(r => {
            if (r.addedNodes.length && r.target.matches('[role=status], [role=alert], [aria-live]'))
                window.liveUpdates.push(r.target.textContent.trim());
        })).observe(document.body, {childList: true, subtree: true});
    }""")


def live_updates(page) -> list[str]:
    return page.evaluate("window.liveUpdates")


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

    # Give Ben a seat: his button goes away with the old list, so focus moves to the news,
    # and the counts above the list are read out.
    tab_to(page, "Give a seat (capacity 1 → 2) to Ben Franklin")
    record_live_updates(page)
    page.keyboard.press("Enter")
    notice = page.locator(ROWS).get_by_role("status").filter(has_text="Ben Franklin got a seat and was emailed.")
    expect(notice).to_be_focused()
    assert_focus_visible_within(page, ROWS)
    page.wait_for_function("() => window.liveUpdates.some(text => text.startsWith('2 confirmed of 2 seats'))")
    assert_accessible(page, "(seat given, focus on the notice)")

    # From the notice, on to Ben's toggle, then Shift+Tab back to Ada's: both checked in.
    tab_to(page, "Checked in Ben Franklin")
    press_and_stay(page, "Space", "Checked in Ben Franklin", "true", "1 of 2 checked in")
    tab_to(page, "Checked in Ada Lovelace", backwards=True)
    press_and_stay(page, "Space", "Checked in Ada Lovelace", "true", "2 of 2 checked in")
    assert_accessible(page, "(both checked in)")


def test_typing_a_search_keeps_the_focus_in_the_box_while_the_list_is_swapped(
        live_server, session, door, page, problems):
    sign_in(page, live_server, session, "org@example.org")
    page.goto(live_server.url + "/events/linked-data/attendees")
    tab_to(page, "Search by name, institution or email")
    page.keyboard.type("ben")
    expect(page.get_by_role("rowheader", name="Ada Lovelace")).to_have_count(0)
    expect(page.get_by_label("Search by name, institution or email")).to_be_focused()
    page.keyboard.type("x")  # still typing into the box
    expect(page.get_by_label("Search by name, institution or email")).to_have_value("benx")


def test_registering_puts_the_focus_on_the_panels_news(live_server, session, door, page, problems):
    """The member's side (the full keyboard journey is the lead's): the Register button leaves with
    the old panel, so focus goes to what the new panel says, where it is seen."""
    create_user(email="cy@example.org", display_name="Cy Member")
    session.commit()
    sign_in(page, live_server, session, "cy@example.org")
    page.goto(live_server.url + "/events/linked-data")
    page.locator("#registration-panel form button[type=submit]").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("""() => document.activeElement.matches(
        '#registration-panel [role=status], #registration-panel [data-focus-after-swap]')""", timeout=10_000)
    assert_focus_visible_within(page, "#registration-panel")
    assert_accessible(page, "(registered, focus on the panel)")


def test_tab_to_fails_with_the_names_it_passed(live_server, session, door, page):
    page.goto(live_server.url + "/events/linked-data")
    with pytest.raises(AssertionError, match="never reached 'No such control'.*Skip to content"):
        tab_to(page, "No such control", limit=3)
