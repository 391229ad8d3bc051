from datetime import timedelta
from pathlib import Path

import pytest

from tests.drills.support import smtp_server
from tests.support.queries import count_queries
from webapp.db import db, utcnow
from webapp.extensions import mail as mail_ext
from webapp.outbox import services
from webapp.outbox.models import MailState, OutboxMail


def use_smtp(app, port):
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    mail_ext.init_app(app)


@pytest.fixture
def sink(app):
    """A real SMTP server that the app sends through; a test tells it what to refuse."""
    with smtp_server() as server:
        use_smtp(app, server.port)
        yield server


def queue(session, key="k1", **fields):
    values = dict(kind="test", dedup_key=key, recipient="ada@example.org",
                  subject="Hello", body_text="Body")
    values.update(fields)
    return services.queue_mail(session, **values)


def test_the_same_dedup_key_is_queued_once(session):
    assert queue(session) is not None
    assert queue(session) is None
    session.commit()
    assert session.query(OutboxMail).count() == 1


def test_many_mails_go_in_one_statement_each_key_once_and_all_to_the_worker_at_commit(app, session, monkeypatch):
    sent = []
    monkeypatch.setattr(app.extensions["celery"], "send_task", lambda name, args: sent.append((name, args)))
    monkeypatch.setattr(services, "QUEUE_MANY_ROWS", 2)  # more rows than one INSERT takes
    before = queue(session, key="k1").id

    def row(key, subject="Hello"):
        return services.mail_row(kind="test", dedup_key=key, recipient=f"{key}@example.org", subject=subject,
                                 body_text="Body", headers={"X-Note": "one\r\ntwo"})

    with count_queries() as statements:
        ids = services.queue_mails(session, [row("k1"), row("k2", "Hi\nthere"), row("k3"), row("k2")])
    assert len(statements) == 2 and all(s.lstrip().upper().startswith("INSERT") for s in statements)
    session.commit()
    stored = {m.dedup_key: m for m in session.query(OutboxMail)}
    assert sorted(stored) == ["k1", "k2", "k3"] and stored["k1"].id == before  # k1 was queued before
    assert sorted(ids) == sorted([stored["k2"].id, stored["k3"].id])
    assert (stored["k2"].subject, stored["k2"].headers) == ("Hi there", {"X-Note": "one two"})
    assert sent == [("tasks.mail.send_outbox_batch", [[before, *sorted(ids)]])]


def test_queued_mail_is_the_stored_row_and_changes_to_it_are_saved(session):
    mail = queue(session, subject="Hello\r\nagain")
    mail.attempts = 3
    session.commit()
    session.expire_all()
    stored = session.get(OutboxMail, mail.id)
    assert (stored.subject, stored.state, stored.attempts) == ("Hello again", MailState.QUEUED, 3)
    assert stored.last_error is None


def test_a_key_another_transaction_is_queueing_waits_for_it_instead_of_failing(app, session, db_kind):
    """ON CONFLICT DO NOTHING: the second writer waits for the first, then queues nothing."""
    import threading

    from sqlalchemy.orm import Session

    with Session(db.engine) as first:
        assert queue(first, key="same") is not None  # not committed yet
        results = []

        def second_writer():
            with app.app_context(), Session(db.engine) as second:
                results.append(queue(second, key="same"))
                second.commit()

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting on the first transaction's key
        first.commit()
        thread.join(timeout=30)
    assert results == [None]
    assert session.query(OutboxMail).filter_by(dedup_key="same").count() == 1


def test_rolled_back_mail_is_neither_stored_nor_dispatched(app, session, monkeypatch):
    sent = []
    monkeypatch.setattr(app.extensions["celery"], "send_task", lambda *a, **k: sent.append(a))
    queue(session)
    session.rollback()
    session.commit()
    assert session.query(OutboxMail).count() == 0
    assert sent == []


def test_committed_mail_is_handed_to_the_worker_by_id(app, session, monkeypatch):
    sent = []
    monkeypatch.setattr(app.extensions["celery"], "send_task", lambda name, args: sent.append((name, args)))
    mail = queue(session)
    session.commit()
    assert sent == [("tasks.mail.send_outbox_mail", [mail.id])]


def test_a_broker_outage_at_commit_leaves_the_row_for_the_sweep(app, session, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(app.extensions["celery"], "send_task", broker_down)
    mail = queue(session)
    session.commit()  # no exception reaches the member
    assert session.get(OutboxMail, mail.id).state is MailState.QUEUED
    assert services.claim_due(session, now=utcnow()) == [mail.id]


def test_header_injection_through_subject_is_neutralised(session):
    mail = queue(session, subject="Hi\r\nBcc: everyone@example.org")
    assert "\n" not in mail.subject and "\r" not in mail.subject


def test_send_marks_sent_after_the_smtp_server_accepts(app, session, smtp_sink):
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port)
    mail_ext.init_app(app)
    mail = queue(session)
    session.commit()

    assert services.send_outbox_mail(session, mail.id) is MailState.SENT
    assert services.send_outbox_mail(session, mail.id) is None  # a redelivered task sends nothing

    assert len(smtp_sink.wait_for(1)) == 1
    assert smtp_sink.messages[0]["Message-ID"] == session.get(OutboxMail, mail.id).message_id


def test_smtp_outage_schedules_a_retry_with_backoff(app, session):
    from tests.conftest import free_port

    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    mail_ext.init_app(app)
    mail = queue(session)
    session.commit()
    now = utcnow()

    assert services.send_outbox_mail(session, mail.id, now=now) is MailState.RETRYING
    row = session.get(OutboxMail, mail.id)
    assert row.next_attempt_at >= now + timedelta(seconds=30)
    assert row.last_error
    assert services.claim_due(session, now=now) == []
    assert services.claim_due(session, now=now + timedelta(minutes=5)) == [mail.id]


def test_refused_recipient_is_a_permanent_failure_with_the_servers_answer(session, sink):
    sink.refuse_rcpt["ada@example.org"] = "550 5.1.1 No such user here"
    mail = queue(session)
    session.commit()
    assert services.send_outbox_mail(session, mail.id) is MailState.FAILED
    row = session.get(OutboxMail, mail.id)
    assert "550" in row.last_error and "No such user here" in row.last_error
    assert services.claim_due(session, now=utcnow() + timedelta(days=1)) == []  # never again


def test_without_a_mail_server_mails_become_eml_files(app, session):
    from pathlib import Path

    mail = queue(session, subject="Written to disk")
    session.commit()
    assert services.sweep_outbox(session) == 1
    files = list(Path(app.config["MAIL_FILE_DIR"]).glob("*.eml"))
    assert len(files) == 1 and b"Written to disk" in files[0].read_bytes()
    assert session.get(OutboxMail, mail.id).state is MailState.SENT


def test_a_batch_goes_over_one_smtp_connection_and_each_row_is_marked_sent(session, sink):
    ids = [queue(session, key=f"k{n}", recipient=f"m{n}@example.org").id for n in range(5)]
    session.commit()
    result = services.send_outbox_batch(session, ids)
    assert sorted(result.sent) == ids
    assert sink.connections == 1 and len(sink.messages) == 5
    assert {m.state for m in session.scalars(db.select(OutboxMail))} == {MailState.SENT}


def test_only_the_sent_mark_commits_without_waiting_for_the_disk(session, sink, db_kind):
    # The claim, the Message-IDs and a failure are on disk before anything else happens; the "sent"
    # mark alone may be lost in a database crash (and the mail then goes again, as after a worker's).
    ids = [queue(session, key=f"k{n}", recipient=f"m{n}@example.org").id for n in range(3)]
    session.commit()
    sink.refuse_rcpt["m1@example.org"] = "550 5.1.1 Unknown user"
    with count_queries() as statements:
        result = services.send_outbox_batch(session, ids)
    assert (len(result.sent), len(result.failed)) == (2, 1)
    lazy = [n for n, statement in enumerate(statements) if "synchronous_commit" in statement]
    if db_kind == "sqlite":
        assert lazy == []
        return
    assert len(lazy) == 2  # one per mail sent, none for the refused one
    assert all(statements[n + 1].lstrip().startswith("UPDATE outbox_mails SET state=") for n in lazy)
    assert "UPDATE outbox_mails" in statements[0] and "synchronous_commit" not in statements[0]  # the claim


def test_one_refused_recipient_does_not_stop_the_rest_of_the_batch(session, sink):
    sink.refuse_rcpt["bad@example.org"] = "550 5.1.1 Unknown user"
    ids = [queue(session, key=f"k{n}", recipient=r).id
           for n, r in enumerate(["a@example.org", "bad@example.org", "c@example.org"])]
    session.commit()
    result = services.send_outbox_batch(session, ids)
    assert result.sent == [ids[0], ids[2]] and result.failed == [ids[1]]
    assert sink.recipients() == ["a@example.org", "c@example.org"]


def test_temporary_refusal_retries_with_exponential_backoff_and_jitter(session, sink):
    sink.refuse_mail = "451 4.3.0 Try again later"
    mail = queue(session)
    session.commit()
    now = utcnow()
    assert services.send_outbox_mail(session, mail.id, now=now) is MailState.RETRYING
    row = session.get(OutboxMail, mail.id)
    assert now + timedelta(seconds=30) <= row.next_attempt_at <= now + timedelta(seconds=45)
    assert "451" in row.last_error
    later = row.next_attempt_at
    assert services.send_outbox_mail(session, mail.id, now=later) is MailState.RETRYING
    assert session.get(OutboxMail, mail.id).next_attempt_at >= later + timedelta(seconds=60)
    sink.refuse_mail = None
    assert services.send_outbox_mail(session, mail.id, now=later + timedelta(hours=1)) is MailState.SENT
    assert len(sink.messages) == 1


def test_a_5xx_answer_to_the_sender_is_permanent(session, sink):
    sink.refuse_mail = "554 5.7.1 Relay access denied"
    mail = queue(session)
    session.commit()
    assert services.send_outbox_mail(session, mail.id) is MailState.FAILED
    assert "554 5.7.1 Relay access denied" in session.get(OutboxMail, mail.id).last_error


def test_retry_delays_double_and_are_capped_with_jitter(app):
    app.config.update(OUTBOX_RETRY_BASE_SECONDS=30, OUTBOX_RETRY_MAX_SECONDS=3600)
    for attempts, base in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        delays = {services.retry_delay(attempts).total_seconds() for _ in range(20)}
        assert all(base <= d <= base * 1.5 for d in delays)
        assert len(delays) > 1  # jitter: a batch that failed together does not retry together


def test_temporary_failures_give_up_after_the_last_attempt(app, session):
    from tests.conftest import free_port

    use_smtp(app, free_port())  # nothing listens there
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    mail = queue(session)
    session.commit()
    now = utcnow()
    assert services.send_outbox_mail(session, mail.id, now=now) is MailState.RETRYING
    assert services.send_outbox_mail(session, mail.id, now=now + timedelta(hours=2)) is MailState.FAILED


def test_of_two_workers_claiming_the_same_row_only_one_wins(app, session):
    from sqlalchemy.orm import Session

    mail = queue(session)
    session.commit()
    now = utcnow()
    with Session(db.engine) as first, Session(db.engine) as second:
        assert services.claim_many(first, [mail.id], now=now) == [mail.id]
        first.commit()
        assert services.claim_many(second, [mail.id], now=now) == []


def test_claim_due_skips_rows_another_worker_is_claiming(app, session, db_kind):
    if db_kind != "postgres":
        pytest.skip("row locks with SKIP LOCKED are PostgreSQL's; SQLite has one writer at a time")
    from sqlalchemy.orm import Session

    ids = [queue(session, key=f"k{n}").id for n in range(4)]
    session.commit()
    now = utcnow()
    with Session(db.engine) as first, Session(db.engine) as second:
        mine = services.claim_due(first, now=now, limit=2)  # not committed yet: rows locked
        theirs = services.claim_due(second, now=now, limit=4)
        assert mine == ids[:2] and theirs == ids[2:]
        first.commit()
        second.commit()


def test_a_dead_workers_row_is_taken_again_after_its_lease(app, session):
    mail = queue(session)
    session.commit()
    now = utcnow()
    assert services.claim_many(session, [mail.id], now=now) == [mail.id]
    session.commit()  # ... and the worker dies here, leaving the row in `sending`
    assert services.claim_due(session, now=now + timedelta(minutes=5)) == []
    assert services.claim_due(session, now=now + timedelta(minutes=11)) == [mail.id]


def test_headers_are_complete_and_cannot_be_injected(session, sink):
    mail = queue(session, subject="Hi\r\nBcc: everyone@example.org", recipient="ada@example.org\nCc: x@y.z",
                 reply_to="Organizers <org@example.org>\r\nBcc: b@example.org",
                 body_html="<p>Body</p>")
    session.commit()
    assert services.send_outbox_mail(session, mail.id) is MailState.SENT
    [message] = sink.messages
    assert message["Message-ID"] == session.get(OutboxMail, mail.id).message_id
    assert message["Date"] and message["From"] == "METRO Meetups <meetups@metro.org>"
    assert message["Reply-To"].startswith("Organizers <org@example.org>")
    assert message["Bcc"] is None and message["Cc"] is None
    assert message.get_body(("plain",)).get_content().strip() == "Body"
    assert "<p>Body</p>" in message.get_body(("html",)).get_content()


def test_a_mail_that_no_longer_applies_is_dropped_not_sent(app, session, monkeypatch):
    monkeypatch.setitem(services._RECHECKS, "test", lambda s, m, now: "the member cancelled")
    mail = queue(session)
    session.commit()
    assert services.send_outbox_mail(session, mail.id) is MailState.DROPPED
    assert "the member cancelled" in session.get(OutboxMail, mail.id).last_error
    assert list(Path(app.config["MAIL_FILE_DIR"]).glob("*.eml")) == []


def test_health_counts_states_and_raises_the_alarm_for_old_waiting_mail(app, session):
    import logging

    now = utcnow()
    queue(session, key="old", now=now - timedelta(minutes=11))
    queue(session, key="new", now=now)
    session.commit()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("webapp.outbox.services")
    # Alembic's logging setup (run by the `migrated` fixture) disables loggers that existed before it.
    was_disabled, logger.disabled = logger.disabled, False
    logger.addHandler(handler)
    try:
        health = services.warn_if_stuck(session, now=now)
    finally:
        logger.removeHandler(handler)
        logger.disabled = was_disabled
    assert health.counts["queued"] == 2 and health.counts["sent"] == 0
    assert health.oldest_waiting_age >= timedelta(minutes=11) and health.is_stuck
    assert any("OUTBOX ALERT" in r.getMessage() for r in records)
    assert not services.outbox_health(session, now=now - timedelta(minutes=5)).is_stuck
