"""The staff outbox page: counts, the oldest waiting mail, failures with the server's answer, retry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import csrf_token_for
from tests.factories import create_user
from tests.support.html import parse, text
from webapp.accounts.models import Role
from webapp.db import utcnow
from webapp.outbox import services
from webapp.outbox.models import MailState, OutboxMail

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


def failed_mail(session, **fields):
    mail = services.queue_mail(session, kind="test", dedup_key=fields.pop("key", "f1"), recipient="bad@example.org",
                               subject="Lost", body_text="x", **fields)
    mail.state = MailState.FAILED
    mail.attempts = 1
    mail.last_error = "bad@example.org: 550 5.1.1 No such user"
    return mail


@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_staff_see_counts_oldest_waiting_mail_and_failures(signed_in_client, session, role):
    failed_mail(session)
    services.queue_mail(session, kind="test", dedup_key="q1", recipient="a@example.org", subject="Waiting",
                        body_text="x", now=utcnow() - timedelta(minutes=3))
    staff = create_user(roles=[role])
    session.commit()
    html = signed_in_client(staff).get("/outbox").get_data(as_text=True)
    assert "550 5.1.1 No such user" in html and "bad@example.org" in html
    assert "3 minutes ago" in html and "Mail is stuck" not in html
    assert "Retry" in html


def test_the_page_raises_the_alarm_when_mail_waits_too_long(signed_in_client, session):
    services.queue_mail(session, kind="test", dedup_key="q1", recipient="a@example.org", subject="Old",
                        body_text="x", now=utcnow() - timedelta(minutes=12))
    staff = create_user(roles=[Role.STAFF])
    session.commit()
    assert "Mail is stuck" in signed_in_client(staff).get("/outbox").get_data(as_text=True)


@pytest.mark.parametrize("roles", [[], [Role.REVIEWER]])
def test_nobody_else_can_see_or_retry(signed_in_client, client, session, roles):
    mail = failed_mail(session)
    member = create_user(roles=roles)
    session.commit()
    assert client.get("/outbox").status_code == 404  # signed out
    member_client = signed_in_client(member)
    assert member_client.get("/outbox").status_code == 404
    response = member_client.post(f"/outbox/{mail.id}/retry", data={"csrf_token": csrf_token_for(member_client)})
    assert response.status_code == 404
    session.expire_all()
    assert session.get(OutboxMail, mail.id).state is MailState.FAILED


def test_retry_needs_the_csrf_token_and_hands_the_mail_to_a_worker(app, signed_in_client, session, monkeypatch):
    sent = []
    monkeypatch.setattr(app.extensions["celery"], "send_task", lambda name, args: sent.append((name, args)))
    mail = failed_mail(session)
    staff = create_user(roles=[Role.STAFF])
    session.commit()
    sent.clear()
    staff_client = signed_in_client(staff)
    assert staff_client.post(f"/outbox/{mail.id}/retry").status_code == 400
    response = staff_client.post(f"/outbox/{mail.id}/retry", data={"csrf_token": csrf_token_for(staff_client)})
    assert response.status_code == 303
    session.expire_all()
    assert session.get(OutboxMail, mail.id).state is MailState.QUEUED
    assert sent == [("tasks.mail.send_outbox_mail", [mail.id])]
    again = staff_client.post(f"/outbox/{mail.id}/retry", data={"csrf_token": csrf_token_for(staff_client)})
    assert again.status_code == 409 and "already on its way" in again.get_data(as_text=True)


def test_mails_sent_again_after_a_takeover_mid_send_are_shown_as_maybe_sent_twice(signed_in_client, session):
    twice = services.queue_mail(session, kind="test", dedup_key="t1", recipient="twice@example.org",
                                subject="Taken over", body_text="x")
    once = services.queue_mail(session, kind="test", dedup_key="t2", recipient="once@example.org",
                               subject="Plain", body_text="x")
    for mail in (twice, once):
        mail.state, mail.sent_at = MailState.SENT, utcnow()
    twice.lease_takeovers = 1
    staff = create_user(roles=[Role.STAFF])
    session.commit()
    html = signed_in_client(staff).get("/outbox").get_data(as_text=True)
    heading = parse(html).find("h2", string="May have been sent twice")
    section = " ".join(text(element) for element in heading.find_next_siblings())
    assert "twice@example.org" in section and "once@example.org" not in html
