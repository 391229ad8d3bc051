"""The reminder sweep, the send-time re-check, moved and cancelled events, daylight saving."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from tests.factories import create_event, create_user
from tests.support.outbox import as_sent, mails
from webapp.db import utcnow
from webapp.display import format_start_from_now
from webapp.events import changes as event_changes
from webapp.events.models import EventStatus
from webapp.outbox import services as outbox
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations
from webapp.registrations.tokens import join_url
from webapp.reminders import services as reminders
from webapp.reminders.models import Reminder

ZOOM = "https://zoom.us/j/5550001111"


def register(session, event, member=None, *, now):
    member = member or create_user()
    return registrations.register(session, event.id, member=member, now=now).registration


def reminder_mails(session) -> list[OutboxMail]:
    return mails(session, kind="reminder")


def vevent(mail: OutboxMail):
    return next(c for c in Calendar.from_ical(as_sent(mail).ics).walk() if c.name == "VEVENT")


@pytest.fixture
def now():
    return utcnow()


def test_sweep_reminds_each_confirmed_attendee_once_and_nobody_else(session, now):
    booked_early = now - timedelta(days=3)
    soon = create_event(capacity=1, meeting_url=ZOOM, starts_at=now + timedelta(hours=20))
    later = create_event(meeting_url=ZOOM, starts_at=now + timedelta(days=3))
    cancelled = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=5))
    confirmed = register(session, soon, now=booked_early)
    register(session, soon, now=booked_early)  # waitlisted: the event is full
    leaver = register(session, later, now=booked_early)
    register(session, cancelled, now=booked_early)
    cancelled.status = EventStatus.CANCELLED
    session.flush()
    registrations.cancel(session, leaver, now=booked_early)

    queued = reminders.queue_due_reminders(session, now=now)
    session.commit()

    assert [m.recipient for m in queued] == [confirmed.user.email]
    assert reminders.queue_due_reminders(session, now=now) == []  # a re-run sweep adds nothing
    assert reminders.queue_due_reminders(session, now=now + timedelta(hours=3)) == []


def test_a_scheduler_that_was_down_misses_nobody(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(minutes=40))
    register(session, event, now=now - timedelta(days=5))
    # No sweep ran for the last 23 hours: the next one still finds the attendee.
    assert len(reminders.queue_due_reminders(session, now=now)) == 1


def test_registering_or_promotion_inside_the_window_gets_no_separate_reminder(session, now):
    event = create_event(capacity=1, meeting_url=ZOOM, starts_at=now + timedelta(hours=6))
    holder = register(session, event, now=now - timedelta(days=2))
    waiting = register(session, event, now=now - timedelta(days=2))
    assert len(reminders.queue_due_reminders(session, now=now)) == 1  # the holder, booked early
    outcome = registrations.cancel(session, holder, now=now + timedelta(minutes=1))
    assert outcome.promoted == [waiting]  # promoted inside the window: that mail has the link
    newcomer_event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=6))
    register(session, newcomer_event, now=now)
    assert reminders.queue_due_reminders(session, now=now + timedelta(minutes=2)) == []


def test_the_reminder_carries_join_link_new_york_time_ics_and_cancel_link(session, now):
    starts = now + timedelta(hours=10)
    event = create_event(meeting_url=ZOOM, starts_at=starts, title="Linked Data Lunch")
    registration = register(session, event, now=now - timedelta(days=1))
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=now))

    assert mail.subject == f"{format_start_from_now(starts, now=now)}: Linked Data Lunch"  # see test_subject.py
    join = join_url(registration)
    assert join.startswith("http://meetups.test/join/")
    for body in (mail.body_text, mail.body_html):
        assert join in body and ZOOM not in body  # a forwarded reminder admits nobody
        assert re.search(r"\b(EST|EDT)\b", body)
        assert "/r/" in body and "free your seat" in body.lower()
    assert vevent(mail)["LOCATION"] == join and ZOOM not in mail.ics
    assert mail.reply_to is None  # organizers have no addresses yet


@pytest.mark.parametrize(
    ("starts_at", "expected"),
    [
        # Spring forward: 2 AM EST becomes 3 AM EDT on 2027-03-14.
        (datetime(2027, 3, 14, 22, 0, tzinfo=UTC), "Sunday, March 14, 2027, 6 PM\u20137 PM EDT"),
        (datetime(2027, 3, 14, 13, 30, tzinfo=UTC), "Sunday, March 14, 2027, 9:30 AM\u201310:30 AM EDT"),
        # Fall back: 2 AM EDT becomes 1 AM EST on 2027-11-07.
        (datetime(2027, 11, 7, 23, 0, tzinfo=UTC), "Sunday, November 7, 2027, 6 PM\u20137 PM EST"),
        (datetime(2027, 11, 7, 14, 30, tzinfo=UTC), "Sunday, November 7, 2027, 9:30 AM\u201310:30 AM EST"),
    ],
)
def test_reminders_on_daylight_saving_days_show_the_right_local_time(session, starts_at, expected):
    event = create_event(meeting_url=ZOOM, starts_at=starts_at)
    # Swept the evening before, when the clocks still show the other offset.
    register(session, event, now=starts_at - timedelta(days=5))
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=starts_at - timedelta(hours=20)))
    assert expected.replace("\u202f", " ") in mail.body_text.replace("\u202f", " ")
    assert vevent(mail).decoded("DTSTART") == starts_at


def test_send_time_recheck_drops_the_reminder_of_a_member_who_cancelled(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=10))
    registration = register(session, event, now=now - timedelta(days=1))
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=now))
    session.commit()
    registrations.cancel(session, registration, now=now)
    session.commit()
    assert outbox.send_outbox_mail(session, mail.id, now=now) is MailState.DROPPED
    assert "no longer confirmed" in session.get(OutboxMail, mail.id).last_error


def test_send_time_recheck_drops_the_reminder_of_a_cancelled_event_and_tells_attendees(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=10))
    register(session, event, now=now - timedelta(days=1))
    waiting_member = create_user()
    event.capacity = 1
    session.flush()
    register(session, event, waiting_member, now=now - timedelta(days=1))
    [reminder] = reminders.queue_due_reminders(session, now=now)
    session.commit()

    told = event_changes.cancel_event(session, event.id, now=now)
    session.commit()

    assert len(told) == 2 and {m.kind for m in told} == {"event_cancelled"}
    assert vevent(told[0])["STATUS"] == "CANCELLED" and vevent(told[0])["SEQUENCE"] == 1
    assert outbox.send_outbox_mail(session, reminder.id, now=now) is MailState.DROPPED
    assert reminders.queue_due_reminders(session, now=now) == []
    assert event_changes.cancel_event(session, event.id, now=now) == []  # twice is harmless


def test_a_moved_event_tells_attendees_and_the_reminder_follows_the_new_time(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=10))
    registration = register(session, event, now=now - timedelta(days=2))
    [old_reminder] = reminders.queue_due_reminders(session, now=now)
    session.commit()
    uid = vevent(old_reminder)["UID"]
    new_start = (now + timedelta(days=3)).replace(microsecond=0)

    told = event_changes.reschedule_event(session, event.id, new_start, new_start + timedelta(hours=2), now=now)
    session.commit()

    [change] = told
    assert change.kind == "event_changed" and change.recipient == registration.user.email
    assert vevent(change)["UID"] == uid and vevent(change)["SEQUENCE"] == 1
    assert vevent(change).decoded("DTSTART") == new_start
    assert join_url(registration) not in change.body_text  # not near any more
    assert outbox.send_outbox_mail(session, old_reminder.id, now=now) is MailState.DROPPED
    assert reminders.queue_due_reminders(session, now=now) == []
    [new_reminder] = reminders.queue_due_reminders(session, now=new_start - timedelta(hours=23))
    assert vevent(new_reminder)["SEQUENCE"] == 1 and vevent(new_reminder).decoded("DTSTART") == new_start


def test_an_event_moved_inside_the_window_carries_the_link_and_needs_no_new_reminder(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(days=3))
    registration = register(session, event, now=now - timedelta(days=2))
    new_start = now + timedelta(hours=5)
    [change] = event_changes.reschedule_event(session, event.id, new_start, new_start + timedelta(hours=1), now=now)
    assert join_url(registration) in change.body_text
    assert reminders.queue_due_reminders(session, now=now) == []
    assert session.scalar(select(Reminder.reason)) == "event_changed"


def test_moving_refuses_nonsense(session, now):
    event = create_event(starts_at=now + timedelta(days=3))
    with pytest.raises(event_changes.EventChangeError):
        event_changes.reschedule_event(session, event.id, now + timedelta(days=4), now + timedelta(days=4), now=now)
    with pytest.raises(event_changes.EventChangeError):
        event_changes.reschedule_event(session, event.id, now - timedelta(hours=1), now, now=now)
    assert event_changes.reschedule_event(session, event.id, event.starts_at, event.ends_at, now=now) == []


def test_a_second_concurrent_sweep_queues_nothing_twice(app, session, now, db_kind):
    from sqlalchemy.orm import Session

    from webapp.db import db

    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=3))
    for _ in range(3):
        register(session, event, now=now - timedelta(days=1))
    session.commit()
    with Session(db.engine) as first:
        assert len(reminders.queue_due_reminders(first, now=now)) == 3
        first.commit()
    with Session(db.engine) as second:  # saw the same due list a moment earlier
        for registration in second.scalars(select(registrations.Registration)):
            assert reminders.queue_reminder(second, registration, now=now) is None
        second.commit()
    assert len(reminder_mails(session)) == 3


def test_a_sweep_hands_its_reminders_to_the_workers_as_one_batch_after_commit(app, session, now, monkeypatch):
    sent = []
    monkeypatch.setattr(app.extensions["celery"], "send_task", lambda name, args: sent.append((name, args)))
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=3))
    for _ in range(3):
        register(session, event, now=now - timedelta(days=1))
    session.commit()
    sent.clear()
    mails = reminders.queue_due_reminders(session, now=now)
    assert sent == []  # nothing leaves before the commit (savepoints are not commits)
    session.commit()
    assert sent == [("tasks.mail.send_outbox_batch", [[m.id for m in mails]])]


def test_members_confirmed_inside_the_window_never_block_the_sweep(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=4))
    for _ in range(3):
        register(session, event, now=now - timedelta(hours=1))  # inside the window: link already mailed
    early = [register(session, event, now=now - timedelta(days=2)) for _ in range(2)]
    queued = []
    for _ in range(5):  # small chunks, as the task does with bigger ones
        queued += reminders.queue_due_reminders(session, now=now, limit=2)
    assert sorted(m.recipient for m in queued) == sorted(r.user.email for r in early)
    assert reminders.due_reminders(session, now=now) == []
    assert Counter(session.scalars(select(Reminder.reason))) == Counter({"confirmation": 3, "reminder": 2})


def test_organizers_can_see_which_attendees_mail_bounced_and_why(session, now):
    event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=10))
    bounced = register(session, event, now=now - timedelta(days=1))
    fine = register(session, event, now=now - timedelta(days=1))
    other_event = create_event(meeting_url=ZOOM, starts_at=now + timedelta(hours=10))
    elsewhere = register(session, other_event, now=now - timedelta(days=1))
    mails = {m.recipient: m for m in reminders.queue_due_reminders(session, now=now)}
    for registration in (bounced, elsewhere):
        mail = mails[registration.user.email]
        mail.state, mail.last_error = MailState.FAILED, f"{mail.recipient}: 550 5.1.1 No such user"
    session.flush()

    problems = outbox.undeliverable_mails(session, event.id)

    assert list(problems) == [bounced.id] and fine.id not in problems
    assert "550 5.1.1 No such user" in problems[bounced.id][0].last_error
