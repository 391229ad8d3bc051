"""When a member may cancel: until the event starts. The event page, "My events" and the mail's
cancel link all show Cancel by that one rule, and the cancel service enforces it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_for
from tests.factories import create_event, create_user
from webapp.db import utcnow
from webapp.events.models import EventStatus
from webapp.outbox.models import OutboxMail
from webapp.registrations import services
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.tokens import manage_token

pytestmark = pytest.mark.usefixtures("fresh_request_globals")

# Each moment, and what the member is told when Cancel is not offered (None: it is offered).
MOMENTS = {
    "before": (timedelta(days=2), None),
    # Registration has closed but the event has not started: a freed seat still goes to the line.
    "after registration closed": (timedelta(hours=5), None),
    "during": (timedelta(minutes=-30), "This event has started, so the registration can no longer be cancelled."),
    "after": (timedelta(hours=-3), "This event has ended, so the registration can no longer be cancelled."),
}


@pytest.fixture(params=list(MOMENTS))
def moment(request, session, app):
    """A confirmed, checked-in registration (and one waiting in line) for an event at that moment."""
    starts_in, problem = MOMENTS[request.param]
    now = utcnow()
    starts = now + starts_in
    event = create_event(slug="talk", title="The talk", starts_at=starts, ends_at=starts + timedelta(hours=1),
                         capacity=1, registration_closes_at=min(starts, now + timedelta(hours=4)) - timedelta(hours=1)
                         if request.param == "after registration closed" else None)
    member, waiting = create_user(email="ada@example.org"), create_user(email="ben@example.org")
    booked = starts - timedelta(days=3)
    if event.registration_closes_at:
        booked = event.registration_closes_at - timedelta(days=1)
    registration = services.register(session, event.id, member=member, now=booked).registration
    services.register(session, event.id, member=waiting, now=booked + timedelta(minutes=1))
    registration.checked_in_at = starts if request.param in ("during", "after") else None
    session.commit()
    return dict(name=request.param, problem=problem, event=event, member=member, registration=registration,
                token=manage_token(registration))


def snapshot(session, registration_id):
    session.expire_all()
    r = session.get(Registration, registration_id)
    waiting = session.scalar(select(func.count()).where(Registration.status == RegistrationStatus.WAITLISTED))
    return (r.status, r.checked_in_at, r.event.confirmed_count, waiting,
            session.scalar(select(func.count(OutboxMail.id))))


def offers_cancel(html: str) -> bool:
    return "Cancel my registration" in html or ">Cancel<span" in html or "Yes, cancel<" in html


def test_the_event_page_my_events_and_the_mail_link_agree(signed_in_client, moment):
    client = signed_in_client(moment["member"])
    offered = moment["problem"] is None
    event_page = client.get("/events/talk").get_data(as_text=True)
    manage_page = client.get(f"/r/{moment['token']}").get_data(as_text=True)
    my_events = client.get("/my/events").get_data(as_text=True)
    assert offers_cancel(event_page) is offered
    assert offers_cancel(manage_page) is offered
    assert offers_cancel(my_events) is offered
    if not offered:
        assert moment["problem"] in event_page and moment["problem"] in manage_page


@pytest.mark.parametrize("how", ["htmx", "plain", "from my events", "mail link"])
def test_cancelling_follows_the_rule(signed_in_client, session, moment, how):
    client = signed_in_client(moment["member"])
    registration_id = moment["registration"].id
    before = snapshot(session, registration_id)
    data = {"csrf_token": csrf_token_for(client)}
    if how == "mail link":
        response = client.post(f"/r/{moment['token']}", data=data)
    else:
        if how == "from my events":
            data["back"] = "my-events"
        response = client.post(f"/registrations/{registration_id}/cancel", data=data,
                               headers={"HX-Request": "true"} if how == "htmx" else {})
    after = snapshot(session, registration_id)
    if moment["problem"] is None:
        assert response.status_code in (200, 303)
        assert after[0] == RegistrationStatus.CANCELLED
        assert after[3] == 0  # the freed seat went to the next in line
        return
    html = response.get_data(as_text=True)
    assert response.status_code == (200 if how == "htmx" else 409), html[:300]
    assert moment["problem"] in html and 'role="alert"' in html
    if how == "htmx":
        assert html.lstrip().startswith('<section id="registration-panel"')
    assert after == before  # still confirmed, still checked in, nobody promoted, no mail


def test_cancellation_problem_at_the_edges(session):
    now = utcnow()
    event = create_event(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    registration = Registration(event_id=event.id, user_id=create_user().id, status=RegistrationStatus.CONFIRMED)
    starts, ends = event.starts_at, event.ends_at
    assert services.cancellation_problem(registration, event, starts - timedelta(seconds=1)) is None
    assert "started" in services.cancellation_problem(registration, event, starts)
    assert "ended" in services.cancellation_problem(registration, event, ends)
    event.status = EventStatus.CANCELLED
    assert "was cancelled" in services.cancellation_problem(registration, event, starts - timedelta(days=1))
    registration.status = RegistrationStatus.CANCELLED
    assert "already cancelled" in services.cancellation_problem(registration, event, now)


def test_the_service_refuses_after_the_start_and_changes_nothing(session):
    now = utcnow()
    event = create_event(starts_at=now + timedelta(days=1), capacity=5)
    registration = services.register(session, event.id, member=create_user(), now=now).registration
    session.commit()
    with pytest.raises(services.RegistrationError, match="has started"):
        services.cancel(session, registration, now=event.starts_at + timedelta(minutes=1))
    session.rollback()
    session.expire_all()
    assert registration.status == RegistrationStatus.CONFIRMED and event.confirmed_count == 1
