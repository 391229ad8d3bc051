"""What every mail about a member's events carries, queued through the real services: a link to
My events (built from SITE_URL like every mailed link) and the time in New York and UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.outbox import mails
from webapp.display import format_mail_when
from webapp.events import changes
from webapp.organize.attendees import send_message
from webapp.organize.models import MessageAudience
from webapp.registrations import services as registrations
from webapp.reminders import services as reminders

MY_EVENTS = "http://meetups.test/my/events"  # SITE_URL of the test apps


def test_time_in_mails_is_new_york_time_with_the_zone_and_utc(app):
    winter = datetime(2027, 1, 14, 23, 0, tzinfo=UTC)
    assert format_mail_when(winter, winter + timedelta(minutes=90)) == \
        "Thursday, January 14, 2027, 6\u202fPM\u20137:30\u202fPM EST (23:00 UTC)"
    summer = datetime(2027, 6, 10, 22, 0, tzinfo=UTC)
    assert format_mail_when(summer, summer + timedelta(hours=1)) == \
        "Thursday, June 10, 2027, 6\u202fPM\u20137\u202fPM EDT (22:00 UTC)"


def test_an_evening_event_names_the_utc_day_when_it_is_another(app):
    late = datetime(2027, 1, 15, 1, 0, tzinfo=UTC)  # 8 PM on Thursday in New York
    assert format_mail_when(late, late + timedelta(hours=1)) == \
        "Thursday, January 14, 2027, 8\u202fPM\u20139\u202fPM EST (Friday 01:00 UTC)"


def test_every_mail_to_members_about_their_events_links_to_my_events(session):
    now = datetime(2027, 1, 10, 15, 0, tzinfo=UTC)
    group = create_group()
    organizer = organizer_of(group)
    event = create_event(group, capacity=1, starts_at=now + timedelta(hours=20))
    first, second, third = create_user(), create_user(), create_user()
    seat = registrations.register(session, event.id, member=first, now=now - timedelta(days=2)).registration
    registrations.register(session, event.id, member=second, now=now - timedelta(days=2))  # waitlisted
    registrations.register(session, event.id, member=third, now=now - timedelta(days=2))  # waitlisted
    registrations.cancel(session, seat, now=now - timedelta(days=1))  # second is promoted
    promoted = registrations.registration_for(session, event.id, second)
    registrations.remove(session, event.id, promoted.id, actor=organizer, now=now - timedelta(hours=12))
    reminders.queue_due_reminders(session, now=now)  # third, promoted in turn, booked early
    send_message(session, event.id, sender=organizer, audience=MessageAudience.CONFIRMED, subject="Hi",
                 body="See you.", client_key="k1", now=now)
    changes.reschedule_event(session, event.id, event.starts_at + timedelta(hours=1),
                             event.ends_at + timedelta(hours=1), now=now)
    changes.cancel_event(session, event.id, now=now)

    sent = [m for m in mails(session) if m.recipient != organizer.email]
    kinds = {m.kind for m in sent}
    assert {"registration_confirmed", "registration_waitlisted", "registration_cancelled",
            "registration_promoted", "registration_removed", "reminder", "event_message", "event_changed",
            "event_cancelled"} <= kinds
    for mail in sent:
        assert f"(My events):\n{MY_EVENTS}\n" in mail.body_text, mail.kind
        assert f'href="{MY_EVENTS}"' in mail.body_html, mail.kind
        assert "UTC)" in mail.body_text, mail.kind
    copy = next(m for m in mails(session, kind="event_message") if m.recipient == organizer.email)
    assert f"http://meetups.test/events/{event.slug}/attendees" in copy.body_text


def test_an_in_person_mail_names_the_venue_once(session):
    """The seed writes addresses that begin with the venue ("METRO, 599 Eleventh Avenue…"): the mail
    says "METRO, 599 Eleventh Avenue", not "METRO, METRO, 599…"."""
    now = datetime(2027, 1, 10, 15, 0, tzinfo=UTC)
    event = create_event(create_group(), starts_at=now + timedelta(days=3), is_online=False,
                         venue_name="METRO", venue_address="METRO, 599 Eleventh Avenue, 8th Floor, New York, NY")
    registrations.register(session, event.id, member=create_user(), now=now)
    (mail,) = mails(session, kind="registration_confirmed")
    assert "Where: METRO, 599 Eleventh Avenue, 8th Floor, New York, NY\n" in mail.body_text
    assert "METRO, METRO" not in mail.body_text and "METRO, METRO" not in mail.body_html
