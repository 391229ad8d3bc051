"""Browser, keyboard only: an organizer goes from the series page to Change schedule, shortens the
series, reads what will happen, confirms it, and lands on what was done. Every state axe-checked
(the manage page with a slot default's edit and remove forms too)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.browser.keyboard import assert_focus_visible, tab_to
from tests.factories import create_group, organizer_of
from tests.series.helpers import series_fields
from webapp.db import utcnow
from webapp.events.models import EventStatus
from webapp.series import services


def test_change_schedule_with_its_confirm_step_by_keyboard(app, live_server, session, page, problems):
    group = create_group(slug="metro-chat", name="METRO Community Chat")
    organizer = organizer_of(group, email="org@example.org")
    series = services.create_series(session, group, series_fields(utcnow()), actor=None, now=utcnow())
    services.offer_series_slots(session, series.id, label="15-minute talk", minutes="15", how_many="2", now=utcnow())
    session.commit()
    signed_in_cookie(page, app, live_server, organizer)
    page.goto(live_server.url + f"/series/{series.slug}")

    tab_to(page, "Manage this series: schedule and slots", see_every_stop=True)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Manage Community Chat")).to_be_visible()
    assert_accessible(page, "(manage series)")
    tab_to(page, "Change schedule", role="link")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Change the schedule of Community Chat")).to_be_visible()
    assert_accessible(page, "(change schedule form)")

    tab_to(page, "Number of sessions in all", see_every_stop=True)
    page.keyboard.press("Control+a")
    page.keyboard.type("4")
    tab_to(page, "Show what will change")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check what will happen")).to_be_focused()
    expect(page.locator("#schedule-plan")).to_contain_text("3 sessions will be cancelled")
    assert_accessible(page, "(change schedule: what will happen)")

    tab_to(page, "Change the schedule")
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("3 sessions cancelled")
    assert_accessible(page, "(change schedule: done)")
    session.expire_all()
    assert len([e for e in services.sessions_of(session, series.id) if e.status == EventStatus.SCHEDULED]) == 4
