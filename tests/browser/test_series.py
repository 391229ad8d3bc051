"""Browser: an organizer makes a bi-weekly series, a member registers for all its sessions in one
step and reads their place in each (a seat, or the waitlist where one was full), then cancels all
the rest; every page and state axe-clean."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_group, create_user, organizer_of
from tests.series.helpers import NY
from webapp.db import utcnow
from webapp.registrations import services as registrations
from webapp.series import services


def test_organizer_makes_a_bi_weekly_series_and_a_member_registers_for_all(app, live_server, session, page,
                                                                            problems):
    group = create_group(slug="metro-chat", name="METRO Community Chat")
    organizer = organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    member = create_user(email="mel@example.org", display_name="Mel Member")
    early = create_user(email="early@example.org")
    session.commit()
    signed_in_cookie(page, app, live_server, organizer)

    page.goto(live_server.url + "/groups/metro-chat")
    page.get_by_role("link", name="New series").click()
    expect(page.get_by_role("heading", name="New series for METRO Community Chat")).to_be_visible()
    assert_accessible(page, "new series form")

    first = (utcnow().astimezone(NY) + timedelta(days=4)).date()
    page.get_by_label("Title").fill("Community Chat")
    page.get_by_label("Every two weeks").check()
    page.get_by_label("First session").fill(first.isoformat())
    page.get_by_label("Starts at").fill("18:00")
    page.get_by_label("Length in minutes").fill("45")
    page.get_by_label("Number of sessions", exact=True).fill("0")
    page.get_by_label("Capacity").fill("1")
    page.get_by_role("button", name="Create series and publish its sessions").click()
    # A mistake comes back next to its field, with what was typed.
    expect(page.locator("#series-end-count-error")).to_contain_text("from 1 to 200")
    expect(page.get_by_label("Title")).to_have_value("Community Chat")
    assert_accessible(page, "new series form with an error")
    page.get_by_label("Number of sessions", exact=True).fill("6")
    page.get_by_role("button", name="Create series and publish its sessions").click()
    expect(page.get_by_role("heading", name="Community Chat", level=1)).to_be_visible()
    expect(page.get_by_text("6:00 PM New York time · 6 sessions in all")).to_be_visible()
    assert_accessible(page, "series page, organizer")
    # Each session is an event of its own, whose edit form asks "this session only, or all following".
    page.locator("#series-panel tbody tr").first.get_by_role("link").click()
    expect(page.locator(".event-series")).to_contain_text("A session of Community Chat")
    page.get_by_role("link", name="Edit event").click()
    expect(page.get_by_label("This session only")).to_be_checked()
    assert_accessible(page, "a session's edit form")

    # Someone took the second session's only seat before our member arrives.
    series = services.get_series_by_slug(session, "community-chat")
    second = services.sessions_of(session, series.id)[1]
    registrations.register(session, second.id, member=early, now=utcnow())
    session.commit()

    page.context.clear_cookies()
    page.goto(live_server.url + "/series/community-chat")
    expect(page.get_by_label("Email address")).to_be_visible()  # signed out: the event page's sign-in fields
    assert_accessible(page, "series page, signed out")
    signed_in_cookie(page, app, live_server, member)
    page.goto(live_server.url + "/groups/metro-chat")
    assert_accessible(page, "group page with its series")
    page.get_by_role("region", name="Series").get_by_role("link", name="Community Chat").click()
    rows = page.locator("#series-panel tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.nth(1)).to_contain_text("Full · waitlist open")
    assert_accessible(page, "series page, member not registered")

    # The event page's needs box: too long comes back next to it (and keeps the text), then it is kept on each session.
    needs = page.get_by_label("Accessibility needs or accommodations")
    needs.fill("x" * 1001)
    page.get_by_role("button", name="Register for all 6 sessions").click()
    expect(page.get_by_text("Accessibility needs can be at most 1,000 characters (this has 1,001).")).to_be_visible()
    expect(needs).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "series page, needs too long")
    needs.fill("Live captions, please")
    page.get_by_role("button", name="Register for all 6 sessions").click()
    expect(page.get_by_role("status")).to_contain_text("Registered for 5 sessions; waitlisted for 1 (full)")
    session.expire_all()
    kept = {registrations.registration_for(session, e.id, member).accessibility_needs
            for e in services.sessions_of(session, series.id)}
    assert kept == {"Live captions, please"}
    expect(rows.nth(0).locator("td").last).to_have_text("Registered")
    expect(rows.nth(1).locator("td").last).to_have_text("Waitlisted (#1 in line)")
    expect(rows.nth(5).locator("td").last).to_have_text("Registered")
    assert_accessible(page, "series page, registered for all")

    page.get_by_role("button", name="Cancel all remaining sessions").click()
    expect(page.get_by_role("status")).to_contain_text("Cancelled 6 sessions")
    expect(page.locator("#series-panel tbody td:last-child", has_text="Not registered")).to_have_count(6)
    expect(page.get_by_role("button", name="Register for all 6 sessions")).to_be_visible()
    assert_accessible(page, "series page, all cancelled")
    problems.assert_none()
