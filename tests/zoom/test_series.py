"""A series whose sessions have Zoom meetings the site makes: the New series form's choice, a meeting
for each session made (at once and by the sweep), whole-series members registered with Zoom in each,
and the meetings following "this and all following" and Change schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form as post
from tests.factories import create_group, create_user, organizer_of
from tests.series.helpers import NY, series_fields
from tests.series.test_schedule_views import _form_values as schedule_form_values
from tests.series.test_views import series_form
from tests.support.html import by_id, text
from tests.zoom.test_intents import intents, join_status, run_all
from webapp.db import utcnow
from webapp.events.models import Event, EventStatus
from webapp.registrations.models import Registration
from webapp.series import services
from webapp.series.models import Series
from webapp.zoom.models import IntentKind

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


@pytest.fixture
def world(session):
    group = create_group(slug="metro-chat", name="METRO Community Chat")
    organizer = organizer_of(group)
    member = create_user(email="ada@example.org", display_name="Ada Lovelace")
    session.commit()
    return dict(group=group, organizer=organizer, member=member)


def zoom_series(session, group, *, now=None, **changes) -> Series:
    """A bi-weekly Zoom series (8 sessions, 7 within the horizon unless `end_count` says fewer)."""
    now = now or utcnow()
    fields = series_fields(now, is_zoom_meeting=True, meeting_url=None, **changes)
    series = services.create_series(session, group, fields, actor=None, now=now)
    session.commit()
    return series


def scheduled(session, series) -> list[Event]:
    session.expire_all()
    return [e for e in services.sessions_of(session, series.id) if e.status == EventStatus.SCHEDULED]


def registration_of(session, event, member) -> Registration:
    return session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                     Registration.user_id == member.id))


def test_a_series_of_three_zoom_sessions_made_on_the_form_gets_three_meetings_each_once(
        signed_in_client, world, session, fake_zoom):
    client = signed_in_client(world["organizer"])
    page = client.get("/groups/metro-chat/series/new").get_data(as_text=True)
    assert "Create a Zoom meeting for each session" in page and 'name="meeting_source"' in page
    response = post(client, "/groups/metro-chat/series/new",
                    series_form(meeting_source="zoom", meeting_url="", end_count="3", capacity=""))
    assert response.status_code == 303
    series = session.scalar(select(Series))
    assert series.is_zoom_meeting and series.meeting_url is None
    made = scheduled(session, series)
    assert len(made) == 3 and all(e.is_zoom_meeting and e.meeting_url is None for e in made)
    # Queued in the request that made the sessions, one each; Zoom is never called from a web request.
    creates = intents(session, IntentKind.CREATE_MEETING)
    assert sorted(i.event_id for i in creates) == sorted(e.id for e in made)
    assert fake_zoom.meeting_creates() == 0

    run_all(session)
    services.materialize_all(session, now=utcnow())  # the hourly sweep: nothing new to make
    session.commit()
    run_all(session)
    assert fake_zoom.meeting_creates() == 3 and len(intents(session, IntentKind.CREATE_MEETING)) == 3
    made = scheduled(session, series)
    assert len({e.zoom_meeting_id for e in made}) == 3
    for event in made:
        meeting = fake_zoom.meetings[event.zoom_meeting_id]
        assert meeting["topic"] == "Community Chat" and meeting["duration"] == 60
        assert meeting["start_time"] == f"{event.starts_at:%Y-%m-%dT%H:%M:%SZ}"


def test_register_for_all_makes_the_member_a_registrant_in_each_session(signed_in_client, world, session,
                                                                        fake_zoom):
    series = zoom_series(session, world["group"], end_count=3)
    run_all(session)
    page = signed_in_client(world["member"]).get(f"/series/{series.slug}").get_data(as_text=True)
    assert "Each session is a Zoom meeting" in page  # said before anyone registers
    response = post(signed_in_client(world["member"]), f"/series/{series.slug}/register", {})
    assert response.status_code == 200
    made = scheduled(session, series)
    # Queued by Register for all itself, not left for the sweep to find.
    adds = intents(session, IntentKind.ADD_REGISTRANT)
    assert sorted(i.registration_id for i in adds) == sorted(registration_of(session, e, world["member"]).id
                                                             for e in made)
    run_all(session)
    session.expire_all()
    for event in made:
        [registrant] = fake_zoom.approved(event.zoom_meeting_id)
        assert registrant["email"] == "ada@example.org" and registrant["first_name"] == "Ada"
        assert registration_of(session, event, world["member"]).zoom_join_url == registrant["join_url"]


def test_the_sweep_making_a_later_session_makes_its_meeting_and_the_whole_series_members_registrant(
        signed_in_client, world, session, fake_zoom):
    series = zoom_series(session, world["group"])  # 8 bi-weekly sessions: the 8th is past the horizon
    assert post(signed_in_client(world["member"]), f"/series/{series.slug}/register", {}).status_code == 200
    run_all(session)
    assert fake_zoom.meeting_creates() == 7

    later = utcnow() + timedelta(days=15)
    assert services.materialize_all(session, now=later) == 1
    session.commit()
    newest = scheduled(session, series)[-1]
    assert newest.is_zoom_meeting and newest.meeting_url is None
    registration = registration_of(session, newest, world["member"])
    assert [i.event_id for i in intents(session, IntentKind.CREATE_MEETING)][-1] == newest.id
    assert registration.id in {i.registration_id for i in intents(session, IntentKind.ADD_REGISTRANT)}

    run_all(session, now=later)
    services.materialize_all(session, now=later)  # again: nothing made, nothing queued twice
    session.commit()
    run_all(session, now=later)
    session.expire_all()
    newest = session.get(Event, newest.id)
    assert fake_zoom.meeting_creates() == 8 and newest.zoom_meeting_id in fake_zoom.meetings
    [registrant] = fake_zoom.approved(newest.zoom_meeting_id)
    assert registrant["email"] == "ada@example.org"
    assert session.get(Registration, registration.id).zoom_join_url == registrant["join_url"]


def test_this_and_all_following_changes_the_meetings_of_the_edited_sessions_only(signed_in_client, world, session,
                                                                                  fake_zoom):
    series = zoom_series(session, world["group"], end_count=3)
    run_all(session)
    first, second, third = scheduled(session, series)
    start = second.starts_at.astimezone(NY).replace(hour=19)
    response = post(signed_in_client(world["organizer"]), f"/events/{second.slug}/edit", dict(
        title="Community Chat (evening)", description="Bi-weekly chat.", starts_at=f"{start:%Y-%m-%dT%H:%M}",
        ends_at=f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M}", meeting_format="online", meeting_url="",
        capacity="", scope="following"))
    assert response.status_code == 303
    assert {i.event_id for i in intents(session, IntentKind.UPDATE_MEETING)} == {second.id, third.id}
    run_all(session)
    session.expire_all()
    for event in (second, third):
        event = session.get(Event, event.id)
        meeting = fake_zoom.meetings[event.zoom_meeting_id]
        assert meeting["topic"] == "Community Chat (evening)" and event.starts_at.astimezone(NY).hour == 19
        assert meeting["start_time"] == f"{event.starts_at:%Y-%m-%dT%H:%M:%SZ}"
    assert fake_zoom.meetings[first.zoom_meeting_id]["topic"] == "Community Chat"
    assert fake_zoom.meeting_creates() == 3


def test_change_schedule_cancelling_a_session_deletes_its_meeting_and_the_members_link_dies(
        signed_in_client, world, session, fake_zoom):
    series = zoom_series(session, world["group"], end_count=3)
    assert post(signed_in_client(world["member"]), f"/series/{series.slug}/register", {}).status_code == 200
    run_all(session)
    first, second, third = scheduled(session, series)
    link = registration_of(session, third, world["member"]).zoom_join_url
    assert join_status(link) == 200

    client = signed_in_client(world["organizer"])
    values = schedule_form_values(client.get(f"/series/{series.slug}/schedule").get_data(as_text=True))
    preview = post(client, f"/series/{series.slug}/schedule", {**values, "end_count": "2", "step": "preview"})
    confirm = schedule_form_values(preview.get_data(as_text=True))
    assert post(client, f"/series/{series.slug}/schedule", {**confirm, "step": "confirm"}).status_code == 200
    assert [i.event_id for i in intents(session, IntentKind.DELETE_MEETING)] == [third.id]
    run_all(session)
    assert third.zoom_meeting_id not in fake_zoom.meetings and join_status(link) == 404
    assert first.zoom_meeting_id in fake_zoom.meetings and second.zoom_meeting_id in fake_zoom.meetings


def test_without_zoom_the_series_form_offers_no_choice_and_a_crafted_one_is_refused_next_to_the_field(
        signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    page = client.get("/groups/metro-chat/series/new").get_data(as_text=True)
    assert 'name="meeting_source"' not in page and "Create a Zoom meeting" not in page
    assert "its Zoom connection isn’t set up" in text(by_id(page, "series-zoom-unavailable"))
    response = post(client, "/groups/metro-chat/series/new", series_form(meeting_source="zoom", meeting_url=""))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert text(by_id(page, "series-meeting-source-error")).startswith("This site can’t create Zoom meetings")
    assert 'value="Community Chat"' in page  # what was typed is still there
    session.expire_all()
    assert session.scalar(select(func.count(Series.id))) == 0 and intents(session) == []


def test_the_service_refuses_a_zoom_series_without_zoom_or_in_person(app, world, session, fake_zoom):
    with pytest.raises(services.OrganizeError) as refused:
        zoom_series(session, world["group"], is_online=False, venue_name="METRO")
    assert refused.value.field == "meeting_source"
    session.rollback()
    app.config["ZOOM_CLIENT_SECRET"] = ""
    with pytest.raises(services.OrganizeError) as refused:
        zoom_series(session, world["group"])
    assert refused.value.field == "meeting_source"
