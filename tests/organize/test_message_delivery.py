"""End to end: an organizer's message to attendees, sent through the page, reaches a real SMTP server
through the outbox, Redis and a real Celery worker: one mail per attendee and a copy to the sender."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import delete, select

from tests.conftest import csrf_token_for
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.worker import celery_worker
from webapp.db import utcnow
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations

ZOOM = "https://zoom.us/j/5550001111"


@pytest.fixture
def app_overrides(redis_url, smtp_sink):
    redis.Redis.from_url(redis_url).flushdb()  # no tasks or rate-limit counters from earlier runs
    return {"REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_sink.port}


def test_message_to_attendees_is_delivered_with_a_copy_to_the_sender(
    redis_url,
        app, migrated, tmp_path, session, signed_in_client, smtp_sink):
    group = create_group(slug="metadata", organizers=[])
    event = create_event(group, slug="round-table", title="Linked Data Round-table", capacity=1, meeting_url=ZOOM)
    organizer = organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    seated, waiting = create_user(email="ada@example.org"), create_user(email="ben@example.org")
    for member in (seated, waiting):
        registrations.register(session, event.id, member=member, now=utcnow())
    # Registering queues its own mails; only the organizer's message is under test here.
    session.execute(delete(OutboxMail))
    session.commit()
    env = {
        "DATABASE_URL": migrated, "REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port), "SECRET_KEY": "test-secret", "INSTANCE_PATH": str(tmp_path),
    }
    with celery_worker(env):
        client = signed_in_client(organizer)
        response = client.post("/events/round-table/messages", data={
            "csrf_token": csrf_token_for(client), "client_key": "c" * 32, "audience": "confirmed",
            "subject": "Room change", "body": "We meet in room 204 <b>upstairs</b>.\nBring a laptop.",
        })
        assert response.status_code == 303
        delivered = smtp_sink.wait_for(2, timeout=30)  # Ada's message and Olga's copy

    messages = {(m["To"], m["Subject"]): m for m in delivered}
    assert len(delivered) == 2
    to_ada = messages[("ada@example.org", "Linked Data Round-table: Room change")]
    copy = messages[("org@example.org", "Copy: Linked Data Round-table: Room change")]
    assert not any(to == "ben@example.org" and "Room change" in subject for to, subject in messages)
    for message in (to_ada, copy):
        assert message["Reply-To"] == "org@example.org"
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = message.get_body(("html",)).get_content()
        assert "We meet in room 204 <b>upstairs</b>.\nBring a laptop." in text
        assert "&lt;b&gt;upstairs&lt;/b&gt;" in html and "<b>upstairs</b>" not in html
        assert ZOOM not in text + html and "/join/" not in text + html
    assert "copy of the message you sent to 1 confirmed attendee of" in copy.get_body(("plain",)).get_content()
    session.expire_all()
    rows = list(session.scalars(select(OutboxMail).where(OutboxMail.kind == "event_message")))
    assert len(rows) == 2 and all(row.state == MailState.SENT for row in rows)
