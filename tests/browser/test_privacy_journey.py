"""Browser journey (issue 21): a member registers with needs → the organizer sees them → after the
retention time (a fixed clock for the sweep) they are gone → "Your data" shows the rest → the member
deletes their account from the mailed link → their cookie is dead and their address is in no table
but the outbox's status rows; axe-clean throughout."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tests.browser.conftest import PageProblems, assert_accessible, signed_in_cookie
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.privacy.test_deletion import _cells_holding, _deletion_link
from webapp.privacy.sweeps import erase_expired_data

ADDRESS = "rae@example.org"
NEEDS = "Live captions, and a seat near the front"


def test_needs_erased_on_time_then_the_account_deleted(app, live_server, session, page, browser, problems):
    group = create_group(slug="a11y", name="Accessibility in Libraries")
    organizer = organizer_of(group, email="org@example.org", display_name="Olu Organizer")
    event = create_event(group, slug="captions", title="Captions for everyone", capacity=20)
    member = create_user(email=ADDRESS, display_name="Rae Reader")
    session.commit()

    signed_in_cookie(page, app, live_server, member)
    page.goto(live_server.url + "/events/captions")
    panel = page.locator("#registration-panel")
    panel.get_by_label("Accessibility needs or accommodations").fill(NEEDS)
    panel.get_by_role("button", name="Register").click()
    expect(panel).to_contain_text("registered")
    assert_accessible(page, "event page, registered")

    organizers = browser.new_context()
    org_page = organizers.new_page()
    org_problems = PageProblems(org_page)
    signed_in_cookie(org_page, app, live_server, organizer)
    org_page.goto(live_server.url + "/events/captions/attendees")
    expect(org_page.locator("#attendee-rows")).to_contain_text(NEEDS)
    expect(org_page.locator("#needs-retention")).to_contain_text("30 days after the event ends")
    assert_accessible(org_page, "attendee list with needs")

    # The hourly sweep, a month after the event: its clock is the test's.
    erase_expired_data(session, now=event.ends_at + timedelta(days=30, minutes=1))
    session.commit()
    org_page.reload()
    expect(org_page.locator("#attendee-rows")).not_to_contain_text(NEEDS)
    expect(org_page.locator("#attendee-rows")).to_contain_text("Given; erased")
    assert_accessible(org_page, "attendee list, needs erased")
    org_problems.assert_none()

    page.goto(live_server.url + "/account")
    page.get_by_role("link", name="See your data").click()
    registrations = page.get_by_role("region", name="Your registrations")
    expect(registrations).to_contain_text("Captions for everyone")
    expect(registrations).to_contain_text("erased")
    expect(page.get_by_role("region", name="Your profile")).to_contain_text(ADDRESS)
    assert_accessible(page, "your data")

    cookies = page.context.cookies()
    page.goto(live_server.url + "/account")
    page.get_by_role("link", name="Delete your account").click()
    assert_accessible(page, "delete your account")
    page.get_by_role("button", name="Email me the link to delete my account").click()
    expect(page.get_by_role("status")).to_contain_text("We mailed you a link")
    page.goto(live_server.url + _deletion_link(session))
    expect(page.get_by_role("heading", name=f"Delete the account of {ADDRESS}?")).to_be_visible()
    assert_accessible(page, "confirm deletion")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Your account was deleted")).to_be_visible()
    assert_accessible(page, "account deleted")

    # A copy of the old cookie signs nobody in.
    stolen = browser.new_context()
    stolen.add_cookies(cookies)
    stolen_page = stolen.new_page()
    stolen_page.goto(live_server.url + "/account")
    expect(stolen_page).to_have_url(live_server.url + "/sign-in?next=%2Faccount")
    session.rollback()
    assert _cells_holding(session, ADDRESS) == ["outbox_mails.recipient"]
    assert _cells_holding(session, "Rae Reader") == []
