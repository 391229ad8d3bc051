"""The reminder of a Zoom meeting the site made carries the attendee's own Zoom link; it waits for it
a bounded number of times, then goes with the /join/ link and a note."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.factories import create_event, create_group, create_user
from tests.support.outbox import as_sent
from webapp.db import utcnow
from webapp.events.models import EventStatus
from webapp.organize.services import publish_event
from webapp.outbox import services as outbox
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations
from webapp.reminders import services as reminders
from webapp.zoom import services as zoom
from webapp.zoom.models import IntentKind, ZoomIntent


def zoom_seat_tomorrow(session):
    now = utcnow()
    event = create_event(create_group(), meeting_url=None, is_zoom_meeting=True, status=EventStatus.DRAFT,
                         capacity=5, starts_at=now + timedelta(hours=20))
    publish_event(session, event.id, actor=None, now=now - timedelta(days=3))
    registration = registrations.register(session, event.id, member=create_user(), now=now - timedelta(days=2)
                                          ).registration
    session.execute(OutboxMail.__table__.delete())  # the confirmation went out days ago
    session.commit()
    return event, registration


def the_reminder(session) -> OutboxMail:
    session.expire_all()
    return as_sent(session.scalar(select(OutboxMail).where(OutboxMail.kind == "reminder")))


def send(session, mail_id, now):
    return outbox.send_outbox_mail(session, mail_id, now=now)


def test_the_reminder_carries_the_attendees_own_zoom_link(app, session, fake_zoom):
    event, registration = zoom_seat_tomorrow(session)
    zoom.sweep(session)
    session.refresh(registration)
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=utcnow()))
    session.commit()
    assert send(session, mail.id, utcnow()) == MailState.SENT
    sent = the_reminder(session)
    assert registration.zoom_join_url in sent.body_text and registration.zoom_join_url in sent.body_html
    assert "Join on Zoom" in sent.body_text and "/join/" not in sent.body_text
    assert "fake-pass" not in sent.body_text


def test_the_reminder_waits_for_the_zoom_link_then_goes_with_the_join_link_and_a_note(app, session, fake_zoom):
    app.config.update(ZOOM_REMINDER_WAITS=2, ZOOM_REMINDER_WAIT_SECONDS=60)
    event, registration = zoom_seat_tomorrow(session)
    fake_zoom.down = True  # Zoom is down: the registrant can't be added
    zoom.sweep(session)
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=utcnow()))
    session.commit()
    now = utcnow()
    assert send(session, mail.id, now) == MailState.RETRYING
    waiting = the_reminder(session)
    assert waiting.next_attempt_at >= now + timedelta(seconds=60) and "Zoom link" in waiting.last_error
    assert send(session, mail.id, now + timedelta(minutes=2)) == MailState.RETRYING
    assert send(session, mail.id, now + timedelta(minutes=4)) == MailState.SENT  # waited twice: it goes
    sent = the_reminder(session)
    assert "/join/" in sent.body_text and "hasn’t finished registering you" in sent.body_text
    assert "hasn’t finished registering you" in sent.body_html
    assert [i.kind for i in session.scalars(select(ZoomIntent))] == [IntentKind.CREATE_MEETING,
                                                                    IntentKind.ADD_REGISTRANT]


def test_a_zoom_link_that_arrives_while_the_reminder_waits_is_the_one_it_carries(app, session, fake_zoom):
    event, registration = zoom_seat_tomorrow(session)
    fake_zoom.down = True
    zoom.sweep(session)
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=utcnow()))
    session.commit()
    now = utcnow()
    assert send(session, mail.id, now) == MailState.RETRYING
    fake_zoom.down = False
    app.config.update(ZOOM_RETRY_BASE_SECONDS=1, ZOOM_RETRY_MAX_SECONDS=1)
    zoom.sweep(session, now=now + timedelta(minutes=10))
    assert send(session, mail.id, now + timedelta(minutes=10)) == MailState.SENT
    session.refresh(registration)
    assert registration.zoom_join_url and registration.zoom_join_url in the_reminder(session).body_text


def test_a_pasted_link_reminder_is_unchanged(app, session):
    now = utcnow()
    event = create_event(meeting_url="https://zoom.us/j/5550001111", starts_at=now + timedelta(hours=20))
    registrations.register(session, event.id, member=create_user(), now=now - timedelta(days=2))
    session.commit()
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=now))
    session.commit()
    body = the_reminder(session).body_text
    assert send(session, mail.id, now) == MailState.SENT
    assert the_reminder(session).body_text == body and "/join/" in body
