"""Fault drills for the followed groups' digests (issue 19), beside the reminder drills and with
their machinery: real worker processes running `tasks.follows.queue_digests` on real Redis and
PostgreSQL, a real SMTP sink. Each asserts the exact set of digests the sink received."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tests.drills.support import assert_each_once, states, succeeded, wait_until
from tests.factories import create_event, create_group, create_user
from webapp.db import db, utcnow
from webapp.events.models import EventStatus
from webapp.follows.models import FollowMail, FollowMailChoice
from webapp.follows.services import PUBLISH_SETTLE, digest_period, follow_group, set_follow_mail_choice
from webapp.organize.services import publish_event
from webapp.outbox.models import MailState, OutboxMail

SWEEP = "tasks.follows.queue_digests"
DIGEST = "Your daily digest from the groups you follow: 1 new event"


def digest_members(session, count: int) -> list[str]:
    """`count` members who chose daily digests two days ago and follow a group that published an
    event yesterday: the next sweep owes each of them one digest."""
    now = utcnow()
    group = create_group(slug="maps", name="Map Curators")
    emails = []
    for n in range(count):
        member = create_user(email=f"follower{n:02d}@example.org")
        follow_group(session, group.id, member=member, now=now - timedelta(days=2))
        set_follow_mail_choice(session, member, FollowMail.DAILY, now=now - timedelta(days=2))
        emails.append(member.email)
    yesterday, _ = digest_period(FollowMail.DAILY, now - PUBLISH_SETTLE)
    event = create_event(group, slug="map-night", title="Map night", status=EventStatus.DRAFT,
                         starts_at=now + timedelta(days=5))
    session.flush()
    publish_event(session, event.id, actor=None, now=yesterday + timedelta(hours=12))
    session.commit()
    return emails


def sweep(app) -> None:
    """What the scheduler does every hour: put one digest sweep on the broker."""
    app.extensions["celery"].send_task(SWEEP)


def lock_waiters() -> int:
    """Database sessions (other than this one) waiting for a lock."""
    with db.engine.connect() as connection:
        return connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND pid <> pg_backend_pid()"))


def attempts(session) -> list[int]:
    """Each outbox row's attempts so far, at most 2 (a third may be on its way)."""
    session.expire_all()
    return sorted(min(n, 2) for n in session.scalars(select(OutboxMail.attempts)))


def test_digest_drill_1_two_sweeps_at_once_send_one_digest_each(app, session, sink, start_worker):
    expected = digest_members(session, 4)
    first, second = start_worker("d1a"), start_worker("d1b")
    # Hold every member's choice row, which each sweep moves on after queueing its mails: the
    # first sweep waits here with its mails queued, the second waits on the first one's outbox
    # keys. Both have read the same members, owed the same digests, before either commits.
    session.execute(select(FollowMailChoice).with_for_update()).all()
    sweep(app)
    sweep(app)
    assert wait_until(lambda: lock_waiters() == 2, timeout=15), first.log()[-2000:] + second.log()[-2000:]
    session.commit()

    assert wait_until(lambda: succeeded(first, SWEEP) + succeeded(second, SWEEP) == 2, timeout=15)
    assert succeeded(first, SWEEP) == succeeded(second, SWEEP) == 1  # one sweep in each worker
    assert wait_until(lambda: set(states(session)) == {MailState.SENT}, timeout=15)
    assert_each_once(sink, expected, subject_start=DIGEST)
    assert states(session) == Counter({MailState.SENT: 4})


def test_digest_drill_2_worker_killed_mid_send_and_restarted(app, session, sink, start_worker):
    expected = digest_members(session, 6)
    sink.stall_at_mail = 3  # the third digest hangs in MAIL FROM ...
    worker = start_worker("d2")
    sweep(app)
    assert sink.stalled.wait(20), worker.log()[-3000:]
    worker.kill()  # ... and the worker dies there, with 2 sent and 4 claimed
    sink.stall_at_mail = None
    assert len(sink.messages) == 2
    assert states(session) == Counter({MailState.SENT: 2, MailState.SENDING: 4})
    abandoned = dict(session.execute(select(OutboxMail.recipient, OutboxMail.message_id)
                                     .where(OutboxMail.state == MailState.SENDING)).all())

    again = start_worker("d2-again", beat=True)  # its outbox sweep takes the rows once their lease ends
    sweep(app)  # and the digest sweep runs again, as the next hour's would: it owes nobody anything now
    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 6}), timeout=25), again.log()[-3000:]
    assert wait_until(lambda: succeeded(again, SWEEP) == 1, timeout=10)
    assert_each_once(sink, expected, subject_start=DIGEST)
    # The resent digests kept the Message-IDs committed before the first attempt.
    assert {m["To"]: m["Message-ID"] for m in sink.messages if m["To"] in abandoned} == abandoned


def test_digest_drill_3_smtp_down_for_a_while_then_back(app, session, sink, start_worker):
    expected = digest_members(session, 3)
    sink.go_down()  # nothing listens on the mail server's port: every connection is refused
    worker = start_worker("d3", beat=True)
    sweep(app)
    # Each digest tried, failed and retried (the outbox sweep every second, the backoff 1-2 s).
    assert wait_until(lambda: attempts(session) == [2, 2, 2], timeout=20), worker.log()[-3000:]
    assert states(session)[MailState.SENT] == 0 and sink.messages == []
    sink.come_back()

    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 3}), timeout=20), worker.log()[-3000:]
    assert_each_once(sink, expected, subject_start=DIGEST)


@pytest.fixture(autouse=True)
def _no_leftover_rows(app):
    yield
    db.session.rollback()
