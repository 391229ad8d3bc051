"""Browser: an organizer creates an event and opens its attendee list; both pages axe-clean."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.browser.test_proposals import sign_in
from tests.factories import create_group, create_user
from webapp.groups.models import GroupOrganizer


def test_organizer_creates_an_event_and_sees_its_attendees(live_server, session, page, problems):
    group = create_group(slug="metadata", name="Metadata Practitioners")
    organizer = create_user(email="org@example.org", display_name="Olga Organizer")
    group.organizers.append(GroupOrganizer(name="Olga Organizer", user_id=organizer.id, email=organizer.email,
                                           position=5))
    session.commit()
    sign_in(page, live_server, session, "org@example.org")

    page.goto(live_server.url + "/groups/metadata")
    page.get_by_role("link", name="New event").click()
    expect(page.get_by_role("heading", name="New event for Metadata Practitioners")).to_be_visible()
    assert_accessible(page, "new event form")

    page.get_by_label("Title").fill("Linked Data Round-table")
    page.get_by_label("Starts").fill("2031-07-01T18:00")
    page.get_by_label("Ends").fill("2031-07-01T19:30")
    page.get_by_label("Capacity").fill("12")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("heading", name="Linked Data Round-table")).to_be_visible()

    page.get_by_role("link", name="Attendees").click()
    expect(page.get_by_role("heading", name="Attendees: Linked Data Round-table")).to_be_visible()
    assert_accessible(page, "attendee list")
