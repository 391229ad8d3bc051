"""Editing where an event happens (venue, access notes, online or in person, meeting link) tells its
active attendees: one mail each per edit, saying what changed, with an updated .ics (same UID,
SEQUENCE raised). The meeting link goes only to confirmed attendees inside the reminder window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from tests.factories import create_cast, create_event, create_group, create_user
from tests.organize.test_views import all_mails, edit_form, fresh_event, local_input, post
from webapp.db import utcnow
from webapp.events import changes as event_changes
from webapp.extensions import mail as mail_ext
from webapp.outbox import services as outbox
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.tokens import join_url
from webapp.reminders import services as reminders
from webapp.reminders.models import Reminder

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
ZOOM = "https://zoom.us/j/5550003333"
NEW_ZOOM = "https://zoom.us/j/5550004444"


@pytest.fixture
def world(session):
    group = create_group(slug="metadata")
    other = create_group(slug="archives")
    people = create_cast(group, other)
    in_person = create_event(group, slug="in-person", title="Map Night", capacity=2, is_online=False,
                             meeting_url=None, venue_name="Brooklyn Public Library",
                             venue_address="10 Grand Army Plaza", venue_accessibility="Step-free entrance.")
    online = create_event(group, slug="online", title="Zoom Chat", capacity=2, meeting_url=ZOOM)
    session.commit()
    return dict(group=group, in_person=in_person, online=online, **people)


def register_three(session, event, *, now=None):
    """Two confirmed, one waiting (capacity 2), one who cancelled: registered well before."""
    now = now or utcnow() - timedelta(days=3)
    people = [create_user() for _ in range(4)]
    for person in people:
        registrations.register(session, event.id, member=person, now=now)
    registrations.cancel(session, session.scalar(select(Registration).where(Registration.user_id == people[3].id)),
                         now=now)
    session.commit()
    # people[3] left the line, so 0 and 1 hold the seats and 2 waits.
    return dict(confirmed=people[:2], waitlisted=people[2], cancelled=people[3])


def changed_mails(session) -> list[OutboxMail]:
    return [m for m in all_mails(session) if m.kind == "event_changed"]


def vevent(mail):
    return next(c for c in Calendar.from_ical(mail.ics).walk() if c.name == "VEVENT")


def edit(client, event, **changes):
    return post(client, f"/events/{event.slug}/edit", edit_form(event, **{**in_person_form(event), **changes}))


def in_person_form(event) -> dict:
    return dict(meeting_format="online" if event.is_online else "in_person", venue_name=event.venue_name or "",
                venue_address=event.venue_address or "", venue_accessibility=event.venue_accessibility or "")


# --- who may ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["member", "other_organizer"])
def test_others_cannot_change_the_place(signed_in_client, world, session, who):
    register_three(session, world["in_person"])
    response = edit(signed_in_client(world[who]), world["in_person"], venue_name="Somewhere Else")
    assert response.status_code == 403
    assert fresh_event(session, "in-person").venue_name == "Brooklyn Public Library"
    assert changed_mails(session) == []


def test_signed_out_cannot_change_the_place(client, world, session):
    assert edit(client, world["in_person"], venue_name="Somewhere Else").status_code == 403
    assert fresh_event(session, "in-person").venue_name == "Brooklyn Public Library"


# --- what is told, to whom ---------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_a_new_venue_tells_confirmed_and_waitlisted_with_an_updated_calendar_entry(
        signed_in_client, world, session, who):
    event = world["in_person"]
    people = register_three(session, event)
    uid = vevent_uid(event)
    response = edit(signed_in_client(world[who]), event, venue_name="Queens Central Library",
                    venue_address="89-11 Merrick Blvd")
    assert response.status_code == 303
    event = fresh_event(session, "in-person")
    assert event.venue_name == "Queens Central Library" and event.sequence == 1
    mails = changed_mails(session)
    assert sorted(m.recipient for m in mails) == sorted(
        p.email for p in [*people["confirmed"], people["waitlisted"]])
    for mail in mails:
        assert mail.subject == "New place: Map Night"
        assert vevent(mail)["UID"] == uid and vevent(mail)["SEQUENCE"] == 1
        assert "Queens Central Library, 89-11 Merrick Blvd" in vevent(mail)["LOCATION"]
        assert "changed the place of Map Night" in mail.body_text and "changed the place of" in mail.body_html
        assert "Access: Step-free entrance." in mail.body_text
        assert "/join/" not in mail.body_text and mail.reply_to == "org@example.org"
    waiting = next(m for m in mails if m.recipient == people["waitlisted"].email)
    assert "still on the waitlist" in waiting.body_text


def vevent_uid(event) -> str:
    return f"event-{event.id}@meetups.test"


def test_new_accessibility_notes_are_a_change_of_place(signed_in_client, world, session):
    register_three(session, world["in_person"])
    edit(signed_in_client(world["organizer"]), world["in_person"],
         venue_accessibility="Use the Eastern Parkway entrance:\nthe main steps are closed.")
    mails = changed_mails(session)
    assert len(mails) == 3 and {m.subject for m in mails} == {"New place: Map Night"}
    assert "Access: Use the Eastern Parkway entrance:\n        the main steps are closed." in mails[0].body_text
    assert "white-space:pre-line" in mails[0].body_html and "the main steps are closed." in mails[0].body_html


def test_switching_to_online_is_a_change_of_place(signed_in_client, world, session):
    people = register_three(session, world["in_person"])
    edit(signed_in_client(world["organizer"]), world["in_person"], meeting_format="online",
         meeting_url=NEW_ZOOM)
    event = fresh_event(session, "in-person")
    assert event.is_online and event.venue_name is None and event.venue_accessibility is None
    mails = changed_mails(session)
    assert len(mails) == 3 and {m.subject for m in mails} == {"New place: Map Night"}
    for mail in mails:
        assert NEW_ZOOM not in mail.body_text + mail.body_html + mail.ics  # the link is private
        assert "Online (Zoom)" in mail.body_text
    confirmed = next(m for m in mails if m.recipient == people["confirmed"][0].email)
    assert "We'll email you your personal join link the day before" in confirmed.body_text


def test_a_new_meeting_link_far_ahead_tells_everyone_but_gives_the_link_to_nobody(signed_in_client, world, session):
    register_three(session, world["online"])
    edit(signed_in_client(world["organizer"]), world["online"], meeting_url=NEW_ZOOM)
    assert fresh_event(session, "online").meeting_url == NEW_ZOOM
    mails = changed_mails(session)
    assert len(mails) == 3 and {m.subject for m in mails} == {"New meeting link: Zoom Chat"}
    for mail in mails:
        assert NEW_ZOOM not in mail.body_text + mail.body_html + mail.ics and ZOOM not in mail.ics
        assert "/join/" not in mail.body_text + mail.ics


def test_a_new_meeting_link_inside_the_window_goes_to_confirmed_attendees_only(signed_in_client, world, session):
    event = world["online"]
    event.starts_at, event.ends_at = utcnow() + timedelta(hours=5), utcnow() + timedelta(hours=6)
    session.commit()
    people = register_three(session, event)
    edit(signed_in_client(world["organizer"]), fresh_event(session, "online"), meeting_url=NEW_ZOOM)
    mails = {m.recipient: m for m in changed_mails(session)}
    assert len(mails) == 3
    for person in people["confirmed"]:
        mail = mails[person.email]
        registration = session.scalar(select(Registration).where(Registration.user_id == person.id))
        join = join_url(registration)
        assert join in mail.body_text and join in mail.body_html and vevent(mail)["LOCATION"] == join
        assert "It takes you to the new meeting." in mail.body_text
        assert NEW_ZOOM not in mail.body_text + mail.body_html + mail.ics
    waiting = mails[people["waitlisted"].email]
    assert "/join/" not in waiting.body_text + waiting.body_html + waiting.ics
    assert NEW_ZOOM not in waiting.body_text + waiting.ics
    # The change mail was their reminder for this version of the event: the sweep adds none.
    assert reminders.queue_due_reminders(session, now=utcnow()) == []
    session.expire_all()
    assert {r.reason for r in session.scalars(select(Reminder))} == {"event_changed"}


def test_time_and_place_at_once_is_one_mail_each_naming_both(signed_in_client, world, session):
    event = world["in_person"]
    register_three(session, event)
    new_start = event.starts_at + timedelta(days=2)
    edit(signed_in_client(world["organizer"]), event, starts_at=local_input(new_start),
         ends_at=local_input(new_start + timedelta(hours=1)), venue_name="Queens Central Library")
    event = fresh_event(session, "in-person")
    assert event.sequence == 1
    mails = changed_mails(session)
    assert len(mails) == 3 and {m.subject for m in mails} == {"New time and place: Map Night"}
    assert all("changed the time and the place of Map Night" in m.body_text for m in mails)
    assert all(vevent(m)["SEQUENCE"] == 1 and vevent(m).decoded("DTSTART") == event.starts_at for m in mails)


def test_editing_only_title_and_description_tells_nobody(signed_in_client, world, session):
    register_three(session, world["in_person"])
    edit(signed_in_client(world["organizer"]), world["in_person"], title="Map Night (renamed)",
         description="New words.")
    event = fresh_event(session, "in-person")
    assert event.title == "Map Night (renamed)" and event.sequence == 0
    assert changed_mails(session) == []


def test_a_second_edit_sends_a_second_mail_and_a_repeated_post_none(signed_in_client, world, session):
    register_three(session, world["in_person"])
    client = signed_in_client(world["organizer"])
    edit(client, world["in_person"], venue_name="Queens Central Library")
    edit(client, fresh_event(session, "in-person"), venue_name="Queens Central Library")  # the same again
    assert len(changed_mails(session)) == 3
    edit(client, fresh_event(session, "in-person"), venue_name="Flushing Library")
    mails = changed_mails(session)
    assert len(mails) == 6 and len({m.dedup_key for m in mails}) == 6
    assert fresh_event(session, "in-person").sequence == 2


def test_a_place_change_of_an_event_that_is_over_is_refused(signed_in_client, world, session):
    event = world["in_person"]
    event.starts_at, event.ends_at = utcnow() - timedelta(hours=3), utcnow() - timedelta(hours=2)
    session.commit()
    response = edit(signed_in_client(world["organizer"]), fresh_event(session, "in-person"),
                    venue_name="Too Late Library")
    assert response.status_code == 422 and "This event is over" in response.get_data(as_text=True)
    assert fresh_event(session, "in-person").venue_name == "Brooklyn Public Library"


# --- delivery -----------------------------------------------------------------------------------------

@pytest.fixture
def smtp(app, smtp_sink):
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port)
    mail_ext.init_app(app)
    return smtp_sink


def send_all(session) -> list[MailState | None]:
    return [outbox.send_outbox_mail(session, mail.id) for mail in all_mails(session)
            if mail.kind == "event_changed"]


def test_place_change_mails_reach_the_smtp_server_once_each_with_the_calendar_file(
        signed_in_client, world, session, smtp):
    people = register_three(session, world["in_person"])
    edit(signed_in_client(world["organizer"]), world["in_person"], venue_name="Queens Central Library")
    assert send_all(session) == [MailState.SENT] * 3
    assert send_all(session) == [None] * 3  # a redelivered task sends nothing
    messages = smtp.wait_for(3)
    assert len(messages) == 3
    assert sorted(m["To"] for m in messages) == sorted(p.email for p in [*people["confirmed"], people["waitlisted"]])
    for message in messages:
        assert message["Subject"] == "New place: Map Night"
        [ics] = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
        entry = next(c for c in Calendar.from_ical(ics.get_content()).walk() if c.name == "VEVENT")
        assert entry["SEQUENCE"] == 1 and "Queens Central Library" in entry["LOCATION"]
        assert "changed the place" in message.get_body(("plain",)).get_content()


def test_a_change_superseded_before_it_was_sent_is_folded_into_the_next_mail(
        signed_in_client, world, session, smtp):
    event = world["in_person"]
    people = register_three(session, event)
    client = signed_in_client(world["organizer"])
    new_start = event.starts_at + timedelta(days=1)
    edit(client, event, starts_at=local_input(new_start), ends_at=local_input(new_start + timedelta(hours=1)))
    edit(client, fresh_event(session, "in-person"), venue_name="Queens Central Library")  # before any was sent
    states = send_all(session)
    assert states.count(MailState.DROPPED) == 3 and states.count(MailState.SENT) == 3
    messages = smtp.wait_for(3)
    assert len(messages) == 3 and len({m["To"] for m in messages}) == 3
    assert {m["Subject"] for m in messages} == {"New time and place: Map Night"}
    assert people["cancelled"].email not in {m["To"] for m in messages}


def test_a_cancelled_registration_is_not_told(signed_in_client, world, session):
    people = register_three(session, world["in_person"])
    edit(signed_in_client(world["organizer"]), world["in_person"], venue_name="Queens Central Library")
    assert people["cancelled"].email not in {m.recipient for m in changed_mails(session)}
    assert session.scalar(select(Registration.status).where(Registration.user_id == people["cancelled"].id)) \
        == RegistrationStatus.CANCELLED


# --- the service's words -------------------------------------------------------------------------------

@pytest.mark.parametrize("changes,subject", [
    ({"time"}, "New time: {title}"),
    ({"place"}, "New place: {title}"),
    ({"link"}, "New meeting link: {title}"),
    ({"time", "place"}, "New time and place: {title}"),
    ({"link", "time", "place"}, "New time, place and meeting link: {title}"),
])
def test_change_subjects(changes, subject):
    assert event_changes.change_subject(changes) == subject


@pytest.mark.parametrize("before,after,expected", [
    (event_changes.EventPlace(True, ZOOM), event_changes.EventPlace(True, ZOOM), set()),
    (event_changes.EventPlace(True, ZOOM), event_changes.EventPlace(True, NEW_ZOOM), {"link"}),
    (event_changes.EventPlace(True, None), event_changes.EventPlace(True, ZOOM), {"link"}),
    (event_changes.EventPlace(True, ZOOM), event_changes.EventPlace(False, None, "Library"), {"place"}),
    (event_changes.EventPlace(False, None, "Library"), event_changes.EventPlace(False, None, "Library", "1 Main St"),
     {"place"}),
    (event_changes.EventPlace(False, None, "Library"), event_changes.EventPlace(False, None, "Library", None, "Ramp"),
     {"place"}),
    # Leftovers of the other format are not a change: an online event has no venue.
    (event_changes.EventPlace(True, ZOOM, "Old venue"), event_changes.EventPlace(True, ZOOM), set()),
    (event_changes.EventPlace(False, ZOOM, "Library"), event_changes.EventPlace(False, "", "Library", ""), set()),
])
def test_place_changes(before, after, expected):
    assert event_changes.place_changes(before, after) == expected


def test_the_change_service_refuses_drafts_and_ignores_no_change(session, world):
    from webapp.events.models import EventStatus

    draft = create_event(world["group"], status=EventStatus.DRAFT)
    with pytest.raises(event_changes.EventChangeError):
        event_changes.change_event(session, draft.id, place=event_changes.EventPlace(True, NEW_ZOOM), now=utcnow())
    session.rollback()
    online = world["online"]
    assert event_changes.change_event(session, online.id, place=event_changes.EventPlace(True, ZOOM),
                                      now=utcnow()) == []
    assert fresh_event(session, "online").sequence == 0
