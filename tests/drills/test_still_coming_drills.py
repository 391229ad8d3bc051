"""Fault drills for "Still coming?" and releasing unanswered seats (issue 20), with the reminder
drills' machinery: real workers running `tasks.still_coming.sweep_still_coming` on real Redis and
PostgreSQL, a real SMTP sink. Each asserts the exact set of mails the sink received."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import delete, select

from tests.drills.support import assert_each_once, states, succeeded, wait_until
from tests.drills.test_digest_drills import attempts, lock_waiters
from tests.factories import create_event, create_group, create_user
from webapp.db import utcnow
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.services import PENDING_KEY, send_outbox_mail
from webapp.registrations import services, still_coming
from webapp.registrations.models import Registration, RegistrationStatus

SWEEP = "tasks.still_coming.sweep_still_coming"


# The workers release 48 hours ahead, so the drills' events start after the reminder window (24 hours)
# and no reminder is in their way.
RELEASE_ENV = {"RELEASE_UNCONFIRMED_HOURS": "48"}


def ask_days_ago(session, registration: Registration, *, at, deliver_with=None) -> OutboxMail:
    """Ask `registration` "Still coming?" at `at` (days ago); with `deliver_with` (the test's
    monkeypatch) the outbox delivers it to the sink then, as the worker did: the row `sent`, sent at `at`."""
    [mail] = still_coming.queue_still_coming(session, [registration], now=at)
    session.commit()
    if deliver_with is not None:
        deliver_with.setattr("webapp.outbox.services.utcnow", lambda: at)
        assert send_outbox_mail(session, mail.id, now=at) == MailState.SENT
        deliver_with.undo()
    return mail


def full_events(session, holders: int, monkeypatch) -> dict[str, list[str]]:
    """A full event 60 hours ahead (its `holders` are owed a "Still coming?" each), and a full one
    30 hours ahead with release on, whose one holder was asked (and got the mail) days ago and
    never answered (owed a "seat released", and the person waiting a "promoted"). Nothing else is
    in the outbox, and the sink holds that one question."""
    now = utcnow()
    group = create_group()
    asking = create_event(group, capacity=holders, starts_at=now + timedelta(hours=60))
    releasing = create_event(group, capacity=1, starts_at=now + timedelta(hours=30),
                             is_releasing_unconfirmed_seats=True)
    seated = [create_user(email=f"holder{n:02d}@example.org") for n in range(holders)]
    for member in [*seated, create_user(email="waiting-a@example.org")]:
        services.register(session, asking.id, member=member, now=now - timedelta(days=5))
    silent, waiting = create_user(email="silent@example.org"), create_user(email="waiting-b@example.org")
    for member in (silent, waiting):
        services.register(session, releasing.id, member=member, now=now - timedelta(days=5))
    session.flush()
    session.execute(delete(OutboxMail))  # the confirmations are not what the drill is about
    session.info.pop(PENDING_KEY, None)
    session.commit()
    ask_days_ago(session, services.registration_for_id(session, releasing.id, silent.id),
                 at=now - timedelta(days=2), deliver_with=monkeypatch)
    return {"still_coming": [m.email for m in seated] + [silent.email], "seat_released": [silent.email],
            "registration_promoted": [waiting.email]}


def expected(owed: dict[str, list[str]]) -> list[str]:
    return [email for emails in owed.values() for email in emails]


def sweep(app) -> None:
    app.extensions["celery"].send_task(SWEEP)


def assert_owed_mails_sent(session, owed) -> None:
    session.expire_all()
    kinds = {kind: sorted(r for (r,) in session.execute(select(OutboxMail.recipient).where(OutboxMail.kind == kind)))
             for kind in owed}
    assert kinds == {kind: sorted(emails) for kind, emails in owed.items()}
    released = session.scalars(select(Registration).where(Registration.released_at.is_not(None))).all()
    assert [r.user.email for r in released] == ["silent@example.org"]
    assert released[0].status == RegistrationStatus.WAITLISTED


def test_still_coming_drill_1_two_sweeps_at_once(app, session, sink, start_worker, monkeypatch):
    owed = full_events(session, 4, monkeypatch)
    first, second = start_worker("s1a", **RELEASE_ENV), start_worker("s1b", **RELEASE_ENV)
    # Hold the asked rows: both sweeps have read the same owed attendees and wait on their claim.
    session.execute(select(Registration).where(Registration.status == RegistrationStatus.CONFIRMED)
                    .with_for_update()).all()
    sweep(app)
    sweep(app)
    assert wait_until(lambda: lock_waiters() == 2, timeout=15), first.log()[-2000:] + second.log()[-2000:]
    session.commit()

    assert wait_until(lambda: succeeded(first, SWEEP) + succeeded(second, SWEEP) == 2, timeout=15)
    assert wait_until(lambda: len(sink.messages) >= 7 and set(states(session)) == {MailState.SENT}, timeout=15)
    assert_each_once(sink, expected(owed))
    assert_owed_mails_sent(session, owed)


def test_still_coming_drill_2_worker_killed_mid_send_and_restarted(app, session, sink, start_worker, monkeypatch):
    owed = full_events(session, 5, monkeypatch)
    sink.stall_at_mail = 4  # the third mail of the drill (after the question of days ago) hangs in MAIL FROM ...
    worker = start_worker("s2", **RELEASE_ENV)
    sweep(app)
    assert sink.stalled.wait(20), worker.log()[-3000:]
    worker.kill()  # ... and the worker dies there
    sink.stall_at_mail = None
    assert len(sink.messages) == 3

    again = start_worker("s2-again", beat=True, **RELEASE_ENV)  # its outbox sweep takes the claimed rows back
    sweep(app)  # and the still-coming sweep runs again: it owes nobody anything now
    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 8}), timeout=25), again.log()[-3000:]
    assert wait_until(lambda: succeeded(again, SWEEP) >= 1, timeout=10)
    assert_each_once(sink, expected(owed))
    assert_owed_mails_sent(session, owed)


def test_still_coming_drill_3_smtp_down_for_a_while_then_back(app, session, sink, start_worker, monkeypatch):
    owed = full_events(session, 2, monkeypatch)
    sink.go_down()
    worker = start_worker("s3", beat=True, **RELEASE_ENV)
    sweep(app)
    assert wait_until(lambda: attempts(session) == [1, 2, 2, 2, 2], timeout=20), worker.log()[-3000:]
    assert sink.recipients() == ["silent@example.org"]  # days ago
    sink.come_back()

    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 5}), timeout=20), worker.log()[-3000:]
    assert_each_once(sink, expected(owed))
    assert_owed_mails_sent(session, owed)


def test_still_coming_drill_4_smtp_down_across_the_release_deadline_releases_nobody_unasked(
        app, session, sink, start_worker, monkeypatch):
    # Two seat holders asked two days ago, two people waiting, release on and its deadline passed
    # (18 hours ago). Ada's question reached her then; Bo's has sat in the outbox since, SMTP down.
    now = utcnow()
    event = create_event(create_group(), capacity=2, starts_at=now + timedelta(hours=30),
                         is_releasing_unconfirmed_seats=True)
    people = {name: create_user(email=f"{name}@example.org") for name in ("ada", "bo", "wait1", "wait2")}
    for member in people.values():
        services.register(session, event.id, member=member, now=now - timedelta(days=5))
    session.flush()
    session.execute(delete(OutboxMail))
    session.info.pop(PENDING_KEY, None)
    session.commit()
    ada, bo = (services.registration_for_id(session, event.id, people[n].id) for n in ("ada", "bo"))
    ask_days_ago(session, ada, at=now - timedelta(days=2), deliver_with=monkeypatch)
    sink.go_down()
    stuck = ask_days_ago(session, bo, at=now - timedelta(days=2))

    worker = start_worker("s4", beat=True, **RELEASE_ENV)  # sweeps the outbox and "Still coming?" every second
    sweep(app)
    assert wait_until(lambda: attempts(session).count(2) >= 1 and succeeded(worker, SWEEP) >= 3, timeout=25), \
        worker.log()[-3000:]
    session.expire_all()
    assert session.get(OutboxMail, stuck.id).state in (MailState.RETRYING, MailState.SENDING)
    released = lambda: sorted(r.user.email for r in session.scalars(  # noqa: E731
        select(Registration).where(Registration.released_at.is_not(None))))
    assert released() == ["ada@example.org"]  # the one who was asked; Bo keeps his seat
    sink.come_back()

    # Bo's question arrives now, after the deadline: too late to cost him his seat, sweeps or not.
    assert wait_until(lambda: set(states(session)) == {MailState.SENT}, timeout=25), worker.log()[-3000:]
    swept = succeeded(worker, SWEEP)
    assert wait_until(lambda: succeeded(worker, SWEEP) >= swept + 3, timeout=15)
    assert released() == ["ada@example.org"]
    session.expire_all()
    assert services.registration_for_id(session, event.id, people["bo"].id).status == RegistrationStatus.CONFIRMED
    assert services.registration_for_id(session, event.id, people["wait2"].id).status == RegistrationStatus.WAITLISTED
    # The two questions, Ada's "seat released", and the promotion of the first person waiting.
    assert_each_once(sink, ["ada@example.org", "bo@example.org", "ada@example.org", "wait1@example.org"])
    kinds = sorted((m.kind, m.recipient) for m in session.scalars(select(OutboxMail)))
    assert kinds == [("registration_promoted", "wait1@example.org"), ("seat_released", "ada@example.org"),
                     ("still_coming", "ada@example.org"), ("still_coming", "bo@example.org")]
