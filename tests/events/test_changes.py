"""Event changes find their earlier mails by what the mails record, never by their dedup keys."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import create_event, create_user
from webapp.db import utcnow
from webapp.events import changes as event_changes
from webapp.events.models import EventChangeMail
from webapp.outbox import services as outbox
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations

ZOOM = "https://zoom.us/j/5550001111"
NEW_ZOOM = "https://zoom.us/j/5550002222"


@pytest.fixture
def now():
    return utcnow()


def register(session, event, *, now):
    return registrations.register(session, event.id, member=create_user(), now=now).registration


def move(session, event, *, days, now):
    start = (event.starts_at + timedelta(days=days)).replace(microsecond=0)
    return event_changes.reschedule_event(session, event.id, start, start + timedelta(hours=1), now=now)


def test_a_change_mail_records_whom_it_told_about_which_version_and_what_changed(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(days=5))
    registration = register(session, event, now=now - timedelta(days=1))
    [mail] = move(session, event, days=1, now=now)
    record = session.get(EventChangeMail, mail.id)
    assert (record.registration_id, record.registration_generation, record.event_sequence, record.changes) \
        == (registration.id, registration.generation, 1, "time")
    assert (mail.registration_id, mail.event_id) == (registration.id, event.id)


def test_a_superseded_change_is_dropped_and_folded_into_the_next_mail_whatever_its_dedup_key(session, now):
    """The key format is no schema: an earlier mail whose key says nothing is still found."""
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(days=5))
    register(session, event, now=now - timedelta(days=1))
    [first] = move(session, event, days=1, now=now)
    first.dedup_key = "opaque-key-from-some-later-format"
    session.flush()
    [second] = event_changes.change_event(session, event.id, place=event_changes.EventPlace(True, NEW_ZOOM),
                                          now=now)
    session.commit()
    assert second.subject.startswith("New time and meeting link: ")
    assert outbox.send_outbox_mail(session, first.id, now=now) is MailState.DROPPED
    assert "superseded" in session.get(OutboxMail, first.id).last_error
    assert outbox.send_outbox_mail(session, second.id, now=now) is MailState.SENT


def test_a_change_mail_of_a_registration_that_is_gone_is_dropped(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(days=5))
    registration = register(session, event, now=now - timedelta(days=1))
    [mail] = move(session, event, days=1, now=now)
    session.delete(session.get(EventChangeMail, mail.id))  # as the registration's delete cascades
    session.delete(registration)
    session.commit()
    assert outbox.send_outbox_mail(session, mail.id, now=now) is MailState.DROPPED
    assert "registration is gone" in session.get(OutboxMail, mail.id).last_error


def test_earlier_news_of_a_previous_registration_is_not_repeated(session, now):
    """Who registered again since an unsent change mail was told the event as it is then."""
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(days=5))
    registration = register(session, event, now=now - timedelta(days=1))
    move(session, event, days=1, now=now)
    registrations.cancel(session, registration, now=now)
    registrations.register(session, event.id, member=registration.user, now=now)
    [mail] = event_changes.change_event(session, event.id, place=event_changes.EventPlace(True, NEW_ZOOM), now=now)
    assert mail.subject.startswith("New meeting link: ")
    assert [r.changes for r in session.scalars(select(EventChangeMail).order_by(EventChangeMail.outbox_mail_id))] \
        == ["time", "link"]


def test_the_app_registers_the_send_time_rechecks_whatever_a_process_imports():
    """A worker imports only its tasks' modules: create_app itself must load every re-check."""
    code = ("from webapp import create_app\n"
            "from webapp.outbox.services import _RECHECKS\n"
            "create_app({'TESTING': True, 'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'REDIS_URL': None})\n"
            "print(' '.join(sorted(_RECHECKS)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["event_changed", "reminder", "slot_approved", "still_coming"]
