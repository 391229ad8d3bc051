import smtplib
from datetime import timedelta

from webapp import mail as mail_ext
from webapp.db import utcnow
from webapp.outbox import services
from webapp.outbox.models import MailState, OutboxMail


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
    assert services.due_mail_ids(session, now=utcnow()) == [mail.id]


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
    assert services.due_mail_ids(session, now=now) == []
    assert services.due_mail_ids(session, now=now + timedelta(minutes=5)) == [mail.id]


def test_refused_recipient_is_a_permanent_failure(app, session, monkeypatch):
    mail = queue(session)
    session.commit()

    def refuse(message):
        raise smtplib.SMTPRecipientsRefused({"ada@example.org": (550, b"No such user")})

    monkeypatch.setattr(services, "deliver", refuse)
    assert services.send_outbox_mail(session, mail.id) is MailState.FAILED
    assert "No such user" in session.get(OutboxMail, mail.id).last_error


def test_without_a_mail_server_mails_become_eml_files(app, session):
    from pathlib import Path

    mail = queue(session, subject="Written to disk")
    session.commit()
    assert services.sweep_outbox(session) == 1
    files = list(Path(app.config["MAIL_FILE_DIR"]).glob("*.eml"))
    assert len(files) == 1 and b"Written to disk" in files[0].read_bytes()
    assert session.get(OutboxMail, mail.id).state is MailState.SENT
