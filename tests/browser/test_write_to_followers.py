"""Browser: the organizer of a dormant group writes to its followers with the keyboard alone, from the
group page: a refused subject keeps the message and takes the focus, then the message goes out
and is listed. Every state axe-checked."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.keyboard import assert_focus_visible, focused_name, tab_to
from tests.factories import create_group, create_user, organizer_of
from tests.support.outbox import mails
from webapp.db import utcnow
from webapp.follows.services import follow_group

BODY = "We’re back: first Tuesdays from March, same room."


def test_an_organizer_writes_to_the_followers_with_the_keyboard(live_server, session, page, problems):
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    for email in ("ada@example.org", "ben@example.org"):
        follow_group(session, group.id, member=create_user(email=email), now=utcnow())
    session.commit()
    sign_in(page, live_server, session, "org@example.org")
    page.goto(live_server.url + "/groups/metadata")

    tab_to(page, "Write to followers", role="link")
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Write to the followers of Metadata Practitioners")
    expect(page.get_by_text("It goes to 2 followers.")).to_be_visible()
    assert_accessible(page, "(write to followers)")

    # The message first, the subject forgotten: refused in place, the text kept, the focus on the subject.
    tab_to(page, "Message")
    page.keyboard.type(BODY)
    tab_to(page, "Send to 2 followers", role="button")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Please give the message a subject.")).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_have_value(BODY)
    expect(page.get_by_label("Subject")).to_be_focused()
    assert_accessible(page, "(write to followers, subject missing)")

    page.keyboard.type("We’re meeting again")
    tab_to(page, "Send to 2 followers", role="button")
    assert focused_name(page) == "Send to 2 followers"
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(
        "Your message “We’re meeting again” is on its way to 2 followers, with a copy to you.")
    expect(page.locator(".sent-message")).to_contain_text(BODY)
    assert_accessible(page, "(write to followers, sent)")
    assert sorted(m.recipient for m in mails(session, kind="followers_message")) == [
        "ada@example.org", "ben@example.org", "org@example.org"]
