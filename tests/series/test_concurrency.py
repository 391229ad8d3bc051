"""Many members pressing Register for all at once, while others register for single sessions and
the sweep makes the next sessions: no session is ever overbooked, and nobody deadlocks."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.factories import create_group, create_user
from tests.series.helpers import NY, series_fields
from webapp.db import db, utcnow
from webapp.events.models import Event, EventStatus
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.series import services
from webapp.series.models import SeriesRegistration
from webapp.series.recurrence import localize, rule_for
from webapp.series.schedule import ScheduleChange, change_schedule


@pytest.fixture
def app_overrides():
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 25, "max_overflow": 30, "pool_timeout": 120}}


def test_simultaneous_whole_series_and_single_registrations_never_overbook_a_session(app, session, db_kind):
    if db_kind != "postgres":
        pytest.skip("row locks under real concurrency: PostgreSQL")
    app.config["SERIES_HORIZON_DAYS"] = 40  # 3 sessions now, the rest made by the sweep meanwhile
    now = utcnow()
    series = services.create_series(session, create_group(), series_fields(now, capacity=3), actor=None, now=now)
    first_sessions = [e.id for e in services.sessions_of(session, series.id)]
    whole = [create_user().id for _ in range(12)]
    single = [create_user().id for _ in range(8)]
    series_id = series.id
    session.commit()
    session.remove()

    barrier = threading.Barrier(len(whole) + len(single) + 1)
    errors: list[BaseException] = []

    def run(action) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=90)
                action()
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def register_all(user_id):
        return lambda: services.register_for_series(db.session, series_id, member=SimpleNamespace(id=user_id),
                                                    now=utcnow())

    def register_one(user_id, event_id):
        return lambda: registrations.register(db.session, event_id, member=SimpleNamespace(id=user_id), now=utcnow())

    def sweep():
        app.config["SERIES_HORIZON_DAYS"] = 200
        services.materialize_all(db.session, now=utcnow())

    actions = [register_all(u) for u in whole]
    actions += [register_one(u, first_sessions[i % len(first_sessions)]) for i, u in enumerate(single)]
    actions.append(sweep)
    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    events = list(db.session.scalars(select(Event).where(Event.series_id == series_id)))
    assert len(events) == 8
    for event in events:
        rows = list(db.session.scalars(select(Registration).where(Registration.event_id == event.id)))
        confirmed = [r for r in rows if r.status == RegistrationStatus.CONFIRMED]
        waitlisted = [r for r in rows if r.status == RegistrationStatus.WAITLISTED]
        assert len(confirmed) == event.confirmed_count == 3  # full, never more
        assert len(waitlisted) == event.waitlist_count
        assert sorted(r.queue_number for r in waitlisted) == sorted({r.queue_number for r in waitlisted})
        # Every whole-series member holds a seat or a place in line in every session.
        assert {r.user_id for r in rows} >= set(whole)
    assert db.session.query(SeriesRegistration).count() == len(whole)


def test_a_schedule_change_racing_the_sweep_and_register_for_all_leaves_no_session_on_a_removed_day(
        app, session, db_kind):
    if db_kind != "postgres":
        pytest.skip("row locks under real concurrency: PostgreSQL")
    app.config["SERIES_HORIZON_DAYS"] = 30  # 4 or 5 weekly sessions now; the sweep would make the rest
    now = utcnow()
    fields = series_fields(now, capacity=3, rrule="FREQ=WEEKLY", end_count=12)
    series = services.create_series(session, create_group(), fields, actor=None, now=now)
    first_on, series_id = series.first_on, series.id
    whole = [create_user().id for _ in range(8)]
    session.commit()
    session.remove()
    app.config["SERIES_HORIZON_DAYS"] = 120
    kept_days = {first_on + timedelta(weeks=2 * n) for n in range(12)}

    barrier = threading.Barrier(len(whole) + 3)
    errors: list[BaseException] = []

    def run(action) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=90)
                action()
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def register_all(user_id):
        return lambda: services.register_for_series(db.session, series_id, member=SimpleNamespace(id=user_id),
                                                    now=utcnow())

    def change():
        change_schedule(db.session, series_id, ScheduleChange(rule_for("biweekly", first_on), first_on,
                                                              end_count=12), actor=None, now=utcnow())

    actions = [register_all(u) for u in whole] + [change, lambda: services.materialize_all(db.session, now=utcnow())]
    actions.append(lambda: services.materialize_all(db.session, now=utcnow()))
    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    events = list(db.session.scalars(select(Event).where(Event.series_id == series_id)))
    scheduled = [e for e in events if e.status == EventStatus.SCHEDULED]
    assert scheduled and {e.series_occurrence_on for e in scheduled} <= kept_days
    assert {e.starts_at.astimezone(NY).weekday() for e in scheduled} == {first_on.weekday()}
    # Every day the new schedule has within the horizon has its session.
    within = {d for d in kept_days if localize(datetime.combine(d, time(18)), NY) < now + timedelta(days=120)}
    assert {e.series_occurrence_on for e in scheduled} == within
    for event in scheduled:
        confirmed = list(db.session.scalars(select(Registration).where(
            Registration.event_id == event.id, Registration.status == RegistrationStatus.CONFIRMED)))
        assert len(confirmed) == event.confirmed_count == 3  # full (8 whole-series members), never more
