"""Browser: issue 18's registration journey. A signed-out visitor tells us their needs, address and
name on the event page and opens the mailed link on another device; a member changes their needs
from "My events" and the organizer sees it; cancelling asks first, in place, by keyboard alone;
the "Please read before you register" note comes before the button on a phone. axe on every state."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import PageProblems, assert_accessible, emailed_link_path, sign_in
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.outbox import mails
from webapp.db import utcnow
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration

PHONE = {"width": 390, "height": 844}
NEEDS = "Live captions, please."


@pytest.fixture
def zine_fair(session):
    group = create_group(slug="zines", name="Zine Librarians")
    organizer = organizer_of(group, email="org@example.org", display_name="Olu Organizer")
    event = create_event(group, slug="zine-fair", title="Zine Fair", capacity=1)
    session.commit()
    return dict(group=group, event=event, organizer=organizer)


def test_a_newcomer_registers_with_needs_and_finishes_on_another_device(
        live_server, session, zine_fair, page, browser, problems):
    page.goto(live_server.url + "/events/zine-fair")
    panel = page.locator("#registration-panel")
    assert_accessible(page, "(event page, signed out)")
    panel.get_by_label("Accessibility needs or accommodations").fill(NEEDS)
    panel.get_by_label("Email address").fill("ada@example")
    panel.get_by_role("button", name="Register").click()
    expect(panel.get_by_text("Enter an email address like name@example.org.")).to_be_visible()
    expect(panel.get_by_label("Accessibility needs or accommodations")).to_have_value(NEEDS)
    expect(panel.get_by_label("Email address")).to_be_focused()
    assert_accessible(page, "(register form, bad address)")

    panel.get_by_label("Email address").fill("ada@example.org")
    panel.get_by_label("Your name").fill("Ada Lovelace")
    panel.get_by_role("button", name="Register").click()
    expect(panel.get_by_role("heading", name="Check your inbox")).to_be_focused()
    expect(panel).to_contain_text("We sent a link to ada@example.org; open it to finish registering for Zine Fair.")
    assert_accessible(page, "(check your inbox, in place)")

    # The phone's mail app: another browser, none of this one's cookies.
    phone = browser.new_context(viewport=PHONE)
    phone_page = phone.new_page()
    phone_problems = PageProblems(phone_page)
    phone_page.goto(live_server.url + emailed_link_path(session))
    assert_accessible(phone_page, "(confirm sign-in, phone)")
    phone_page.get_by_role("button", name="Sign in").click()
    # The name was given already: straight to the event, registered, the needs kept.
    expect(phone_page).to_have_url(live_server.url + "/events/zine-fair")
    phone_panel = phone_page.locator("#registration-panel")
    expect(phone_panel).to_contain_text("You’re registered.")
    expect(phone_panel.get_by_label("Accessibility needs or accommodations")).to_have_value(NEEDS)
    assert_accessible(phone_page, "(registered, phone)")
    confirmation = mails(session, kind="registration_confirmed")[-1]
    assert confirmation.body_text.startswith("Hello Ada Lovelace,")
    phone_problems.assert_none()
    phone.close()


def test_a_member_changes_their_needs_from_my_events_and_the_organizer_sees_it(
        live_server, session, zine_fair, page, browser, problems):
    member = create_user(email="ada@example.org", display_name="Ada Lovelace")
    session.commit()
    registrations.register(session, zine_fair["event"].id, member=member, accessibility_needs="", now=utcnow())
    session.commit()
    sign_in(page, live_server, session, "ada@example.org")
    page.goto(live_server.url + "/my/events")
    card = page.get_by_role("listitem").filter(has_text="Zine Fair")
    card.get_by_label("Accessibility needs or accommodations").fill("x" * 1001)
    card.get_by_role("button", name="Save my needs").click()
    expect(card.get_by_text("Accessibility needs can be at most 1,000 characters (this has 1,001).")).to_be_visible()
    assert_accessible(page, "(my events, needs too long)")
    card.get_by_label("Accessibility needs or accommodations").fill("A step-free route, please.")
    card.get_by_role("button", name="Save my needs").click()
    expect(card.get_by_role("status")).to_have_text("Saved. The organizers see your updated needs.")
    assert_accessible(page, "(my events, needs saved)")

    organizer = browser.new_context()
    organizer_page = organizer.new_page()
    organizer_problems = PageProblems(organizer_page)
    sign_in(organizer_page, live_server, session, "org@example.org")
    organizer_page.goto(live_server.url + "/events/zine-fair/attendees")
    row = organizer_page.get_by_role("row").filter(has_text="Ada Lovelace")
    expect(row).to_contain_text("A step-free route, please.")
    expect(row).to_contain_text("(updated ")
    assert_accessible(organizer_page, "(attendees, updated needs)")
    organizer_problems.assert_none()
    organizer.close()


def _focused_text(page) -> str:
    return page.evaluate("document.activeElement.textContent.trim()")


@pytest.mark.parametrize("where", ["my events", "event page"])
def test_cancel_asks_first_in_place_by_keyboard_and_escape_keeps_the_seat(
        live_server, session, zine_fair, page, problems, where):
    member = create_user(email="ada@example.org", display_name="Ada Lovelace")
    waiting = create_user(email="ben@example.org", display_name="Ben")
    session.commit()
    registrations.register(session, zine_fair["event"].id, member=member, now=utcnow())
    registrations.register(session, zine_fair["event"].id, member=waiting, now=utcnow())
    session.commit()
    sign_in(page, live_server, session, "ada@example.org")
    if where == "my events":
        page.goto(live_server.url + "/my/events")
        area = page.get_by_role("listitem").filter(has_text="Zine Fair")
        cancel_name = "Cancel my registration for Zine Fair"
    else:
        page.goto(live_server.url + "/events/zine-fair")
        area = page.locator("#registration-panel")
        cancel_name = "Cancel my registration for Zine Fair"

    # Keyboard only: from the Going list's button (after the needs' Save), Tab reaches Cancel; Enter asks.
    area.get_by_role("button", name="Show my name for Zine Fair").focus()
    page.keyboard.press("Tab")
    expect(area.get_by_role("button", name=cancel_name)).to_be_focused()
    page.keyboard.press("Enter")
    question = area.get_by_text("Cancel your registration for Zine Fair? Your seat goes to the next person in line.")
    expect(question).to_be_focused()
    assert_accessible(page, f"({where}, cancel question)")

    # Escape puts the button back, focused, and nothing changed.
    page.keyboard.press("Escape")
    expect(area.get_by_role("button", name="Yes, cancel")).to_have_count(0)
    expect(area.get_by_role("button", name=cancel_name)).to_be_focused()
    session.rollback()
    assert session.scalar(select(Registration).where(Registration.user_id == member.id)).status == "confirmed"
    assert_accessible(page, f"({where}, kept)")

    # Keep my seat does the same by Enter.
    page.keyboard.press("Enter")
    expect(question).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert _focused_text(page) == "Keep my seat"
    page.keyboard.press("Enter")
    expect(area.get_by_role("button", name=cancel_name)).to_be_focused()

    # Yes, cancel: the answer says what happened and offers the way back, honestly.
    page.keyboard.press("Enter")
    expect(question).to_be_focused()
    page.keyboard.press("Tab")
    expect(area.get_by_role("button", name="Yes, cancel")).to_be_focused()
    page.keyboard.press("Enter")
    result = area.get_by_role("status").filter(has_text="You cancelled your registration for Zine Fair.")
    expect(result).to_contain_text("Your seat went to the next person in line.")
    expect(result).to_be_focused()
    expect(area).to_contain_text("The event is full now: registering again puts you at the end of the waitlist.")
    expect(area.get_by_role("button", name="Join the waitlist")).to_be_visible()
    assert_accessible(page, f"({where}, cancelled)")
    session.rollback()
    assert len(mails(session, kind="registration_promoted")) == 1


def test_the_please_read_note_comes_before_the_register_button_on_a_phone(
        live_server, session, seeded, page, problems):
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/events/plsn-prison-abolition-book-club-5")
    panel = page.locator("#registration-panel")
    note = panel.locator(".before-you-register")
    expect(note).to_contain_text("Please read before you register")
    button = panel.get_by_role("button", name="Register")
    assert note.bounding_box()["y"] < button.bounding_box()["y"]
    # On a phone the panel comes before the description: the note is read first.
    description = page.locator(".event-body")
    assert note.bounding_box()["y"] < description.bounding_box()["y"]
    assert_accessible(page, "(event page with a note, phone)")
