"""Browser: an organizer creates an event as a draft, previews it, publishes it, copies it for next month,
and opens its attendee list; every page axe-clean, and members see nothing until it is published."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in, sign_out
from tests.factories import create_group, create_user, organizer_of


def test_organizer_drafts_previews_publishes_and_copies_an_event(live_server, session, page, problems):
    group = create_group(slug="metadata", name="Metadata Practitioners")
    organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    create_user(email="mel@example.org", display_name="Mel Member")
    session.commit()
    sign_in(page, live_server, session, "org@example.org")

    page.goto(live_server.url + "/groups/metadata")
    page.get_by_role("link", name="New event").click()
    expect(page.get_by_role("heading", name="New event for Metadata Practitioners")).to_be_visible()
    assert_accessible(page, "new event form")

    page.get_by_label("Title").fill("Linked Data Round-table")
    page.get_by_label("Starts").fill("2031-07-01T18:00")
    page.get_by_label("Ends").fill("2031-07-01T19:30")
    page.get_by_label("In person").check()
    page.get_by_label("Venue", exact=True).fill("Brooklyn Public Library")
    page.get_by_label("Accessibility of the venue").fill("Step-free entrance on Flatbush Ave.\nElevator to 2.")
    page.get_by_label("Capacity").fill("12")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status")).to_contain_text("Draft saved.")
    assert_accessible(page, "draft saved, back on the form")

    page.get_by_role("button", name="Save and preview").click()
    expect(page.get_by_role("heading", name="Linked Data Round-table", level=1)).to_be_visible()
    expect(page.get_by_text("Draft — only organizers can see this.")).to_be_visible()
    expect(page.get_by_text("Elevator to 2.")).to_be_visible()
    expect(page.get_by_role("button", name="Publish")).to_be_visible()
    assert_accessible(page, "draft preview")
    preview_url = page.url

    # A member finds nothing, not even by its address.
    sign_out(page)
    sign_in(page, live_server, session, "mel@example.org")
    page.goto(live_server.url + "/events")
    expect(page.get_by_text("Linked Data Round-table")).to_have_count(0)
    assert page.request.get(preview_url).status == 404  # (a request, so no console error is logged)
    sign_out(page)

    sign_in(page, live_server, session, "org@example.org")
    page.goto(live_server.url + "/groups/metadata/drafts")
    assert_accessible(page, "drafts list")
    page.get_by_role("link", name="Linked Data Round-table", exact=True).click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published.")).to_be_visible()
    expect(page.get_by_text("Draft — only organizers can see this.")).to_have_count(0)
    assert_accessible(page, "published event")

    page.get_by_role("link", name="Same time next month").click()
    expect(page.get_by_role("heading", name="New event for Metadata Practitioners")).to_be_visible()
    expect(page.get_by_label("Starts")).to_have_value("2031-08-05T18:00")  # 1st Tuesday -> 1st Tuesday
    assert_accessible(page, "copy for next month")
    page.get_by_role("button", name="Save and preview").click()
    expect(page.get_by_text("Draft — only organizers can see this.")).to_be_visible()

    page.goto(preview_url)
    page.get_by_role("link", name="Attendees").click()
    expect(page.get_by_role("heading", name="Attendees: Linked Data Round-table")).to_be_visible()
    assert_accessible(page, "attendee list")

    # Editing with a mistake: the message sits next to the field, what was typed stays.
    page.goto(preview_url)
    page.get_by_role("link", name="Edit event").click()
    assert_accessible(page, "edit event form")
    page.get_by_label("Ends").fill("2031-07-01T17:00")
    page.get_by_label("Capacity").fill("-3")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_label("Capacity")).to_have_value("-3")
    expect(page.locator("#event-ends_at-error, #event-ends-at-error, [id$='ends_at-error']").first).to_be_visible()
    assert_accessible(page, "edit event form with errors")

    # Cancelling asks first, then keeps the page up, marked cancelled.
    page.goto(preview_url)
    page.get_by_role("link", name="Cancel event").click()
    assert_accessible(page, "cancel event: confirmation")
    page.get_by_role("button", name="Cancel the event and tell attendees").click()
    expect(page.get_by_text("cancelled", exact=False).first).to_be_visible()
    assert_accessible(page, "cancelled event")
