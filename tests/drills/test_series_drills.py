"""Fault drill for the series sweep (issue 20), with the other drills' machinery: two real worker
processes run `tasks.series.materialize_series` at the same moment on real Redis and PostgreSQL.
Each later session is made once, and each whole-series member gets one mail per new session."""

from __future__ import annotations

from sqlalchemy import func, select, text

from tests.drills.support import assert_each_once, states, succeeded, wait_until
from tests.factories import create_group, create_user
from tests.series.helpers import series_fields
from webapp.db import db, utcnow
from webapp.events.models import Event
from webapp.outbox.models import MailState, OutboxMail
from webapp.series import services
from webapp.series.models import Series

SWEEP = "tasks.series.materialize_series"


def lock_waiters() -> int:
    with db.engine.connect() as connection:
        return connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"))


def test_series_drill_two_sweeps_at_once_make_each_session_once(app, session, sink, start_worker):
    app.config["SERIES_HORIZON_DAYS"] = 20  # 2 of the 8 sessions now; the sweep makes 6 more
    now = utcnow()
    series = services.create_series(session, create_group(), series_fields(now), actor=None, now=now)
    members = [create_user(email=f"whole{n}@example.org") for n in range(3)]
    for member in members:
        services.register_for_series(session, series.id, member=member, now=now)
    session.commit()
    # The summary mails are not this drill's: mark them sent so the sink sees only the sweep's.
    session.query(OutboxMail).update({OutboxMail.state: MailState.SENT})
    session.commit()

    first = start_worker("s1a", SERIES_HORIZON_DAYS="200")
    second = start_worker("s1b", SERIES_HORIZON_DAYS="200")
    # Hold the series' row: both sweeps wait on its lock with the same view of what exists.
    session.execute(select(Series).where(Series.id == series.id).with_for_update()).all()
    app.extensions["celery"].send_task(SWEEP)
    app.extensions["celery"].send_task(SWEEP)
    assert wait_until(lambda: lock_waiters() == 2, timeout=20), first.log()[-2000:] + second.log()[-2000:]
    session.commit()

    assert wait_until(lambda: succeeded(first, SWEEP) + succeeded(second, SWEEP) == 2, timeout=20)
    session.expire_all()
    assert session.scalar(select(func.count(Event.id)).where(Event.series_id == series.id)) == 8
    assert wait_until(lambda: set(states(session)) == {MailState.SENT}, timeout=20)
    # Six new sessions, three members: one "You're registered" each, none doubled, none missing.
    assert wait_until(lambda: len(sink.messages) >= 18, timeout=20)
    assert_each_once(sink, [m.email for m in members for _ in range(6)],
                     subject_start="You’re registered: Community Chat")
