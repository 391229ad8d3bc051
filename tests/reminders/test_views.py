"""The personal join link over HTTP, and daylight-saving days on the event page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.factories import create_event, create_user
from webapp.db import utcnow
from webapp.events import changes as event_changes
from webapp.registrations import services as registrations
from webapp.registrations.tokens import join_url
from webapp.reminders.models import JoinVisit

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
ZOOM = "https://zoom.us/j/5550002222"


def booked(session, *, starts_in: timedelta, **fields):
    now = utcnow()
    event = create_event(meeting_url=ZOOM, starts_at=now + starts_in, **fields)
    registration = registrations.register(session, event.id, member=create_user(), now=now - timedelta(days=2)
                                          ).registration
    session.commit()
    return registration


def path_of(registration) -> str:
    return join_url(registration).removeprefix("http://meetups.test")


def visits(session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(JoinVisit.outcome).order_by(JoinVisit.id)))


def test_join_link_redirects_to_the_meeting_while_confirmed_and_near(client, session):
    registration = booked(session, starts_in=timedelta(hours=2))
    response = client.get(path_of(registration))
    assert response.status_code == 303 and response.headers["Location"] == ZOOM
    assert response.headers["Cache-Control"] == "no-store"
    client.get(path_of(registration))
    assert visits(session) == ["joined", "joined"]  # every use is recorded


def test_join_link_works_without_signing_in_but_not_too_early(client, session):
    registration = booked(session, starts_in=timedelta(days=3))
    response = client.get(path_of(registration))
    assert response.status_code == 403 and ZOOM not in response.get_data(as_text=True)
    assert "day before" in response.get_data(as_text=True)
    assert visits(session) == ["too_early"]


def test_join_link_stops_working_the_moment_the_member_cancels(client, session):
    registration = booked(session, starts_in=timedelta(hours=2))
    link = path_of(registration)
    registrations.cancel(session, registration, now=utcnow())
    session.commit()
    response = client.get(link)
    assert response.status_code == 403 and ZOOM not in response.get_data(as_text=True)
    # Registering again gives a new link; the old (perhaps forwarded) one stays dead.
    registrations.register(session, registration.event_id, member=registration.user, now=utcnow())
    session.commit()
    assert client.get(link).status_code == 403
    assert client.get(path_of(registration)).status_code == 303


def test_join_link_refuses_after_the_end_and_for_a_cancelled_event(client, session):
    registration = booked(session, starts_in=timedelta(hours=2))
    event_changes.cancel_event(session, registration.event_id, now=utcnow())
    session.commit()
    assert client.get(path_of(registration)).status_code == 403
    assert visits(session) == ["event_cancelled"]


def test_a_forged_join_link_is_404(client, session):
    registration = booked(session, starts_in=timedelta(hours=2))
    assert client.get(path_of(registration)[:-3] + "abc").status_code == 404
    assert client.get("/join/nonsense").status_code == 404


def test_event_page_on_daylight_saving_days_shows_the_local_time(client, session):
    create_event(slug="spring", starts_at=datetime(2027, 3, 14, 22, 0, tzinfo=UTC))
    create_event(slug="fall", starts_at=datetime(2027, 11, 7, 23, 0, tzinfo=UTC))
    session.commit()
    spring = client.get("/events/spring").get_data(as_text=True).replace("\u202f", " ")
    fall = client.get("/events/fall").get_data(as_text=True).replace("\u202f", " ")
    assert "6 PM\u20137 PM EDT" in spring and "Sunday, March 14, 2027" in spring
    assert "6 PM\u20137 PM EST" in fall and "Sunday, November 7, 2027" in fall
