"""End to end: a dormant group's message to its followers, sent through the page, reaches a real SMTP
server through the outbox, Redis and a real Celery worker (one mail per follower, a copy to the
sender), and the one-click unsubscribe in a delivered mail's List-Unsubscribe header unfollows."""

from __future__ import annotations

import re

import pytest
import redis
from sqlalchemy import select

from tests.conftest import csrf_token_for
from tests.factories import create_group, create_user, organizer_of
from tests.support.worker import celery_worker
from webapp.db import utcnow
from webapp.follows.services import follow_group, is_following
from webapp.outbox.models import MailState, OutboxMail


@pytest.fixture
def app_overrides(redis_url, smtp_sink):
    redis.Redis.from_url(redis_url).flushdb()  # no tasks or rate-limit counters from earlier runs
    return {"REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_sink.port}


def test_message_to_followers_is_delivered_once_each_and_unsubscribes_in_one_click(
        redis_url, app, migrated, tmp_path, session, signed_in_client, smtp_sink):
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    organizer = organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    ada, ben = create_user(email="ada@example.org"), create_user(email="ben@example.org")
    for follower in (ada, ben):
        follow_group(session, group.id, member=follower, now=utcnow())
    session.commit()
    env = {
        "DATABASE_URL": migrated, "REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port), "SECRET_KEY": "test-secret", "INSTANCE_PATH": str(tmp_path),
    }
    with celery_worker(env):
        client = signed_in_client(organizer)
        form = {"csrf_token": csrf_token_for(client), "client_key": "c" * 32, "subject": "We’re meeting again",
                "body": "First Tuesdays from March, <b>room 204</b>."}
        assert client.post("/groups/metadata/followers/message", data=form).status_code == 303
        assert client.post("/groups/metadata/followers/message", data=form).status_code == 303  # a double submit
        delivered = smtp_sink.wait_for(3, timeout=30)  # Ada's, Ben's and Olga's copy

    assert sorted(m["To"] for m in delivered) == ["ada@example.org", "ben@example.org", "org@example.org"]
    for message in delivered:
        assert message["Reply-To"] == "org@example.org"
        html = message.get_body(("html",)).get_content()
        assert "&lt;b&gt;room 204&lt;/b&gt;" in html and "<b>room 204</b>" not in html
    to_ada = next(m for m in delivered if m["To"] == "ada@example.org")
    assert to_ada["Subject"] == "Metadata Practitioners: We’re meeting again"
    assert to_ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<http://meetups\.test(/unsubscribe/\S+)>", to_ada["List-Unsubscribe"]).group(1)
    session.expire_all()
    rows = list(session.scalars(select(OutboxMail).where(OutboxMail.kind == "followers_message")))
    assert len(rows) == 3 and all(row.state == MailState.SENT for row in rows)

    # The mail client's one-click POST, with no cookies and no CSRF token (RFC 8058).
    answer = client.application.test_client().post(link, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert not is_following(session, group.id, ada.id) and is_following(session, group.id, ben.id)
