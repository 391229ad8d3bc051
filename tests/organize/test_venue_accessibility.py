"""Venue accessibility notes: typed by organizers of in-person events, checked, shown with the venue on
the event page and in every mail that shows the venue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import create_event, create_group, create_user, organizer_of
from tests.organize.test_views import edit_form, event_form, fresh_event, post
from tests.support.html import parse
from tests.support.outbox import as_sent
from webapp.db import utcnow
from webapp.events.models import Event
from webapp.outbox.models import OutboxMail
from webapp.registrations import services as registrations
from webapp.reminders import services as reminders

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
NOTES = "Step-free entrance on Flatbush Ave.\nAccessible restrooms on every floor."


@pytest.fixture
def world(session):
    group = create_group(slug="metadata")
    organizer = organizer_of(group, email="org@example.org")
    event = create_event(group, slug="map-night", title="Map Night", is_online=False, meeting_url=None,
                         venue_name="Brooklyn Public Library", venue_address="10 Grand Army Plaza",
                         venue_accessibility=NOTES)
    session.commit()
    return dict(group=group, organizer=organizer, event=event)


def in_person(**changes) -> dict:
    return event_form(meeting_format="in_person", venue_name="Brooklyn Public Library", meeting_url="", **changes)


def test_notes_are_saved_with_an_in_person_event(signed_in_client, world, session):
    response = post(signed_in_client(world["organizer"]), "/groups/metadata/events/new",
                    in_person(venue_accessibility="  Ramp at the side door.\r\nQuiet room on 2.  "))
    assert response.status_code == 303
    assert fresh_event(session, "linked-data-round-table").venue_accessibility == \
        "Ramp at the side door.\nQuiet room on 2."


def test_an_online_event_keeps_no_venue_notes(signed_in_client, world, session):
    post(signed_in_client(world["organizer"]), "/groups/metadata/events/new",
         event_form(venue_accessibility="Ramp at the side door."))
    assert fresh_event(session, "linked-data-round-table").venue_accessibility is None


def test_the_form_shows_the_field_with_a_hint(signed_in_client, world):
    page = signed_in_client(world["organizer"]).get("/events/map-night/edit").get_data(as_text=True)
    assert 'id="event-venue-accessibility"' in page and 'aria-describedby="event-venue-accessibility-hint"' in page
    assert "Step-free entrance on Flatbush Ave." in page


@pytest.mark.parametrize("notes,message", [
    ("x" * 1001, "The venue’s accessibility can be at most 1,000 characters"),
    ("<b>Ramp</b>", "Please write plain text"),
    ("Ramp\x85please", "Please remove special control characters"),
])
@pytest.mark.parametrize("where", ["new", "edit"])
def test_bad_notes_are_refused_next_to_the_field_and_kept(signed_in_client, world, session, notes, message, where):
    client = signed_in_client(world["organizer"])
    if where == "new":
        response = post(client, "/groups/metadata/events/new", in_person(venue_accessibility=notes))
    else:
        response = post(client, "/events/map-night/edit", edit_form(
            world["event"], meeting_format="in_person", venue_name="Brooklyn Public Library",
            venue_accessibility=notes, title="Changed"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="event-venue-accessibility-error"' in html and message in html
    assert 'aria-invalid="true"' in html
    assert ("x" * 1001 in html) if len(notes) > 1000 else ("&lt;b&gt;Ramp&lt;/b&gt;" in html or "Ramp" in html)
    session.expire_all()
    assert session.scalar(select(Event).where(Event.slug == "linked-data-round-table")) is None
    event = fresh_event(session, "map-night")
    assert event.venue_accessibility == NOTES and event.title == "Map Night"


def test_the_event_page_shows_the_notes_with_the_venue(client, world):
    html = client.get("/events/map-night").get_data(as_text=True)
    facts = str(parse(html).find(attrs={"aria-label": "When and where"}))
    assert "<dt>Accessibility</dt>" in facts and 'class="keep-lines"' in facts
    assert "Step-free entrance on Flatbush Ave.\nAccessible restrooms on every floor." in facts


def test_the_notes_are_escaped(client, world, session):
    world["event"].venue_accessibility = "<script>alert(1)</script>"
    session.commit()
    html = client.get("/events/map-night").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_the_confirmation_mail_and_calendar_file_carry_the_notes(signed_in_client, world, session):
    member = create_user(email="member@example.org")
    session.commit()
    assert post(signed_in_client(member), "/events/map-night/register").status_code == 303
    session.expire_all()
    [mail] = map(as_sent, session.scalars(select(OutboxMail).where(OutboxMail.kind == "registration_confirmed")))
    assert "Access: Step-free entrance on Flatbush Ave.\n        Accessible restrooms on every floor." \
        in mail.body_text
    assert "Accessible restrooms on every floor." in mail.body_html and "white-space:pre-line" in mail.body_html
    assert "Access: Step-free entrance" in mail.ics.replace("\r\n ", "")


def test_the_reminder_carries_the_notes(world, session):
    event = world["event"]
    event.starts_at, event.ends_at = utcnow() + timedelta(hours=5), utcnow() + timedelta(hours=6)
    registrations.register(session, event.id, member=create_user(), now=utcnow() - timedelta(days=2))
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=utcnow()))
    assert "Access: Step-free entrance on Flatbush Ave." in mail.body_text
    assert "Accessible restrooms on every floor." in mail.body_html


def test_online_events_show_no_access_line(world, session):
    event = create_event(world["group"], venue_accessibility="Stale note", starts_at=utcnow() + timedelta(hours=5))
    registrations.register(session, event.id, member=create_user(), now=utcnow() - timedelta(days=2))
    [mail] = map(as_sent, reminders.queue_due_reminders(session, now=utcnow()))
    assert "Access:" not in mail.body_text and "Stale note" not in mail.body_html
