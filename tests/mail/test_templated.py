"""queue_templated_mail: the template names the subject, and the outbox row gets what the caller passed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from tests.factories import create_event, create_user
from tests.mail.test_golden import CASES, TITLE
from tests.support.outbox import as_sent
from webapp.db import utcnow
from webapp.events.calendar import event_ics
from webapp.outbox.models import OutboxMail
from webapp.outbox.rendering import fill_in_bodies
from webapp.outbox.services import PENDING_KEY
from webapp.outbox.templated import queue_templated_mail, render_mail
from webapp.registrations import services
from webapp.registrations.mails import queue_registration_mail

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def test_a_title_with_markup_characters_is_plain_in_the_subject_and_escaped_in_the_html(app):
    kind, context = CASES["registration_cancelled"]()
    mail = render_mail(kind, context)
    assert mail.subject == f"Registration cancelled: {TITLE}"
    assert "Zines &amp; &lt;Small Press&gt; Archives" in mail.html and "<Small Press>" not in mail.html
    assert "<title>Registration cancelled: Zines &amp; &lt;Small Press&gt; Archives</title>" in mail.html
    assert TITLE in mail.text  # plain text is not HTML: nothing to escape


def test_a_subject_block_over_several_lines_becomes_one_line(app):
    kind, context = CASES["proposal_decision.request_changes"]()
    assert render_mail(kind, context).subject == "Changes requested: Zines & <Comics> Librarians"


def test_the_row_gets_the_rendered_mail_and_every_field_the_caller_passed(session):
    kind, context = CASES["reminder.with_link"]()
    mail = queue_templated_mail(session, kind, "ada@example.org", context, "test:reminder:1", ics="BEGIN:VCALENDAR",
                                reply_to="org@example.org", now=NOW)
    stored = session.get(OutboxMail, mail.id)
    rendered = render_mail(kind, context)
    assert (stored.kind, stored.recipient, stored.dedup_key, stored.ics, stored.reply_to, stored.created_at) == (
        "reminder", "ada@example.org", "test:reminder:1", "BEGIN:VCALENDAR", "org@example.org", NOW)
    assert (stored.subject, stored.body_text, stored.body_html) == (rendered.subject, rendered.text, rendered.html)
    assert mail.id in session.info[PENDING_KEY]


def test_kinds_that_share_a_template_keep_their_own_kind(session):
    kind, context = CASES["proposal_reply.comment"]()
    mail = queue_templated_mail(session, "proposal_proposer_comment", "rita@example.org", context, "test:reply:1",
                                template=kind, now=NOW)
    assert mail.kind == "proposal_proposer_comment"
    assert mail.subject == "The proposer answered: Zines & <Comics> Librarians"


def test_queuing_a_key_twice_queues_one_mail(session):
    kind, context = CASES["sign_in"]()
    assert queue_templated_mail(session, kind, "ada@example.org", context, "test:sign-in:1", now=NOW) is not None
    assert queue_templated_mail(session, kind, "ada@example.org", context, "test:sign-in:1", now=NOW) is None


def test_a_registration_mail_takes_its_subject_from_the_template(session):
    event = create_event(title="Comics & <Zines> Night")
    registration = services.register(session, event.id, member=create_user(), now=utcnow()).registration
    queue_registration_mail(session, registration, "confirmed", now=utcnow())
    mail = session.scalars(select(OutboxMail).where(OutboxMail.kind == "registration_confirmed")).one()
    assert mail.subject == "You’re registered: Comics & <Zines> Night"
    assert "Comics &amp; &lt;Zines&gt; Night" in as_sent(mail).body_html


def test_a_mail_rendered_later_keeps_its_facts_and_no_bodies_until_the_worker_renders_them(session):
    event = create_event(title="Comics Night")
    member = create_user(display_name="Ada")
    registration = services.register(session, event.id, member=member, now=utcnow()).registration
    queue_registration_mail(session, registration, "confirmed", now=utcnow())
    session.commit()
    mail = session.scalars(select(OutboxMail).where(OutboxMail.kind == "registration_confirmed")).one()
    assert (mail.template, mail.body_text, mail.body_html) == ("registration_confirmed", "", None)
    # Facts of the moment it was queued, as plain values: a later rename does not change the mail.
    assert mail.context["event"]["title"] == "Comics Night" and mail.context["member"] == {"display_name": "Ada"}
    event.title = "Renamed Night"
    session.commit()
    fill_in_bodies(mail)
    assert "Comics Night" in mail.body_text and "Renamed" not in mail.body_text
    assert mail.context is None


def test_the_calendar_file_written_by_the_worker_is_the_one_the_request_would_have_written(session):
    event = create_event(title="Zines & <Small Press>", is_online=False, venue_name="Brooklyn Public Library",
                         venue_address="10 Grand Army Plaza, Brooklyn, NY", venue_accessibility="Step-free entrance.")
    registration = services.register(session, event.id, member=create_user(), now=utcnow()).registration
    queue_registration_mail(session, registration, "confirmed", now=utcnow())
    session.commit()
    mail = session.scalars(select(OutboxMail).where(OutboxMail.kind == "registration_confirmed")).one()
    assert mail.ics is None and "$calendar" in mail.context
    expected = event_ics(event, meeting_url=None, sequence=event.calendar_sequence)
    fill_in_bodies(mail)
    assert mail.ics == expected and "LOCATION:Brooklyn Public Library" in mail.ics
