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
