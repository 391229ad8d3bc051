"""The reminder's subject names the day and time as the reader counts them in New York:
"Tomorrow 6:00 PM EST: PLSN Book Club", decided by display.format_start_from_now with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import create_event, create_user
from tests.support.outbox import as_sent, mails
from webapp.display import format_start_from_now
from webapp.registrations import services as registrations
from webapp.reminders import services as reminders


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("starts_at", "now", "expected"), [
    # Winter (EST, UTC-5): written the evening before.
    (utc(2027, 1, 14, 23, 0), utc(2027, 1, 13, 23, 0), "Tomorrow 6:00 PM EST"),
    # Summer (EDT, UTC-4): written the same morning.
    (utc(2027, 6, 10, 22, 0), utc(2027, 6, 10, 13, 0), "Today 6:00 PM EDT"),
    (utc(2027, 6, 11, 22, 0), utc(2027, 6, 10, 22, 0), "Tomorrow 6:00 PM EDT"),
    # 7:30 PM in New York is already the next day in UTC: still today for the reader.
    (utc(2027, 1, 15, 0, 30), utc(2027, 1, 14, 20, 0), "Today 7:30 PM EST"),
    # Written at 11:30 PM New York time, which is the event's own UTC day: still tomorrow.
    (utc(2027, 1, 14, 23, 0), utc(2027, 1, 14, 4, 30), "Tomorrow 6:00 PM EST"),
    # A late event, written just after midnight New York time.
    (utc(2027, 1, 15, 4, 30), utc(2027, 1, 14, 5, 30), "Today 11:30 PM EST"),
    # The clocks go forward (March 14, 2027) and back (November 7, 2027) overnight.
    (utc(2027, 3, 14, 22, 0), utc(2027, 3, 13, 23, 0), "Tomorrow 6:00 PM EDT"),
    (utc(2027, 11, 7, 23, 0), utc(2027, 11, 6, 22, 0), "Tomorrow 6:00 PM EST"),
    # Morning, with minutes.
    (utc(2027, 1, 14, 14, 5), utc(2027, 1, 13, 16, 0), "Tomorrow 9:05 AM EST"),
    (utc(2027, 1, 14, 17, 0), utc(2027, 1, 14, 12, 0), "Today 12:00 PM EST"),
    # A longer reminder window: further days are named.
    (utc(2027, 1, 16, 23, 0), utc(2027, 1, 14, 12, 0), "Saturday, Jan 16, 6:00 PM EST"),
])
def test_the_start_is_named_by_its_day_in_new_york(app, starts_at, now, expected):
    assert format_start_from_now(starts_at, now=now) == expected


def test_the_sweeps_reminder_names_the_day_and_time_in_its_subject(session):
    now = utc(2027, 1, 13, 23, 0)  # 6 PM EST, the evening before
    event = create_event(title="PLSN Book Club", starts_at=utc(2027, 1, 14, 23, 0),
                         ends_at=utc(2027, 1, 15, 0, 30))
    member = create_user()
    registrations.register(session, event.id, member=member, now=now - timedelta(days=3))

    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=now))

    assert mail.subject == "Tomorrow 6:00 PM EST: PLSN Book Club"
    assert "starts soon" not in mail.subject
    # The same time in the body, in New York time and UTC.
    assert "Thursday, January 14, 2027, 6\u202fPM\u20137:30\u202fPM EST (23:00 UTC)" in mail.body_text
    assert mails(session, kind="reminder") == [mail]


def test_a_reminder_written_the_same_day_says_today(session):
    now = utc(2027, 6, 10, 13, 0)  # 9 AM EDT
    event = create_event(title="PLSN Book Club", starts_at=utc(2027, 6, 10, 22, 0))
    registrations.register(session, event.id, member=create_user(), now=now - timedelta(days=3))

    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=now))

    assert mail.subject == "Today 6:00 PM EDT: PLSN Book Club"
