"""Browser: issue 22's journey. An organizer creates an event with "Create a Zoom meeting" and
publishes it, a member registers, the reminder carries the member's own Zoom link, the member
cancels, and that link is dead at Zoom's side (the fake Zoom refuses it). axe on every page."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import assert_accessible, signed_in_cookie
from tests.factories import create_group, create_user, organizer_of
from tests.organize.test_views import local_input
from tests.support.outbox import mails
from webapp.db import utcnow
from webapp.events.models import Event
from webapp.outbox import services as outbox
from webapp.registrations.models import Registration
from webapp.reminders import services as reminders
from webapp.zoom import services as zoom


def the_workers(session) -> None:
    """What the Celery workers do after each commit, here in the test's own thread."""
    session.rollback()
    zoom.sweep(session)


def test_organizer_makes_a_zoom_event_member_registers_gets_their_link_cancels_and_it_dies(
        app, live_server, session, page, browser, problems, fake_zoom):
    group = create_group(slug="metadata", name="Metadata Practitioners")
    organizer = organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    member = create_user(email="mel@example.org", display_name="Mel Member")
    session.commit()

    signed_in_cookie(page, app, live_server, organizer)
    page.goto(live_server.url + "/groups/metadata/events/new")
    assert_accessible(page, "new event form, with Zoom")
    starts = utcnow() + timedelta(hours=30)  # the reminder is due from 24 hours before
    page.get_by_label("Title").fill("Zoom Round-table")
    page.get_by_label("Starts").fill(local_input(starts))
    page.get_by_label("Ends").fill(local_input(starts + timedelta(hours=1)))
    page.get_by_label("Create a Zoom meeting").check()
    page.get_by_label("Capacity").fill("10")
    page.get_by_role("button", name="Save and preview").click()
    expect(page.get_by_role("heading", name="Zoom Round-table", level=1)).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status").filter(has_text="Published.")).to_be_visible()
    assert fake_zoom.meeting_creates() == 0  # the page never waited on Zoom
    the_workers(session)
    event = session.scalar(select(Event).where(Event.title == "Zoom Round-table"))
    assert event.zoom_meeting_id in fake_zoom.meetings

    member_context = browser.new_context()
    member_page = member_context.new_page()
    signed_in_cookie(member_page, app, live_server, member)
    member_page.goto(live_server.url + f"/events/{event.slug}")
    panel = member_page.locator("#registration-panel")
    panel.get_by_role("button", name="Register").click()
    expect(panel).to_contain_text("You’re registered.")
    assert_accessible(member_page, "registered for a Zoom event")
    the_workers(session)
    registration = session.scalar(select(Registration).where(Registration.user_id == member.id))
    zoom_link = registration.zoom_join_url
    assert zoom_link and [r["email"] for r in fake_zoom.approved(event.zoom_meeting_id)] == [member.email]

    # The reminder sweep and the outbox: the reminder carries the member's own Zoom link.
    later = utcnow() + timedelta(hours=7)
    reminders.queue_due_reminders(session, now=later)
    session.commit()
    [reminder] = mails(session, kind="reminder")
    outbox.send_outbox_mail(session, reminder.id, now=later)
    [reminder] = mails(session, kind="reminder")
    assert zoom_link in reminder.body_text and zoom_link in reminder.body_html
    member_page.goto(zoom_link)  # the fake Zoom lets them in
    expect(member_page.get_by_text("Welcome to the waiting room.")).to_be_visible()

    member_page.goto(live_server.url + f"/events/{event.slug}")
    panel.get_by_role("button", name="Cancel my registration for Zoom Round-table").click()
    panel.get_by_role("button", name="Yes, cancel").click()
    expect(panel.get_by_role("status")).to_contain_text("You cancelled your registration for Zoom Round-table.")
    assert_accessible(member_page, "cancelled")
    the_workers(session)
    assert member_page.request.get(zoom_link).status == 403  # dead at Zoom, even copied
    assert fake_zoom.approved(event.zoom_meeting_id) == []
    member_context.close()
