"""Browser: a member on a waitlist reads how far this group's waitlists moved before, beside their
place in line, on the event page and on My events. Each page axe-checked once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.factories import create_event, create_group, create_user
from tests.registrations.test_odds import full_event
from webapp.registrations import services as registrations

SENTENCE = "At each of this group’s last 3 full events, at least 2 seats went to people on the waitlist."


def test_a_waitlisted_member_sees_the_groups_waitlist_history(live_server, session, page, problems):
    now = datetime.now(UTC)
    group = create_group(name="Metadata Practitioners")
    for days_ago, seats in [(30, 2), (20, 3), (10, 2)]:
        full_event(group, days_ago=days_ago, seats_to_waitlist=seats, now=now)
    event = create_event(group, slug="round-table", title="Round-table", capacity=1,
                         starts_at=now + timedelta(days=3))
    registrations.register(session, event.id, member=create_user(), now=now)
    registrations.register(session, event.id, member=create_user(email="ada@example.org"), now=now)
    session.commit()

    sign_in(page, live_server, session, "ada@example.org")
    page.goto(live_server.url + "/events/round-table")
    panel = page.locator("#registration-panel")
    expect(panel).to_contain_text("You’re on the waitlist, number 1 in line.")
    expect(panel.locator("#waitlist-history")).to_contain_text(SENTENCE)
    expect(panel.locator("#waitlist-history")).to_contain_text("counts this group’s past events that had a waitlist")
    assert_accessible(page, "(event page, waitlisted, with the group's waitlist history)")

    page.goto(live_server.url + "/my/events")
    expect(page.locator(".waitlist-history")).to_contain_text(SENTENCE)
    assert_accessible(page, "(My events, waitlisted, with the group's waitlist history)")
