"""The fault drills of issue 10. Each asserts the exact set of mails the sink received:
nothing missing, nothing doubled."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from tests.conftest import csrf_token_for
from tests.drills.support import assert_each_once, states, succeeded, wait_until
from tests.factories import create_event, create_user
from webapp.accounts.models import Role
from webapp.db import db, utcnow
from webapp.outbox import services as outbox
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations

ZOOM = "https://zoom.us/j/5550003333"


def due_attendees(session, count: int, *, capacity=None) -> list[str]:
    """`count` members confirmed two days ago for an event starting in three hours."""
    now = utcnow()
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=3), capacity=capacity)
    emails = []
    for n in range(count):
        member = create_user(email=f"attendee{n:03d}@example.org")
        registrations.register(session, event.id, member=member, now=now - timedelta(days=2))
        emails.append(member.email)
    # Registering queued their confirmations, which went out two days ago: only reminders are drilled here.
    session.execute(delete(OutboxMail))
    session.commit()
    return emails


# A reminder's subject names the day it is written for ("Tomorrow 6:00 PM EST: …").
REMINDER_SUBJECT = ("Today ", "Tomorrow ")


def test_drill_1_worker_killed_mid_reminder_batch_and_restarted(session, sink, start_worker):
    expected = due_attendees(session, 12)
    sink.stall_at_mail = 5  # the fifth message of the batch hangs in MAIL FROM ...
    worker = start_worker("w1", beat=True)
    assert sink.stalled.wait(20), worker.log()[-3000:]
    worker.kill()  # ... and the worker dies there, with 4 sent and 8 claimed
    sink.stall_at_mail = None
    assert len(sink.messages) == 4
    assert states(session) == Counter({MailState.SENT: 4, MailState.SENDING: 8})
    # The Message-IDs were committed before anything left: the resend must use the same ones.
    abandoned = dict(session.execute(select(OutboxMail.recipient, OutboxMail.message_id)
                                     .where(OutboxMail.state == MailState.SENDING)).all())

    start_worker("w1-again", beat=True)  # the sweep takes the dead worker's rows once its lease ends

    assert wait_until(lambda: len(sink.messages) >= 12, timeout=25)
    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 12}), timeout=10)
    assert_each_once(sink, expected, subject_start=REMINDER_SUBJECT)
    assert {m["To"]: m["Message-ID"] for m in sink.messages if m["To"] in abandoned} == abandoned
    takeovers = dict(session.execute(select(OutboxMail.recipient, OutboxMail.lease_takeovers)).all())
    assert {r for r, n in takeovers.items() if n} == set(abandoned)  # flagged "may have been sent twice"


def test_drill_2_redis_stopped_while_members_register(app, session, sink, own_redis, start_worker,
                                                       signed_in_client):
    event = create_event(slug="drill-2", capacity=100, starts_at=utcnow() + timedelta(days=5))
    members = [create_user(email=f"member{n:02d}@example.org") for n in range(9)]
    session.commit()
    start_worker("w2", beat=True)

    def register(member):
        client = signed_in_client(member)
        response = client.post("/events/drill-2/register", data={"csrf_token": csrf_token_for(client)},
                               headers={"HX-Request": "true"})
        assert response.status_code == 200 and "You’re registered." in response.get_data(as_text=True)

    for member in members[:3]:
        register(member)
    assert wait_until(lambda: len(sink.messages) == 3, timeout=15)
    own_redis.stop()
    for member in members[3:6]:
        register(member)  # the broker is down: registering still works, the mail waits in the outbox
    session.expire_all()
    assert event.confirmed_count == 6
    own_redis.start()
    for member in members[6:]:
        register(member)

    assert wait_until(lambda: len(sink.messages) >= 9, timeout=25)
    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 9}), timeout=10)
    assert_each_once(sink, [m.email for m in members], subject_start="You’re registered")


def test_drill_3_smtp_refuses_for_a_while_then_accepts(session, sink, start_worker):
    sink.refuse_mail = "451 4.3.0 Mail server temporarily unavailable"
    expected = [f"reader{n}@example.org" for n in range(5)]
    for n, address in enumerate(expected):
        outbox.queue_mail(session, kind="test", dedup_key=f"drill3-{n}", recipient=address,
                          subject=f"Drill 3 #{n}", body_text="Hello")
    session.commit()
    start_worker("w3", beat=True)
    assert wait_until(lambda: sink.refused >= 10, timeout=20)  # every mail tried, refused, retried
    assert states(session)[MailState.SENT] == 0 and len(sink.messages) == 0
    sink.refuse_mail = None

    assert wait_until(lambda: len(sink.messages) >= 5, timeout=20)
    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 5}), timeout=10)
    assert_each_once(sink, expected)
    assert all(m.attempts >= 2 for m in session.scalars(select(OutboxMail)))


def test_drill_4_two_schedulers_at_once(session, sink, start_worker):
    first = start_worker("s1", beat=True)
    second = start_worker("s2", beat=True)
    # Both schedulers are sweeping every second before anything falls due, so their sweeps race.
    assert wait_until(lambda: min(beat_sent(first), beat_sent(second)) >= 1, timeout=10)
    expected = due_attendees(session, 20)

    assert wait_until(lambda: len(sink.messages) >= 20, timeout=25)
    # Give each scheduler a few more rounds in which to (not) send anything twice.
    sent_so_far = min(beat_sent(first), beat_sent(second))
    assert wait_until(lambda: min(beat_sent(first), beat_sent(second)) >= sent_so_far + 3, timeout=15)
    assert_each_once(sink, expected, subject_start=REMINDER_SUBJECT)
    assert states(session) == Counter({MailState.SENT: 20})


def beat_sent(worker) -> int:
    return worker.log().count("Scheduler: Sending due task sweep-reminders")


def test_drill_5_the_same_send_task_delivered_twice(app, session, sink, start_worker):
    celery = app.extensions["celery"]
    single = outbox.queue_mail(session, kind="test", dedup_key="drill5-single", recipient="one@example.org",
                               subject="Single", body_text="x")
    batch = [outbox.queue_mail(session, kind="test", dedup_key=f"drill5-{n}", recipient=f"b{n}@example.org",
                               subject="Batch", body_text="x") for n in range(3)]
    session.commit()  # the commit enqueues all four once, as one batch task ...
    for _ in range(2):  # ... and the broker hands them out twice more
        celery.send_task(outbox.SEND_TASK, args=[single.id])
        celery.send_task(outbox.SEND_BATCH_TASK, args=[[m.id for m in batch]])
    worker = start_worker("w5")

    assert wait_until(lambda: succeeded(worker, outbox.SEND_TASK) + succeeded(worker, outbox.SEND_BATCH_TASK)
                      >= 1 + 4, timeout=20), worker.log()[-3000:]
    assert_each_once(sink, ["one@example.org", "b0@example.org", "b1@example.org", "b2@example.org"])
    assert states(session) == Counter({MailState.SENT: 4})


def test_drill_6_poisoned_rows_between_good_ones(session, sink, start_worker, signed_in_client):
    """A mail no path can build (a domain IDNA cannot encode) and one the server cannot take (a
    non-ASCII local part, and this sink offers no SMTPUTF8), queued as one batch between good ones."""
    recipients = ["good0@example.org", "josé@example.org", "good1@example.org",
                  "ada@" + "ä" * 64 + ".org", "good2@example.org"]
    for n, address in enumerate(recipients):
        outbox.queue_mail(session, kind="test", dedup_key=f"drill6-{n}", recipient=address,
                          subject=f"Drill 6 #{n}", body_text="Hello")
    session.commit()  # one batch task, in this order
    worker = start_worker("w6", beat=True)

    good = recipients[0::2]
    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 3, MailState.FAILED: 2}),
                      timeout=20), worker.log()[-3000:]
    assert_each_once(sink, good)
    staff = create_user(roles=[Role.STAFF])
    session.commit()
    html = signed_in_client(staff).get("/outbox").get_data(as_text=True)
    assert "the mail server does not accept international addresses (SMTPUTF8)" in html
    assert "the address’s domain cannot be encoded for mail (IDNA" in html
    # A few more sweeps: nothing is claimed again, nothing sent twice.
    swept = beat_sent_outbox(worker)
    assert wait_until(lambda: beat_sent_outbox(worker) >= swept + 2, timeout=10)
    assert_each_once(sink, good)
    assert states(session) == Counter({MailState.SENT: 3, MailState.FAILED: 2})


def beat_sent_outbox(worker) -> int:
    return worker.log().count("Scheduler: Sending due task sweep-outbox")


def pool_killed_mid_send(session, sink, worker) -> list[str]:
    """Three mails in one batch task; the pool process dies while the second stalls at MAIL FROM."""
    expected = [f"reader{n}@example.org" for n in range(3)]
    sink.stall_at_mail = 2
    for n, address in enumerate(expected):
        outbox.queue_mail(session, kind="test", dedup_key=f"lost-{n}", recipient=address,
                          subject=f"Lost #{n}", body_text="Hello")
    session.commit()
    assert sink.stalled.wait(20), worker.log()[-3000:]
    worker.kill_pool()
    sink.stall_at_mail = None
    return expected


# No beat and a lease of ten minutes: within these drills, nothing but the broker can bring the
# task back. (OUTBOX_CLAIM_LEASE_SECONDS is 600 in production too.)
NO_SWEEP = {"OUTBOX_CLAIM_LEASE_SECONDS": "600"}


def test_drill_7_a_task_lost_with_its_pool_process_is_redelivered_by_the_broker(session, sink, start_worker):
    worker = start_worker("w7", **NO_SWEEP)
    expected = pool_killed_mid_send(session, sink, worker)

    # task_acks_late + task_reject_on_worker_lost: the task goes back to Redis, a new pool
    # process runs it again, and its claim token lets it take back the rows its first run held.
    assert wait_until(lambda: states(session) == Counter({MailState.SENT: 3}), timeout=20), worker.log()[-3000:]
    assert "WorkerLostError" in worker.log()
    assert_each_once(sink, expected)
    assert "Scheduler" not in worker.log()  # no sweep ran


def test_drill_8_without_acks_late_the_same_task_is_lost_until_a_sweep(app, session, sink, start_worker):
    worker = start_worker("w8", app="tests.drills.lossy_tasks", **NO_SWEEP)
    expected = pool_killed_mid_send(session, sink, worker)

    assert wait_until(lambda: "WorkerLostError" in worker.log(), timeout=10), worker.log()[-3000:]
    assert not wait_until(lambda: len(sink.messages) > 1, timeout=4)  # acknowledged, gone with the process
    assert states(session) == Counter({MailState.SENT: 1, MailState.SENDING: 2})

    # Only the sweep, once the lease has run out, brings the rest.
    assert outbox.sweep_outbox(session, now=utcnow() + timedelta(seconds=601)) == 2
    assert_each_once(sink, expected)


@pytest.fixture(autouse=True)
def _no_leftover_rows(app):
    yield
    db.session.rollback()
