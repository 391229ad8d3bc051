"""Browser: the Going list on an event page, for a signed-in member: names of those who chose to be
shown, a count of the rest; the member registers with their name shown (keyboard), then hides it
again; axe-clean in each state."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_event, create_group, create_user
from webapp.db import utcnow
from webapp.registrations import services as registrations


def test_a_member_joins_the_going_list_and_leaves_it(app, live_server, session, page, problems):
    event = create_event(create_group(), slug="chat", title="Community Chat", capacity=10)
    for name, shown in (("Sam Shown", True), ("Hana Hidden", False)):
        registrations.register(session, event.id, member=create_user(display_name=name), show_name=shown, now=utcnow())
    member = create_user(display_name="Mel Member")
    session.commit()
    signed_in_cookie(page, app, live_server, member)
    page.goto(live_server.url + "/events/chat")
    going = page.get_by_role("region", name="Going (2)")
    expect(going).to_contain_text("Sam Shown")
    expect(going).not_to_contain_text("Hana Hidden")
    assert_accessible(page, "event page with the Going list")

    box = page.get_by_label("Show my name on the “Going” list")
    box.focus()
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("region", name="Going (3)")).to_contain_text("Mel Member")
    assert_accessible(page, "registered, name shown")

    page.get_by_role("button", name="Hide my name for Community Chat").click()
    expect(page.get_by_role("region", name="Going (3)")).not_to_contain_text("Mel Member")
    expect(page.locator("#registration-panel")).to_contain_text("Your name is not on the “Going” list")
    assert_accessible(page, "name hidden again")
