"""Many confirmed members claiming the last slot at the same moment: exactly one gets it (PostgreSQL)."""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.factories import create_event, create_group, create_user
from webapp.db import db, utcnow
from webapp.registrations import services as registrations
from webapp.slots import services
from webapp.slots.models import SlotClaim


@pytest.fixture
def app_overrides():
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 25, "max_overflow": 30, "pool_timeout": 120}}


def _race(app, jobs):
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []
    refused: list[str] = []

    def run(job) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=90)
                job()
                db.session.commit()
            except services.SlotError as refusal:
                refused.append(refusal.message)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors, refused


def test_thirty_members_claiming_the_last_two_slots_at_once(app, session, db_kind):
    if db_kind != "postgres":
        pytest.skip("row locks between connections: PostgreSQL")
    now = utcnow()
    event = create_event(create_group(), starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=2))
    offer = services.offer_slots(session, event.id, label="Talk", minutes="15", how_many="3", now=now)
    members = [create_user() for _ in range(31)]
    for member in members:
        registrations.register(session, event.id, member=member, now=now)
    services.claim_slot(session, event.id, offer.id, member=members[0], title="Early", now=now)
    session.commit()
    event_id, offer_id, ids = event.id, offer.id, [m.id for m in members[1:]]
    session.remove()

    def claim(member_id):
        return lambda: services.claim_slot(db.session, event_id, offer_id, member=SimpleNamespace(id=member_id),
                                           title=f"Talk {member_id}", now=utcnow())

    errors, refused = _race(app, [claim(i) for i in ids])
    assert errors == []
    claims = list(db.session.scalars(select(SlotClaim).where(SlotClaim.offer_id == offer_id)))
    assert len(claims) == 3 and sorted(c.place for c in claims) == [1, 2, 3]
    assert len(refused) == 28 and all("is taken" in m for m in refused)


def test_one_member_claiming_twice_at_once_and_a_cancel_racing_a_claim(app, session, db_kind):
    """A double submit holds one slot; a presenter cancelling while another claims frees a place the
    other may then take, never two holders of one place."""
    if db_kind != "postgres":
        pytest.skip("row locks between connections: PostgreSQL")
    now = utcnow()
    event = create_event(create_group(), starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=2))
    offer = services.offer_slots(session, event.id, label="Talk", minutes="15", how_many="1", now=now)
    holder, twice = create_user(), create_user()
    for member in (holder, twice):
        registrations.register(session, event.id, member=member, now=now)
    services.claim_slot(session, event.id, offer.id, member=holder, title="Held", now=now)
    session.commit()
    event_id, offer_id, twice_id = event.id, offer.id, twice.id
    holder_registration_id = registrations.registration_for(session, event_id, holder).id
    session.remove()

    def cancel():
        from webapp.registrations.models import Registration
        registrations.cancel(db.session, db.session.get(Registration, holder_registration_id), now=utcnow())

    def claim():
        services.claim_slot(db.session, event_id, offer_id, member=SimpleNamespace(id=twice_id), title="Mine",
                            now=utcnow())

    errors, refused = _race(app, [cancel, claim, claim, claim])
    assert errors == []
    active = [c for c in db.session.scalars(select(SlotClaim).where(SlotClaim.offer_id == offer_id)) if c.is_active]
    assert len(active) <= 1
    if active:
        assert active[0].user_id == twice_id
