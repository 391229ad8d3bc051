"""Browser: the issue's journey. An organizer makes a bi-weekly series with two 15-minute slots per
session, a member registers for all and claims a slot in the first session, the organizer approves
it, and the agenda shows on the event page and in the reminder. Every state axe-checked."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_group, create_user, organizer_of
from tests.series.helpers import NY
from tests.support.outbox import as_sent
from webapp.db import utcnow
from webapp.reminders.services import queue_due_reminders
from webapp.series import services


def switch_to(page, app, server, user) -> None:
    page.context.clear_cookies()
    signed_in_cookie(page, app, server, user)


def test_a_series_with_slots_in_each_session_a_claim_and_the_agenda(app, live_server, session, page, problems):
    group = create_group(slug="metro-chat", name="METRO Community Chat")
    organizer = organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    ada = create_user(email="ada@example.org", display_name="Ada Presenter")
    session.commit()

    # The organizer makes a bi-weekly series whose sessions each offer two 15-minute talks.
    signed_in_cookie(page, app, live_server, organizer)
    page.goto(live_server.url + "/groups/metro-chat/series/new")
    assert_accessible(page, "(new series form)")
    first = (utcnow().astimezone(NY) + timedelta(days=4)).date()
    page.get_by_label("Title").fill("Community Chat")
    page.get_by_label("Every two weeks").check()
    page.get_by_label("First session").fill(first.isoformat())
    page.get_by_label("Starts at").fill("18:00")
    page.get_by_label("Length in minutes").fill("60")
    page.get_by_label("Number of sessions", exact=True).fill("4")
    page.get_by_label("Slot label").fill("15-minute talk")
    page.get_by_label("Minutes per slot").fill("15")
    page.get_by_label("How many slots").fill("2")
    page.get_by_role("button", name="Create series and publish its sessions").click()
    expect(page.get_by_role("heading", name="Community Chat", level=1, exact=True)).to_be_visible()
    expect(page.locator("#series-slots")).to_contain_text("2 × 15-minute talk (15 minutes)")
    assert_accessible(page, "(series page, organizer)")

    # Ada registers for all four sessions in one step.
    switch_to(page, app, live_server, ada)
    page.goto(live_server.url + "/series/community-chat")
    page.get_by_role("button", name="Register for all 4 sessions").click()
    expect(page.get_by_role("status")).to_contain_text("Registered for 4 sessions")
    assert_accessible(page, "(series page, registered for all)")

    # Every session offers the two talks; Ada claims one in the first.
    page.locator("#series-panel tbody tr").first.get_by_role("link").click()
    expect(page.locator(".slot-offers")).to_contain_text("15-minute talk, 15 minutes: 2 of 2 free")
    page.get_by_label("Title").fill("Zines in the stacks")
    page.get_by_role("button", name="Claim this slot").click()
    expect(page.get_by_role("status").filter(has_text="awaiting the organizers").first).to_be_visible()
    assert_accessible(page, "(first session, claim awaiting the organizers)")
    first_session = page.url

    # The organizer approves it on that session's slots page.
    switch_to(page, app, live_server, organizer)
    page.goto(first_session + "/slots")
    page.get_by_role("button", name="Approve “Zines in the stacks”").click()
    expect(page.get_by_role("status")).to_contain_text("Approved: the talk is on the agenda.")
    assert_accessible(page, "(slots page, approved)")

    # The agenda shows on the event page...
    page.goto(first_session)
    agenda = page.locator(".agenda")
    expect(agenda).to_contain_text("Zines in the stacks")
    expect(agenda).to_contain_text("Ada Presenter")
    expect(page.locator(".slot-offers")).to_contain_text("1 of 2 free")
    assert_accessible(page, "(first session, agenda)")

    # ...and in the reminder the sweep sends the day before (the clock moved on).
    series = services.get_series_by_slug(session, "community-chat")
    starts = services.sessions_of(session, series.id)[0].starts_at
    (reminder,) = map(as_sent, queue_due_reminders(session, now=starts - timedelta(hours=12)))
    assert reminder.recipient == "ada@example.org" and reminder.kind == "reminder"
    assert "Zines in the stacks (Ada Presenter)" in reminder.body_text
