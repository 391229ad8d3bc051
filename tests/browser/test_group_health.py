"""Browser: program staff filter the group health table with htmx, sort it from the keyboard, and
the address bar keeps the state for reload and Back, and the organizers count leads to the group's
organizers; every state axe-clean, focus kept in place."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.browser.keyboard import assert_focus_visible_within, tab_to
from tests.factories import create_event, create_group, create_user
from webapp.accounts.models import Role
from webapp.db import db, utcnow


def group_rows(page):
    return page.locator("#health-rows tbody th[scope=row]")


def test_staff_filter_and_sort_the_group_health_table(app, live_server, page, problems):
    now = utcnow()
    create_event(create_group(name="Bibliothèque Club"), starts_at=now - timedelta(days=10))
    create_event(create_group(name="Archivists Asleep"), starts_at=now - timedelta(days=250))
    create_event(create_group(name="Never Met"), starts_at=now + timedelta(days=5))
    staff = create_user(roles=[Role.STAFF])
    db.session.commit()
    signed_in_cookie(page, app, live_server, staff)

    page.goto(live_server.url + "/staff/groups")
    expect(page.get_by_role("heading", name="Group health")).to_be_visible()
    expect(group_rows(page)).to_have_text(["Archivists Asleep", "Bibliothèque Club", "Never Met"])
    assert_accessible(page, "(every group)")

    # Filtering swaps the results in place; focus stays on the select, the address bar follows.
    show = page.get_by_label("Show")
    show.focus()
    show.select_option("dormant")
    expect(page.locator("#health-count")).to_have_text("2 groups match · dormant only")
    expect(group_rows(page)).to_have_text(["Archivists Asleep", "Never Met"])
    expect(page).to_have_url(re.compile(r"/staff/groups\?show=dormant$"))
    expect(show).to_be_focused()
    assert_accessible(page, "(dormant only)")

    # Sorting from the keyboard: the header's link keeps focus across the swap and aria-sort says which way.
    tab_to(page, "Last event held", role="link")
    page.keyboard.press("Enter")
    last_header = page.locator("#health-rows th", has=page.locator("#sort-last"))
    expect(last_header).to_have_attribute("aria-sort", "ascending")
    expect(group_rows(page)).to_have_text(["Archivists Asleep", "Never Met"])  # never held: last either way
    expect(page.locator("#sort-last")).to_be_focused()
    assert_focus_visible_within(page, "#health-rows")
    page.keyboard.press("Enter")
    expect(last_header).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(re.compile(r"\?sort=last&order=desc&show=dormant$"))
    expect(page.locator("#sort-last")).to_be_focused()
    assert_accessible(page, "(sorted by last event, descending)")

    # Typing searches as you go, with the sort kept; the CSV link asks for exactly these rows.
    page.get_by_label("Group name contains").fill("never")
    expect(group_rows(page)).to_have_text(["Never Met"])
    expect(page).to_have_url(re.compile(r"\?sort=last&order=desc&show=dormant&q=never$"))
    expect(page.get_by_role("link", name="Download these rows as CSV")).to_have_attribute(
        "href", "/staff/groups.csv?sort=last&order=desc&show=dormant&q=never")

    # A reload shows the same state; Back goes to the state before the last sort.
    page.reload()
    expect(page.get_by_label("Group name contains")).to_have_value("never")
    expect(page.get_by_label("Show")).to_have_value("dormant")
    expect(page.locator("#health-rows th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?sort=last&show=dormant$"))
    expect(page.locator("#health-rows th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    expect(group_rows(page)).to_have_text(["Archivists Asleep", "Never Met"])

    # The organizers count leads to the group's organizers, which staff read without its buttons.
    page.get_by_role("link", name="1 organizer of Never Met").click()
    expect(page.get_by_role("heading", name="Organizers of Never Met")).to_be_visible()
    expect(page.get_by_text("You’re reading this as program staff")).to_be_visible()
    assert_accessible(page, "(a group's organizers, read by staff)")
