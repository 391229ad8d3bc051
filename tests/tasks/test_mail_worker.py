"""End to end: a committed outbox row reaches a real SMTP server through Redis and a real worker."""

import time

import redis

from tests.conftest import make_test_app
from tests.support.worker import celery_worker
from webapp.db import db
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.services import queue_mail


def test_worker_delivers_committed_mail_through_redis_to_smtp(redis_url, migrated, tmp_path, smtp_sink):
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        "DATABASE_URL": migrated,
        "REDIS_URL": redis_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port),
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path),
    }
    app = make_test_app(migrated, tmp_path, REDIS_URL=redis_url,
                        MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port)
    with celery_worker(env), app.app_context():
        try:
            queue_mail(db.session, kind="test", dedup_key="wiring-1", recipient="ada@example.org",
                       subject="Wiring works", body_text="Hello from the worker.")
            db.session.commit()  # the commit hands the row to the worker through Redis

            messages = smtp_sink.wait_for(1)

            assert [m["Subject"] for m in messages] == ["Wiring works"]
            assert messages[0]["To"] == "ada@example.org"
            assert "Hello from the worker." in messages[0].get_body(("plain",)).get_content()
            # The sink has the message a moment before the worker commits "sent": wait for that.
            deadline = time.monotonic() + 15
            while True:
                db.session.rollback()
                row = db.session.scalar(db.select(OutboxMail).where(OutboxMail.dedup_key == "wiring-1"))
                if row.state is MailState.SENT or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert row.state is MailState.SENT and row.message_id
        finally:
            db.session.execute(db.delete(OutboxMail))
            db.session.commit()
            db.engine.dispose()
