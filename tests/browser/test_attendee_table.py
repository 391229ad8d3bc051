"""Browser: the attendee list fits a 1280 px screen, "Mail problems" and the Remove button included, and
its actions stay usable on a 390 px phone (issue 18). Long names, addresses, needs and mail errors on
purpose: they are what pushed the table wide."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import assert_accessible, sign_in
from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.db import utcnow
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def full_list(session):
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    event = create_event(group, slug="round-table", title="Linked Data Round-table", capacity=2,
                         starts_at=utcnow() + timedelta(days=3))
    people = [
        create_user(email="ada.lovelace.with.a.rather.long.address@queens-public-library.example.org",
                    display_name="Ada Augusta King, Countess of Lovelace",
                    institution="Queens Public Library, Central Library Reference Division"),
        create_user(email="ben@example.org", display_name="Ben Franklin", institution="Brooklyn Public Library"),
        create_user(email="cy@example.org", display_name="Cy Twombly", institution="The Morgan Library & Museum"),
        create_user(email="dee@example.org", display_name="Dee Dee Bridgewater", institution="NYPL"),
    ]
    for person in people:
        registrations.register(session, event.id, member=person, now=utcnow(),
                               accessibility_needs="Live captions, please, and a seat near the front with "
                                                   "room for a wheelchair." if person is people[0] else "")
    registrations.cancel(session, session.get(Registration, registrations_of(session, event.id)[people[3].id]),
                         now=utcnow())
    for mail in session.scalars(select(OutboxMail).where(OutboxMail.event_id == event.id)):
        mail.state = MailState.FAILED
        mail.last_error = "550 5.1.1 <recipient>: Recipient address rejected: User unknown in virtual mailbox table"
    session.commit()
    return people


def registrations_of(session, event_id):
    return {r.user_id: r.id for r in session.scalars(select(Registration).where(Registration.event_id == event_id))}


def action_buttons(page):
    return page.locator("#attendee-rows").get_by_role("button").all()


def test_at_1280_every_action_is_on_screen_and_no_table_is_wider_than_its_box(
        live_server, session, full_list, page, problems):
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server, session, "org@example.org")
    page.goto(live_server.url + "/events/round-table/attendees")
    expect(page.get_by_role("heading", name="Confirmed (2)")).to_be_visible()
    expect(page.get_by_text("Recipient address rejected").first).to_be_visible()

    for box in page.locator(".table-scroll").all():
        widths = box.evaluate("el => ({scroll: el.scrollWidth, client: el.clientWidth,"
                              " table: el.querySelector('table').getBoundingClientRect().width,"
                              " container: el.getBoundingClientRect().width})")
        assert widths["scroll"] <= widths["client"], f"the table scrolls sideways at 1280 px: {widths}"
        assert widths["table"] <= widths["container"] + 0.5, widths
    for header in page.locator(".attendee-table thead th").all():
        right = header.bounding_box()["x"] + header.bounding_box()["width"]
        assert right <= DESKTOP["width"], f"{header.inner_text()!r} is cut off"

    buttons = action_buttons(page)
    names = [button.inner_text() for button in buttons]
    assert any("Remove" in name for name in names) and any("Give a seat" in name for name in names)
    for button in buttons:
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= DESKTOP["width"], f"{button.inner_text()!r} off screen"
        assert box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP["height"]
        # Nothing covers it: the button itself is what a click there lands on.
        assert button.evaluate("el => { const r = el.getBoundingClientRect(); return el.contains("
                               "document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }")
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    assert_accessible(page, "(attendee list at 1280)")


def test_on_a_phone_check_in_and_remove_are_in_reach(live_server, session, full_list, page, problems):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, session, "org@example.org")
    page.goto(live_server.url + "/events/round-table/attendees")
    ben = "Ben Franklin"
    check_in = page.get_by_role("button", name=f"Checked in {ben}")
    box = check_in.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], "check-in needs no sideways scrolling"
    assert box["height"] >= 44

    # Remove is further right: the table scrolls inside its own box and the keyboard takes it there.
    remove = page.get_by_role("button", name=f"Remove {ben}")
    remove.focus()
    box = remove.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page, "(attendee list on a phone)")
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"{ben} was removed and emailed.")).to_be_visible()
