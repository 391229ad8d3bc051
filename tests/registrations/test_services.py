"""The capacity and waitlist rules, straight through the services."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import create_event, create_user
from webapp.db import utcnow
from webapp.events.models import EventStatus
from webapp.registrations import services
from webapp.registrations.models import Registration, RegistrationStatus


def register(session, event, member, now=None):
    return services.register(session, event.id, member=member, now=now or utcnow()).registration


def test_registrations_fill_seats_then_join_the_waitlist_in_order(session):
    event = create_event(capacity=2)
    members = [create_user() for _ in range(4)]
    regs = [register(session, event, m) for m in members]

    assert [r.status for r in regs] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert [services.waitlist_position(session, r) for r in regs[2:]] == [1, 2]
    assert (event.confirmed_count, event.waitlist_count) == (2, 2)


def test_registering_twice_is_harmless(session):
    event = create_event(capacity=5)
    member = create_user()
    first = register(session, event, member)
    second = register(session, event, member)
    assert first.id == second.id
    assert event.confirmed_count == 1
    assert session.scalar(select(Registration.id).where(Registration.user_id == member.id)) == first.id


def test_cancelling_promotes_the_oldest_waitlisted_member(session):
    event = create_event(capacity=1)
    holder, first_in_line, second_in_line = create_user(), create_user(), create_user()
    seat = register(session, event, holder)
    waiting_1 = register(session, event, first_in_line)
    waiting_2 = register(session, event, second_in_line)

    outcome = services.cancel(session, seat, now=utcnow())

    assert outcome.promoted == [waiting_1]
    assert waiting_1.status == RegistrationStatus.CONFIRMED
    assert waiting_2.status == RegistrationStatus.WAITLISTED
    assert services.waitlist_position(session, waiting_2) == 1
    assert (event.confirmed_count, event.waitlist_count) == (1, 1)


def test_a_newcomer_never_jumps_the_line(session):
    event = create_event(capacity=1)
    seat = register(session, event, create_user())
    waiting = register(session, event, create_user())
    services.cancel(session, seat, now=utcnow())  # promotes `waiting` at once
    newcomer = register(session, event, create_user())
    assert waiting.status == "confirmed" and newcomer.status == "waitlisted"


def test_raising_capacity_promotes_in_order_and_lowering_below_confirmed_is_refused(session):
    event = create_event(capacity=1)
    register(session, event, create_user())
    waiting = [register(session, event, create_user()) for _ in range(3)]

    promoted = services.change_capacity(session, event.id, 3, now=utcnow())

    assert promoted == waiting[:2]
    with pytest.raises(services.RegistrationError, match="already confirmed"):
        services.change_capacity(session, event.id, 2, now=utcnow())
    assert services.change_capacity(session, event.id, None, now=utcnow()) == [waiting[2]]


def test_promotion_stops_when_the_event_starts(session):
    start = utcnow() + timedelta(hours=2)
    event = create_event(capacity=1, starts_at=start)
    seat = register(session, event, create_user())
    waiting = register(session, event, create_user())

    # A member can no longer cancel once it has started (see test_cancel_rule.py) ...
    with pytest.raises(services.RegistrationError, match="has started"):
        services.cancel(session, seat, now=start + timedelta(minutes=5))
    # ... and a seat freed any other way (a capacity raised) goes to nobody from the start.
    assert services.change_capacity(session, event.id, 2, now=start + timedelta(minutes=5)) == []

    assert waiting.status == RegistrationStatus.WAITLISTED


def test_cancel_then_register_again_goes_to_the_back_of_the_line(session):
    event = create_event(capacity=1)
    register(session, event, create_user())
    me = create_user()
    mine = register(session, event, me)
    other = register(session, event, create_user())
    services.cancel(session, mine, now=utcnow())
    again = register(session, event, me)
    assert again.id == mine.id and again.generation == 2
    assert services.waitlist_position(session, other) == 1
    assert services.waitlist_position(session, again) == 2


def test_places_in_line_come_from_the_event_and_are_never_handed_out_twice(session):
    event = create_event(capacity=1)
    register(session, event, create_user())
    me = create_user()
    first, mine = register(session, event, create_user()), register(session, event, me)
    assert (first.queue_number, mine.queue_number) == (1, 2)
    services.cancel(session, mine, now=utcnow())
    again = register(session, event, me)
    newcomer = register(session, event, create_user())
    # The last number was freed by a cancellation, yet nobody gets it again.
    assert (again.queue_number, newcomer.queue_number) == (3, 4)
    assert event.next_queue_number == 5
    assert [services.waitlist_position(session, r) for r in (first, again, newcomer)] == [1, 2, 3]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"status": EventStatus.CANCELLED}, "cancelled"),
        ({"registration_opens_at_hours": 1}, "not opened yet"),
        ({"registration_closes_at_hours": -1}, "closed"),
        ({"starts_at_hours": -0.5}, "already started"),
    ],
)
def test_registration_outside_the_window_is_refused_with_a_reason(session, change, message):
    now = utcnow()
    fields = {}
    if "status" in change:
        fields["status"] = change["status"]
    if "registration_opens_at_hours" in change:
        fields["registration_opens_at"] = now + timedelta(hours=change["registration_opens_at_hours"])
    if "registration_closes_at_hours" in change:
        fields["registration_opens_at"] = now - timedelta(days=2)
        fields["registration_closes_at"] = now + timedelta(hours=change["registration_closes_at_hours"])
    if "starts_at_hours" in change:
        fields["starts_at"] = now + timedelta(hours=change["starts_at_hours"])
    event = create_event(capacity=5, **fields)
    with pytest.raises(services.RegistrationError, match=message):
        register(session, event, create_user(), now=now)
    assert event.confirmed_count == 0


def test_the_database_refuses_overbooking_even_if_code_tried(session):
    from sqlalchemy.exc import IntegrityError

    event = create_event(capacity=1)
    event.confirmed_count = 2
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_lock_refuses_to_run_in_autocommit(app, session):
    event_id = create_event().id
    session.commit()
    session.close()
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    with pytest.raises(RuntimeError, match="inside a transaction"):
        services.lock_event(session, event_id)
    session.rollback()
