"""Many members pressing Register at the same moment never overbook an event."""

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.factories import create_event, create_user
from webapp.db import db, utcnow
from webapp.events.models import Event
from webapp.registrations import services
from webapp.registrations.models import Registration, RegistrationStatus


@pytest.fixture
def app_overrides():
    # Fifty threads at once: enough connections that none waits on the pool, even on a busy machine.
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 25, "max_overflow": 30, "pool_timeout": 120}}


def test_fifty_simultaneous_registrations_for_five_seats(app, session):
    event = create_event(capacity=5)
    members = [create_user() for _ in range(50)]
    event_id, member_ids = event.id, [m.id for m in members]
    session.commit()
    session.remove()

    barrier = threading.Barrier(len(member_ids))
    errors: list[BaseException] = []

    def press_register(member_id: int) -> None:
        with app.app_context():
            try:
                member = SimpleNamespace(id=member_id)  # no connection held while waiting
                barrier.wait(timeout=90)
                services.register(db.session, event_id, member=member, now=utcnow())
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=press_register, args=(m,)) for m in member_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    event = db.session.get(Event, event_id)
    registrations = list(db.session.scalars(select(Registration).where(Registration.event_id == event_id)))
    confirmed = [r for r in registrations if r.status == RegistrationStatus.CONFIRMED]
    waitlisted = [r for r in registrations if r.status == RegistrationStatus.WAITLISTED]
    assert len(confirmed) == 5 and event.confirmed_count == 5
    assert len(waitlisted) == 45 and event.waitlist_count == 45
    # Places in line are handed out under the lock: 1..45, no gaps, no duplicates.
    assert sorted(r.queue_number for r in waitlisted) == list(range(1, 46))


def test_organizers_removing_and_giving_seats_while_members_register(app, session):
    """Removals, seats given by hand (all from pages showing capacity 5) and new registrations at once:
    the counts match the rows, nobody is overbooked, the line keeps unique places, and exactly one
    seat-by-hand raised the capacity (the others' pages were stale by then and changed nothing)."""
    event = create_event(capacity=5)
    organizer = create_user()
    holders = [create_user() for _ in range(5)]
    waiting = [create_user() for _ in range(10)]
    newcomers = [create_user() for _ in range(10)]
    for member in holders + waiting:
        services.register(session, event.id, member=member, now=utcnow())
    session.commit()
    event_id, organizer_id = event.id, organizer.id
    ids = {m.id: services.registration_for_id(session, event_id, m.id).id for m in holders + waiting}
    removals = [ids[m.id] for m in holders]
    by_hand = [ids[m.id] for m in waiting[5:]]  # the back of the line: removals seat the front
    newcomer_ids = [m.id for m in newcomers]
    session.remove()

    barrier = threading.Barrier(len(removals) + len(by_hand) + len(newcomer_ids))
    errors: list[BaseException] = []
    refused: list[str] = []

    def run(action, argument) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=90)
                if action == "remove":
                    services.remove(db.session, event_id, argument, actor=SimpleNamespace(id=organizer_id),
                                    now=utcnow())
                elif action == "promote":
                    services.promote_by_hand(db.session, event_id, argument, expected_capacity=5, now=utcnow())
                else:
                    services.register(db.session, event_id, member=SimpleNamespace(id=argument), now=utcnow())
                db.session.commit()
            except services.RegistrationError as refusal:
                refused.append(refusal.message)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    jobs = [("remove", r) for r in removals] + [("promote", r) for r in by_hand] + \
        [("register", m) for m in newcomer_ids]
    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(refused) == 4 and all("capacity changed to 6" in message for message in refused)
    event = db.session.get(Event, event_id)
    registrations = list(db.session.scalars(select(Registration).where(Registration.event_id == event_id)))
    confirmed = [r for r in registrations if r.status == RegistrationStatus.CONFIRMED]
    waitlisted = [r for r in registrations if r.status == RegistrationStatus.WAITLISTED]
    assert event.capacity == 6 and len(confirmed) == 6 == event.confirmed_count
    assert len(waitlisted) == event.waitlist_count == 25 - 5 - 6
    assert len({r.queue_number for r in waitlisted}) == len(waitlisted)
    assert all(r.status == RegistrationStatus.CANCELLED and r.cancelled_by_id == organizer_id
               for r in registrations if r.id in removals)


def test_releasing_unanswered_seats_while_members_cancel_and_register(app, session, db_kind):
    """Two release sweeps at once (a duplicated task), cancellations and new registrations: never
    overbooked, the counts match the rows, a seat is never free while someone waits, and each
    released member is released and told once."""
    if db_kind != "postgres":
        pytest.skip("real row locks under real concurrency: PostgreSQL")
    from datetime import timedelta

    from tests.support.outbox import mails

    now = utcnow()
    event = create_event(capacity=5, starts_at=now + timedelta(hours=12), is_releasing_unconfirmed_seats=True)
    holders = [create_user() for _ in range(5)]
    waiting = [create_user() for _ in range(5)]
    newcomers = [create_user() for _ in range(5)]
    for member in holders + waiting:
        services.register(session, event.id, member=member, now=now - timedelta(days=5))
    event_id = event.id
    regs = {m.id: services.registration_for_id(session, event_id, m.id) for m in holders}
    for registration in regs.values():
        registration.still_coming_asked_at = now - timedelta(days=3)  # asked, never answered
    session.commit()
    cancelling = [regs[m.id].id for m in holders[:3]]
    newcomer_ids = [m.id for m in newcomers]
    session.remove()

    jobs = [("release", None)] * 2 + [("cancel", r) for r in cancelling] + [("register", m) for m in newcomer_ids]
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(action, argument) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=90)
                if action == "release":
                    services.release_unconfirmed_seats(db.session, event_id, now=now)
                elif action == "cancel":
                    services.cancel(db.session, db.session.get(Registration, argument), now=now)
                else:
                    services.register(db.session, event_id, member=SimpleNamespace(id=argument), now=now)
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    event = db.session.get(Event, event_id)
    registrations = list(db.session.scalars(select(Registration).where(Registration.event_id == event_id)))
    confirmed = [r for r in registrations if r.status == RegistrationStatus.CONFIRMED]
    waitlisted = [r for r in registrations if r.status == RegistrationStatus.WAITLISTED]
    assert len(confirmed) == event.confirmed_count == 5  # people wait, so every seat is taken
    assert len(waitlisted) == event.waitlist_count == 15 - 3 - 5
    assert len({r.queue_number for r in waitlisted}) == len(waitlisted)
    released = [r for r in registrations if r.released_at is not None]
    told = [m.registration_id for m in mails(db.session, kind="seat_released")]
    assert sorted(told) == sorted(r.id for r in released) and len(set(told)) == len(told)
    # Whoever was released waits ahead of everyone who registered during the race.
    newcomer_places = [services.waitlist_position(db.session, r) for r in waitlisted if r.user_id in newcomer_ids]
    released_places = [services.waitlist_position(db.session, r) for r in released if r in waitlisted]
    assert not released_places or max(released_places) < min(newcomer_places or [10**6])
