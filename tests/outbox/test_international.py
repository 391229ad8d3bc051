"""Issue 16: one message that cannot go must not hold up its batch, and international addresses
(RFC 6531) are delivered properly: IDNA for the domain, SMTPUTF8 for a non-ASCII local part where
the server offers it, a plain permanent failure where it does not."""

from __future__ import annotations

from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.drills.support import smtp_server
from webapp.accounts.services import email_problem
from webapp.db import utcnow
from webapp.extensions import mail as mail_ext
from webapp.outbox import services
from webapp.outbox.models import MailState, OutboxMail

JOSE = "josé@exämple.org"
# A domain label of 64 characters: IDNA has no form for it, so this message cannot be built.
UNENCODABLE = "ada@" + "ä" * 64 + ".org"


def use_smtp(app, port):
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    mail_ext.init_app(app)


def queue_all(session, recipients):
    ids = [services.queue_mail(session, kind="test", dedup_key=f"intl-{n}", recipient=r, subject=f"#{n}",
                               body_text="Hello").id for n, r in enumerate(recipients)]
    session.commit()
    return ids


def row(session, mail_id) -> OutboxMail:
    session.expire_all()
    return session.get(OutboxMail, mail_id)


def test_a_non_ascii_local_part_goes_with_smtputf8_and_an_idna_domain(app, session):
    with smtp_server(enable_SMTPUTF8=True) as sink:
        use_smtp(app, sink.port)
        [mail_id] = queue_all(session, [JOSE])
        assert services.send_outbox_mail(session, mail_id) is MailState.SENT
    [message] = sink.messages
    [(_, rcpt_tos, options)] = sink.envelopes
    assert message["To"] == "josé@xn--exmple-cua.org"
    assert rcpt_tos == ["josé@xn--exmple-cua.org"] and "SMTPUTF8" in options
    assert message["Message-ID"] == row(session, mail_id).message_id


def test_without_smtputf8_that_mail_fails_for_good_and_the_rest_of_the_batch_goes(app, session):
    recipients = ["a@example.org", JOSE, "ada@exämple.org", "c@example.org"]
    with smtp_server(enable_SMTPUTF8=False) as sink:  # (aiosmtpd's Controller offers it unless told not to)
        use_smtp(app, sink.port)
        ids = queue_all(session, recipients)
        result = services.send_outbox_batch(session, ids)
    assert result.failed == [ids[1]] and result.sent == [ids[0], ids[2], ids[3]]
    failed = row(session, ids[1])
    assert failed.state is MailState.FAILED and failed.attempts == 1
    assert failed.last_error == "the mail server does not accept international addresses (SMTPUTF8)"
    # An international domain alone needs nothing of the server: it goes as punycode, envelope and header.
    assert sink.recipients() == ["a@example.org", "ada@xn--exmple-cua.org", "c@example.org"]
    assert [rcpts for _, rcpts, _ in sink.envelopes] == [["a@example.org"], ["ada@xn--exmple-cua.org"],
                                                       ["c@example.org"]]
    assert all("SMTPUTF8" not in options for _, _, options in sink.envelopes)
    assert services.claim_due(session, now=utcnow() + timedelta(days=1)) == []


def test_a_message_that_cannot_be_built_fails_alone(app, session):
    with smtp_server() as sink:
        use_smtp(app, sink.port)
        ids = queue_all(session, ["a@example.org", UNENCODABLE, "c@example.org"])
        result = services.send_outbox_batch(session, ids)
    assert result.sent == [ids[0], ids[2]] and result.failed == [ids[1]]
    assert sink.recipients() == ["a@example.org", "c@example.org"]
    bad = row(session, ids[1])
    assert bad.state is MailState.FAILED and "IDNA" in bad.last_error
    assert {r.state for r in session.scalars(select(OutboxMail))} == {MailState.SENT, MailState.FAILED}


def test_an_unforeseen_error_sending_one_message_is_that_rows_and_counts_as_an_attempt(app, session, monkeypatch):
    real_send = services._SmtpConnection.send

    def send(self, message):
        if message.recipients == ["b@example.org"]:
            raise RuntimeError("something nobody foresaw")
        real_send(self, message)

    monkeypatch.setattr(services._SmtpConnection, "send", send)
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    with smtp_server() as sink:
        use_smtp(app, sink.port)
        ids = queue_all(session, ["a@example.org", "b@example.org", "c@example.org"])
        now = utcnow()
        result = services.send_outbox_batch(session, ids, now=now)
        assert result.sent == [ids[0], ids[2]] and result.retrying == [ids[1]]
        assert "RuntimeError: something nobody foresaw" in row(session, ids[1]).last_error
        assert services.send_outbox_mail(session, ids[1], now=now + timedelta(hours=2)) is MailState.FAILED
    assert row(session, ids[1]).attempts == 2
    assert sink.recipients() == ["a@example.org", "c@example.org"]


def test_an_error_no_row_explains_releases_every_claimed_row(app, session, monkeypatch):
    def broken():
        raise RuntimeError("the transport is misconfigured")

    monkeypatch.setattr(services, "open_connection", broken)
    ids = queue_all(session, ["a@example.org", "b@example.org"])
    now = utcnow()
    with pytest.raises(RuntimeError):
        services.send_outbox_batch(session, ids, now=now)
    rows = [row(session, i) for i in ids]
    assert {r.state for r in rows} == {MailState.RETRYING}
    assert all(r.attempts == 0 and r.last_error.startswith("not tried") for r in rows)


def test_the_file_backend_writes_international_mail_too(app, session):
    [mail_id] = queue_all(session, [JOSE])
    assert services.sweep_outbox(session) == 1
    [eml] = Path(app.config["MAIL_FILE_DIR"]).glob("*.eml")
    message = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert message["To"] == "josé@xn--exmple-cua.org"
    assert row(session, mail_id).state is MailState.SENT


def test_the_address_check_takes_international_addresses_and_refuses_junk():
    assert email_problem("josé@example.org") is None
    assert email_problem(JOSE) is None
    for junk in ["josé", "a b@example.org", "a@b", "a@@example.org", UNENCODABLE, "a\x00b@example.org"]:
        assert email_problem(junk) == "Enter an email address like name@example.org.", junk


def test_a_row_taken_over_mid_send_goes_again_with_its_message_id_and_is_flagged(app, session):
    with smtp_server() as sink:
        use_smtp(app, sink.port)
        [mail_id] = queue_all(session, ["ada@example.org"])
        now = utcnow()
        # What a worker does, up to the window: claim, build (the Message-ID is committed before
        # anything leaves), the server accepts ... and the worker dies before marking the row.
        assert services.claim_many(session, [mail_id], now=now) == [mail_id]
        session.commit()
        with services.open_connection() as connection:
            connection.send(services.build_message(session.get(OutboxMail, mail_id)))
        session.commit()
        assert row(session, mail_id).state is MailState.SENDING
        # Its lease runs out; the sweep takes it over and sends it again.
        assert services.sweep_outbox(session, now=now + timedelta(minutes=11)) == 1
    first, second = sink.messages
    stored = row(session, mail_id)
    assert first["Message-ID"] == second["Message-ID"] == stored.message_id
    assert stored.state is MailState.SENT and stored.lease_takeovers == 1


def test_only_the_same_task_redelivered_takes_its_rows_back_before_the_lease_ends(app, session):
    [mail_id] = queue_all(session, ["ada@example.org"])
    now = utcnow()
    assert services.claim_many(session, [mail_id], now=now, token="task-1") == [mail_id]
    session.commit()
    assert services.claim_many(session, [mail_id], now=now, token="task-2") == []  # another task: the lease holds
    assert services.claim_many(session, [mail_id], now=now) == []
    assert services.claim_many(session, [mail_id], now=now + timedelta(seconds=1), token="task-1") == [mail_id]
    session.commit()
    stored = row(session, mail_id)
    assert (stored.attempts, stored.lease_takeovers, stored.claim_token) == (2, 1, "task-1")


def test_the_task_running_out_of_time_mid_send_releases_the_rest_and_flags_the_one_on_the_wire(
        app, session, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    real_send = services._SmtpConnection.send

    def send(self, message):
        real_send(self, message)
        if message.recipients == ["b@example.org"]:  # the server has it; then the time is up
            raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services._SmtpConnection, "send", send)
    with smtp_server() as sink:
        use_smtp(app, sink.port)
        ids = queue_all(session, ["a@example.org", "b@example.org", "c@example.org"])
        with pytest.raises(SoftTimeLimitExceeded):
            services.send_outbox_batch(session, ids)
    a, b, c = (row(session, i) for i in ids)
    assert a.state is MailState.SENT
    assert (b.state, b.lease_takeovers) == (MailState.RETRYING, 1)  # may arrive twice: the page will say so
    assert (c.state, c.lease_takeovers, c.attempts) == (MailState.RETRYING, 0, 0)
    assert sink.recipients() == ["a@example.org", "b@example.org"]
