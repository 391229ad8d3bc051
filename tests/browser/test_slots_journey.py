"""Browser: an organizer offers talk slots, a confirmed member claims one from the event page (a
missing title refused in place first), the organizer approves it, and the agenda shows on the
event page and in the reminder; then the member withdraws the talk by keyboard alone (asked first),
keeping the seat. Every state axe-checked."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.browser.keyboard import assert_focus_visible, tab_to
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.outbox import as_sent, mails
from webapp.db import utcnow
from webapp.registrations import services as registrations
from webapp.reminders.services import queue_due_reminders


def switch_to(page, app, server, user) -> None:
    page.context.clear_cookies()
    signed_in_cookie(page, app, server, user)


def test_a_member_claims_a_slot_the_organizer_approves_and_the_agenda_shows(live_server, app, session, page,
                                                                            problems):
    group = create_group(slug="chat", name="METRO Community Chat", organizers=[])
    organizer = organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    starts = utcnow() + timedelta(days=3)
    event = create_event(group, slug="chat-dec", title="Community Chat", starts_at=starts,
                         ends_at=starts + timedelta(hours=1))
    ada = create_user(email="ada@example.org", display_name="Ada Presenter")
    registrations.register(session, event.id, member=ada, now=utcnow())
    session.commit()

    # The organizer offers two 15-minute talks from the event's slots page.
    signed_in_cookie(page, app, live_server, organizer)
    page.goto(live_server.url + "/events/chat-dec")
    page.get_by_role("link", name="Slots and agenda").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Slots and agenda: Community Chat")
    assert_accessible(page, "(slots page, nothing offered)")
    page.get_by_label("Label").fill("15-minute talk")
    page.get_by_label("How many").fill("2")
    page.get_by_role("button", name="Offer these slots").click()
    expect(page.get_by_role("status")).to_contain_text("The slots are offered")
    expect(page.locator(".slot-offers")).to_contain_text("15-minute talk, 15 minutes: 2 of 2 free")
    assert_accessible(page, "(slots page, offered)")

    # Ada, with a seat, claims one: the title forgotten first, refused in place, the abstract kept.
    switch_to(page, app, live_server, ada)
    page.goto(live_server.url + "/events/chat-dec")
    expect(page.get_by_role("heading", name="Agenda")).to_be_visible()
    page.get_by_label("Abstract").fill("Why zines belong in the stacks.")
    page.get_by_role("button", name="Claim this slot").click()
    expect(page.get_by_text("Please give your talk a title.")).to_be_visible()
    expect(page.get_by_label("Abstract")).to_have_value("Why zines belong in the stacks.")
    expect(page.get_by_label("Title")).to_be_focused()
    assert_accessible(page, "(event page, claim refused)")
    page.get_by_label("Title").fill("Zines in the stacks")
    page.get_by_role("button", name="Claim this slot").click()
    expect(page.get_by_role("status").filter(has_text="awaiting the organizers").first).to_be_visible()
    assert_accessible(page, "(event page, claim awaiting the organizers)")

    # The organizer approves it.
    switch_to(page, app, live_server, organizer)
    page.goto(live_server.url + "/events/chat-dec/slots")
    page.get_by_role("button", name="Approve “Zines in the stacks”").click()
    expect(page.get_by_role("status")).to_contain_text("Approved: the talk is on the agenda.")
    expect(page.locator(".agenda-admin")).to_contain_text("Zines in the stacks")
    assert_accessible(page, "(slots page, approved)")
    (approved,) = mails(session, kind="slot_approved")
    assert approved.recipient == "ada@example.org" and approved.subject == "Your talk is on the agenda: Community Chat"

    # Everyone sees the agenda; the abstract opens on demand.
    page.context.clear_cookies()
    page.goto(live_server.url + "/events/chat-dec")
    agenda = page.locator(".agenda")
    expect(agenda).to_contain_text("Zines in the stacks")
    expect(agenda).to_contain_text("Ada Presenter")
    expect(page.get_by_text("Why zines belong in the stacks.")).to_be_hidden()
    page.get_by_text("Abstract").click()
    expect(page.get_by_text("Why zines belong in the stacks.")).to_be_visible()
    assert_accessible(page, "(event page, agenda)")

    (reminder,) = map(as_sent, queue_due_reminders(session, now=starts - timedelta(hours=12)))
    assert "Zines in the stacks (Ada Presenter)" in reminder.body_text

    # Ada can no longer give it: she withdraws it from the event page by keyboard, asked first.
    switch_to(page, app, live_server, ada)
    page.goto(live_server.url + "/events/chat-dec")
    tab_to(page, re.compile(r"^Withdraw my talk “Zines in the stacks”"), role="link")
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    question = page.locator("#slot-withdraw-question")
    expect(question).to_contain_text("Withdraw “Zines in the stacks”?")
    expect(question).to_be_focused()  # the question is read first; nothing changed yet
    assert_accessible(page, "(event page, withdraw asked)")
    page.keyboard.press("Escape")  # "No, keep my talk": the link is back, with the keyboard on it
    withdraw_link = page.get_by_role("link", name=re.compile(r"^Withdraw my talk"))
    expect(withdraw_link).to_be_focused()
    page.keyboard.press("Enter")
    expect(question).to_be_focused()
    tab_to(page, "Yes, withdraw my talk", role="button")
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    notice = page.get_by_role("status").filter(has_text="You withdrew your talk")
    expect(notice).to_be_focused()
    expect(page.locator("#slots-section")).to_contain_text("No talks are on the agenda yet.")
    expect(page.get_by_role("button", name="Claim this slot")).to_be_visible()  # her seat is still hers
    assert_accessible(page, "(event page, talk withdrawn)")
    (freed,) = mails(session, kind="slot_freed")
    assert freed.recipient == "org@example.org" and "withdrew their talk" in freed.body_text
