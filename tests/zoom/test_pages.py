"""The pages around Zoom: the event form's choice, /join/ forwarding to the attendee's own Zoom link,
and the staff's Zoom tasks page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import post_form
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.organize.test_views import event_form
from tests.support.html import parse as soup
from webapp.accounts.models import Role
from webapp.db import utcnow
from webapp.events.models import Event, EventStatus
from webapp.registrations import services as registrations
from webapp.registrations.tokens import join_url
from webapp.zoom import services as zoom
from webapp.zoom.models import IntentKind, IntentState, ZoomIntent

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


@pytest.fixture
def organizer(session):
    group = create_group(slug="metadata")
    person = organizer_of(group)
    session.commit()
    return person


def saved_event(session) -> Event:
    session.expire_all()
    return session.scalar(select(Event).order_by(Event.id.desc()).limit(1))


# --- the event form ----------------------------------------------------------------------------------

def test_without_zoom_the_form_says_why_the_option_is_missing_and_pasting_works_as_before(
        session, signed_in_client, organizer):
    client = signed_in_client(organizer)
    page = client.get("/groups/metadata/events/new").get_data(as_text=True)
    assert "Zoom connection isn’t set up" in page and 'name="meeting_source"' not in page
    response = post_form(client, "/groups/metadata/events/new", event_form())
    assert response.status_code in (200, 303)
    event = saved_event(session)
    assert event.meeting_url == "https://zoom.us/j/555" and not event.is_zoom_meeting


def test_without_zoom_a_posted_zoom_choice_is_refused_next_to_the_field(session, signed_in_client, organizer):
    client = signed_in_client(organizer)
    response = post_form(client, "/groups/metadata/events/new", event_form(meeting_source="zoom", meeting_url=""))
    assert response.status_code == 422
    page = soup(response.get_data(as_text=True))
    assert "Zoom connection isn’t set up" in page.select_one("#event-form").get_text()
    assert saved_event(session) is None


def test_with_zoom_the_organizer_chooses_create_a_zoom_meeting_and_publishing_queues_it(
        session, signed_in_client, organizer, fake_zoom):
    client = signed_in_client(organizer)
    page = soup(client.get("/groups/metadata/events/new").get_data(as_text=True))
    choice = page.select_one("#event-meeting-source-zoom")
    assert choice is not None and page.select_one("label[for=event-meeting-source-zoom]").get_text().startswith(
        "Create a Zoom meeting")
    response = post_form(client, "/groups/metadata/events/new",
                         event_form(meeting_source="zoom", meeting_url="", title="Zoom café ☕"))
    assert response.status_code in (200, 303)
    event = saved_event(session)
    assert event.is_zoom_meeting and event.meeting_url is None and event.status == EventStatus.DRAFT
    assert session.scalars(select(ZoomIntent)).all() == []  # a draft makes no meeting
    assert post_form(client, f"/events/{event.slug}/publish").status_code == 303
    [intent] = session.scalars(select(ZoomIntent)).all()
    assert intent.kind == IntentKind.CREATE_MEETING
    assert fake_zoom.calls == []  # the web request called nothing: a worker does
    zoom.sweep(session)
    meeting = fake_zoom.meetings[saved_event(session).zoom_meeting_id]
    assert meeting["topic"] == "Zoom café ☕"


def test_a_zoom_meeting_ignores_a_pasted_link_and_needs_an_online_event(session, signed_in_client, organizer,
                                                                        fake_zoom):
    client = signed_in_client(organizer)
    post_form(client, "/groups/metadata/events/new",
              event_form(meeting_source="zoom", meeting_url="https://example.org/other"))
    assert saved_event(session).meeting_url is None and saved_event(session).is_zoom_meeting
    post_form(client, "/groups/metadata/events/new",
              event_form(meeting_source="zoom", meeting_format="in_person", venue_name="METRO", title="In person"))
    event = saved_event(session)
    assert event.title == "In person" and not event.is_zoom_meeting and not event.is_online


def test_a_published_zoom_event_keeps_its_meeting_and_stays_online(session, signed_in_client, organizer, fake_zoom):
    from webapp.groups.models import Group

    group = session.scalar(select(Group).where(Group.slug == "metadata"))
    event = create_event(group, slug="zoomed", meeting_url=None, is_zoom_meeting=True)
    session.commit()
    client = signed_in_client(organizer)
    page = client.get("/events/zoomed/edit").get_data(as_text=True)
    assert "made by the site" in page and 'name="meeting_source"' not in page
    response = post_form(client, "/events/zoomed/edit", event_form(
        title=event.title, meeting_format="in_person", venue_name="METRO", meeting_url=""))
    assert response.status_code == 422 and "stays online" in response.get_data(as_text=True)


# --- /join/ -----------------------------------------------------------------------------------------

def booked_zoom_seat(session, fake_zoom, *, capacity=5):
    event = create_event(create_group(), meeting_url=None, is_zoom_meeting=True, status=EventStatus.DRAFT,
                         capacity=capacity, starts_at=utcnow() + timedelta(hours=2))
    from webapp.organize.services import publish_event

    publish_event(session, event.id, actor=None, now=utcnow())
    registration = registrations.register(session, event.id, member=create_user(), now=utcnow()).registration
    session.commit()
    return event, registration


def test_join_forwards_a_confirmed_attendee_to_their_own_zoom_link(client, session, fake_zoom):
    event, registration = booked_zoom_seat(session, fake_zoom)
    path = join_url(registration).removeprefix("http://meetups.test")
    waiting = client.get(path)  # Zoom hasn't registered them yet
    assert waiting.status_code == 403 and "isn’t ready yet" in waiting.get_data(as_text=True)
    zoom.sweep(session)
    session.refresh(registration)
    response = client.get(path)
    assert response.status_code == 303 and response.headers["Location"] == registration.zoom_join_url
    assert "?tk=" in registration.zoom_join_url and response.headers["Cache-Control"] == "no-store"


def test_a_waitlisted_member_has_no_zoom_link_and_join_refuses_them(client, session, fake_zoom):
    event, _ = booked_zoom_seat(session, fake_zoom, capacity=1)
    waiting = registrations.register(session, event.id, member=create_user(), now=utcnow()).registration
    session.commit()
    zoom.sweep(session)
    session.refresh(waiting)
    assert waiting.zoom_join_url is None
    response = client.get(join_url(waiting).removeprefix("http://meetups.test"))
    assert response.status_code == 403


def test_the_meeting_passcode_is_shown_nowhere(client, session, fake_zoom, signed_in_client):
    event, registration = booked_zoom_seat(session, fake_zoom)
    zoom.sweep(session)
    member_page = signed_in_client(registration.user).get(f"/events/{event.slug}").get_data(as_text=True)
    from webapp.outbox.models import OutboxMail

    bodies = " ".join(m.body_text + (m.body_html or "") for m in session.scalars(select(OutboxMail)))
    assert "fake-pass" not in member_page and "fake-pass" not in bodies
    assert "/join/" in member_page  # the personal link, never a raw Zoom URL
    assert fake_zoom.url not in member_page


# --- the staff page ---------------------------------------------------------------------------------

def test_the_staff_page_lists_zoom_tasks_with_zooms_answer_and_retries_a_failed_one(
        session, signed_in_client, fake_zoom):
    event = create_event(create_group(), meeting_url=None, is_zoom_meeting=True, status=EventStatus.DRAFT)
    from webapp.organize.services import publish_event

    publish_event(session, event.id, actor=None, now=utcnow())
    staff = create_user(roles=[Role.STAFF])
    session.commit()
    from flask import current_app

    current_app.config["ZOOM_CLIENT_SECRET"] = "revoked"  # the fake refuses the token: a permanent failure
    zoom.sweep(session)
    client = signed_in_client(staff)
    page = soup(client.get("/outbox/zoom").get_data(as_text=True))
    failed = page.find("h2", string="Failed tasks").find_next("table")
    assert "create_meeting" in failed.get_text() and "Invalid client_id" in failed.get_text()
    current_app.config["ZOOM_CLIENT_SECRET"] = "fake-secret"
    [intent] = session.scalars(select(ZoomIntent)).all()
    assert post_form(client, f"/outbox/zoom/{intent.id}/retry").status_code == 303
    again = post_form(client, f"/outbox/zoom/{intent.id}/retry")  # a replayed POST
    assert "already on its way" in again.get_data(as_text=True)
    zoom.sweep(session)
    session.expire_all()
    assert session.get(ZoomIntent, intent.id).state == IntentState.DONE and fake_zoom.meeting_creates() == 1


def test_the_zoom_page_is_for_staff_only(client, session, signed_in_client):
    member = create_user()
    session.commit()
    assert client.get("/outbox/zoom").status_code == 404
    assert signed_in_client(member).get("/outbox/zoom").status_code == 404


def test_organizers_read_how_the_zoom_meeting_is_doing_and_members_do_not(session, signed_in_client, organizer,
                                                                          fake_zoom):
    from webapp.groups.models import Group
    from webapp.organize.services import publish_event

    group = session.scalar(select(Group).where(Group.slug == "metadata"))
    event = create_event(group, slug="zoomed", meeting_url=None, is_zoom_meeting=True, status=EventStatus.DRAFT)
    member = create_user()
    session.commit()
    organizer_client = signed_in_client(organizer)

    def status() -> str:
        found = soup(organizer_client.get("/events/zoomed").get_data(as_text=True)).select_one("#zoom-meeting-status")
        return found.get_text() if found else ""

    assert "made when you publish" in status()
    publish_event(session, event.id, actor=None, now=utcnow())
    session.commit()
    fake_zoom.down = True
    zoom.sweep(session)
    assert "Zoom isn’t answering yet" in status() and "503" in status()
    fake_zoom.down = False
    zoom.sweep(session, now=utcnow() + timedelta(hours=2))
    assert "The Zoom meeting is made" in status()
    member_page = signed_in_client(member).get("/events/zoomed").get_data(as_text=True)
    assert 'id="zoom-meeting-status"' not in member_page
