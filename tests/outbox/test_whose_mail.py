"""Every mail about a registration says whose it is in `registration_id` and `event_id`, and an
attendee's mails are found by those columns, never by parsing dedup keys (issue 17)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import webapp
from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.db import utcnow
from webapp.events import changes as event_changes
from webapp.organize.attendees import send_message
from webapp.organize.models import MessageAudience
from webapp.outbox import services as outbox
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations
from webapp.registrations.mails import queue_registration_mail
from webapp.reminders import services as reminders

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


@pytest.fixture
def world(session):
    group = create_group(slug="metadata", organizers=[])
    event = create_event(group, slug="round-table", title="Round-table", starts_at=utcnow() + timedelta(hours=10))
    organizer = organizer_of(group, email="org@example.org")
    ada = create_user(email="ada@example.org", display_name="Ada")
    ben = create_user(email="ben@example.org", display_name="Ben")
    booked = utcnow() - timedelta(days=2)
    found = {person.display_name: registrations.register(session, event.id, member=person, now=booked).registration
             for person in (ada, ben)}
    for registration in found.values():  # as the Register button does (a second call queues nothing)
        queue_registration_mail(session, registration, "confirmed", now=booked)
    session.commit()
    return dict(event=event, organizer=organizer, **found)


def failed(session, mail, error):
    mail.state, mail.last_error = MailState.FAILED, error
    session.commit()


def row_of(html, registration) -> str:
    return html.split(f'id="registration-{registration.id}"')[1].split("</tr>")[0]


def test_every_mail_about_a_registration_says_whose_it_is(session, world):
    event, ada = world["event"], world["Ada"]
    now = utcnow()
    reminders.queue_due_reminders(session, now=now)
    send_message(session, event.id, sender=world["organizer"], audience=MessageAudience.CONFIRMED,
                 subject="Room change", body="Room 204.", client_key="k" * 32, now=now)
    start = event.starts_at + timedelta(days=1)
    event_changes.reschedule_event(session, event.id, start, start + timedelta(hours=1), now=now)
    event_changes.cancel_event(session, event.id, now=now)
    session.commit()
    kinds = {mail.kind: (mail.registration_id, mail.event_id) for mail in session.scalars(
        select(OutboxMail).where(OutboxMail.recipient == ada.user.email))}
    assert kinds == {kind: (ada.id, event.id) for kind in (
        "registration_confirmed", "reminder", "event_message", "event_changed", "event_cancelled")}
    [copy] = session.scalars(select(OutboxMail).where(OutboxMail.recipient == "org@example.org"))
    assert (copy.registration_id, copy.event_id) == (None, event.id)  # the sender's copy


def test_a_failed_mail_shows_for_its_registration_whatever_its_dedup_key(signed_in_client, session, world):
    event, ada, ben = world["event"], world["Ada"], world["Ben"]
    odd = outbox.queue_mail(session, kind="some_future_kind", dedup_key="a key/with no colons #1",
                            recipient=ada.user.email, subject="Odd one", body_text="-",
                            registration_id=ada.id, event_id=event.id)
    failed(session, odd, "550 5.1.1 Ada is gone")
    html = signed_in_client(world["organizer"]).get("/events/round-table/attendees").get_data(as_text=True)
    assert "Odd one: 550 5.1.1 Ada is gone" in row_of(html, ada)
    assert "Ada is gone" not in row_of(html, ben)
    assert outbox.undeliverable_mails(session, event.id) == {ada.id: [odd]}


def test_a_key_that_looks_like_a_registrations_says_nothing_about_whose_mail_it_is(
        signed_in_client, session, world):
    event, ben = world["event"], world["Ben"]
    lookalike = outbox.queue_mail(session, kind="test", dedup_key=f"registration:{ben.id}:1:confirmed-copy",
                                  recipient="someone@example.org", subject="Not Ben's", body_text="-")
    failed(session, lookalike, "550 not Ben")
    html = signed_in_client(world["organizer"]).get("/events/round-table/attendees").get_data(as_text=True)
    assert "550 not Ben" not in html
    assert outbox.undeliverable_mails(session, event.id) == {}


def test_failed_mails_of_another_event_stay_on_its_own_list(session, world):
    other = create_event(slug="elsewhere")
    ada = world["Ada"]
    mail = outbox.queue_mail(session, kind="test", dedup_key="elsewhere-1", recipient=ada.user.email,
                             subject="Elsewhere", body_text="-", registration_id=ada.id, event_id=other.id)
    failed(session, mail, "550")
    assert outbox.undeliverable_mails(session, world["event"].id) == {}
    assert outbox.undeliverable_mails(session, other.id) == {ada.id: [mail]}


def test_no_code_outside_the_outbox_reads_a_dedup_key_back():
    """Writing a key (`dedup_key=...`) is fine; reading one (`mail.dedup_key`, `OutboxMail.dedup_key`)
    is how the key format became a hidden schema."""
    root = Path(webapp.__file__).parent
    readers = [f"{path.relative_to(root)}:{number}"
               for path in root.rglob("*.py") if path.parent.name != "outbox"
               for number, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"\.dedup_key\b", line)]
    assert readers == []
