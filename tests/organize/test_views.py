"""Organizers (and admins) create, edit and cancel their group's events and see attendees, over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_for
from tests.conftest import post_form as post
from tests.factories import create_cast, create_event, create_group, create_user
from tests.support.html import section_of, text
from tests.support.outbox import mails as all_mails
from webapp.db import utcnow
from webapp.events.models import Event, EventStatus
from webapp.groups.models import GroupOrganizer
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.spreadsheets import spreadsheet_safe

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
NY = ZoneInfo("America/New_York")


def local_input(dt) -> str:
    return dt.astimezone(NY).strftime("%Y-%m-%dT%H:%M")


def event_form(**changes) -> dict:
    starts = utcnow() + timedelta(days=10)
    data = dict(
        title="Linked Data Round-table", description="We talk about **linked data**.",
        starts_at=local_input(starts), ends_at=local_input(starts + timedelta(hours=2)),
        meeting_format="online", meeting_url="https://zoom.us/j/555", venue_name="", venue_address="",
        capacity="20", registration_opens_at="", registration_closes_at="",
    )
    data.update(changes)
    return data




@pytest.fixture
def world(session):
    group = create_group(slug="metadata")
    other = create_group(slug="archives")
    event = create_event(group, slug="round-table", capacity=2)
    people = create_cast(group, other)
    session.commit()
    return dict(group=group, event=event, **people)


def fresh_event(session, slug="round-table") -> Event:
    session.expire_all()
    return session.scalar(select(Event).where(Event.slug == slug))


# --- who may do what -------------------------------------------------------------------------------

PAGES = [
    "/groups/metadata/events/new", "/events/round-table/edit", "/events/round-table/cancel-event",
    "/events/round-table/attendees", "/events/round-table/attendees.csv",
]
POSTS = [
    ("/groups/metadata/events/new", event_form()),
    ("/events/round-table/edit", event_form(title="Hijacked", capacity="1")),
    ("/events/round-table/cancel-event", {}),
]


@pytest.mark.parametrize("url", PAGES)
def test_signed_out_visitors_are_sent_to_sign_in(client, world, url):
    response = client.get(url)
    assert response.status_code == 302 and "/sign-in" in response.location


@pytest.mark.parametrize("url,data", POSTS)
def test_signed_out_posts_are_refused_and_change_nothing(client, world, session, url, data):
    assert post(client, url, data).status_code == 403
    event = fresh_event(session)
    assert event.title != "Hijacked" and event.status == EventStatus.SCHEDULED
    assert session.scalar(select(Event).where(Event.slug == "linked-data-round-table")) is None


@pytest.mark.parametrize("who", ["member", "other_organizer"])
@pytest.mark.parametrize("url", PAGES)
def test_members_and_other_groups_organizers_may_not_see_organizer_pages(signed_in_client, world, who, url):
    assert signed_in_client(world[who]).get(url).status_code == 403


@pytest.mark.parametrize("who", ["member", "other_organizer"])
@pytest.mark.parametrize("url,data", POSTS)
def test_members_and_other_groups_organizers_change_nothing(signed_in_client, world, session, who, url, data):
    assert post(signed_in_client(world[who]), url, data).status_code == 403
    event = fresh_event(session)
    assert event.title != "Hijacked" and event.capacity == 2 and event.status == EventStatus.SCHEDULED
    assert session.scalar(select(Event).where(Event.slug == "linked-data-round-table")) is None
    assert all_mails(session) == []


@pytest.mark.parametrize("who", ["organizer", "admin"])
@pytest.mark.parametrize("url", PAGES)
def test_organizers_and_admins_see_the_pages(signed_in_client, world, who, url):
    assert signed_in_client(world[who]).get(url).status_code == 200


def test_unknown_group_or_event_is_404(signed_in_client, world):
    client = signed_in_client(world["admin"])
    assert client.get("/groups/nope/events/new").status_code == 404
    assert client.get("/events/nope/edit").status_code == 404
    assert client.get("/events/nope/attendees.csv").status_code == 404


def test_organizer_invited_by_address_counts_before_their_account_is_linked(signed_in_client, world, session):
    world["group"].organizers.append(GroupOrganizer(name="Invited", email="invited@example.org", position=5))
    invited = create_user(email="invited@example.org")
    session.commit()
    assert signed_in_client(invited).get("/events/round-table/attendees").status_code == 200


def test_organizers_see_their_links_and_members_do_not(signed_in_client, client, world):
    assert "Edit event" not in client.get("/events/round-table").get_data(as_text=True)
    assert "New event" not in client.get("/groups/metadata").get_data(as_text=True)
    member = signed_in_client(world["member"])
    assert "Edit event" not in member.get("/events/round-table").get_data(as_text=True)
    assert "/groups/metadata/drafts" not in member.get("/groups/metadata").get_data(as_text=True)
    organizer = signed_in_client(world["organizer"])
    page = organizer.get("/events/round-table").get_data(as_text=True)
    assert "/events/round-table/edit" in page and "/events/round-table/attendees" in page
    group_page = organizer.get("/groups/metadata").get_data(as_text=True)
    assert "/groups/metadata/events/new" in group_page and "/groups/metadata/drafts" in group_page


# --- creating -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_organizer_creates_an_event_in_new_york_time(signed_in_client, world, session, who):
    client = signed_in_client(world[who])
    response = post(client, "/groups/metadata/events/new", event_form(
        starts_at="2031-07-01T18:00", ends_at="2031-07-01T19:30", capacity=""))
    assert response.status_code == 303 and response.location.endswith("/events/linked-data-round-table")
    event = fresh_event(session, "linked-data-round-table")
    assert event.group_id == world["group"].id and event.capacity is None and event.is_online
    assert event.starts_at.astimezone(NY).hour == 18 and event.starts_at.utcoffset() == timedelta(0)
    assert event.starts_at.hour == 22  # EDT is UTC-4
    assert event.meeting_url == "https://zoom.us/j/555"
    # The same title again gets its own address.
    post(client, "/groups/metadata/events/new", event_form())
    assert fresh_event(session, "linked-data-round-table-2") is not None


def test_in_person_event_keeps_its_venue_and_drops_the_link(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = post(client, "/groups/metadata/events/new", event_form(
        meeting_format="in_person", venue_name="Brooklyn Public Library", venue_address="10 Grand Army Plaza"))
    assert response.status_code == 303
    event = fresh_event(session, "linked-data-round-table")
    assert not event.is_online and event.venue_name == "Brooklyn Public Library" and event.meeting_url is None


STARTS = utcnow() + timedelta(days=10)
INVALID = [
    (dict(title=""), "Please give the event a title."),
    (dict(title="x" * 201), "at most 200 characters"),
    (dict(description="y" * 20_001), "at most 20,000 characters"),
    (dict(description="<script>alert(1)</script>"), "HTML isn’t allowed here"),
    (dict(starts_at=local_input(STARTS), ends_at=local_input(STARTS - timedelta(hours=1))),
     "The end must be after the start."),
    (dict(starts_at="tomorrow"), "Use a date and time like"),
    (dict(starts_at="2031-03-09T02:30", ends_at="2031-03-09T04:00"), "doesn’t exist in New York"),
    (dict(starts_at=local_input(utcnow() - timedelta(days=1)), ends_at=local_input(utcnow())),
     "must start in the future"),
    (dict(capacity="-5"), "Capacity must be a whole number"),
    (dict(capacity="0"), "Capacity must be a whole number"),
    (dict(capacity="²"), "Capacity must be a whole number"),
    (dict(meeting_url="http://zoom.us/j/1"), "must be a secure web address starting with https://"),
    (dict(meeting_url="javascript:alert(1)"), "must be a secure web address"),
    (dict(meeting_format="in_person", venue_name=""), "Please name the venue"),
    (dict(venue_name="v" * 201, meeting_format="in_person"), "at most 200 characters"),
    (dict(registration_opens_at="2031-01-02T10:00", registration_closes_at="2031-01-01T10:00"),
     "Registration must close after it opens."),
]


@pytest.mark.parametrize("changes,message", INVALID)
def test_new_event_form_rejects_bad_input_next_to_the_field_and_keeps_what_was_typed(
        signed_in_client, world, session, changes, message):
    client = signed_in_client(world["organizer"])
    data = event_form(**changes)
    response = post(client, "/groups/metadata/events/new", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'class="field-error"' in html and message in html
    assert 'aria-invalid="true"' in html
    assert 'value="Linked Data Round-table"' in html or changes.get("title") is not None
    assert session.scalar(select(Event).where(Event.group_id == world["group"].id, Event.slug != "round-table")) \
        is None


def test_event_form_through_htmx_answers_with_its_own_block_then_redirects(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    htmx = {"HX-Request": "true"}
    refused = client.post("/groups/metadata/events/new", headers=htmx,
                          data={"csrf_token": csrf_token_for(client), **event_form(capacity="-3", then="draft")})
    html = refused.get_data(as_text=True)
    # 200: htmx swaps no 4xx; the form carries its problem next to the field.
    assert refused.status_code == 200 and html.lstrip().startswith('<form id="event-form"')
    assert "Capacity must be a whole number" in html and 'value="-3"' in html and "<html" not in html
    saved = client.post("/groups/metadata/events/new", headers=htmx,
                        data={"csrf_token": csrf_token_for(client), **event_form(then="draft")})
    event = session.scalar(select(Event).where(Event.slug == "linked-data-round-table"))
    assert saved.status_code == 200
    assert saved.headers["HX-Redirect"] == "/events/linked-data-round-table/edit?done=saved"
    assert event.status == "draft"


def test_new_event_form_survives_garbage_without_a_500(signed_in_client, world):
    client = signed_in_client(world["organizer"])
    response = post(client, "/groups/metadata/events/new", dict(
        title="\x85", starts_at="9" * 5000, ends_at="", capacity="9" * 50, meeting_format="boat"))
    assert response.status_code == 422


# --- editing -----------------------------------------------------------------------------------------

def edit_form(event, **changes) -> dict:
    current = dict(title=event.title, description=event.description, starts_at=local_input(event.starts_at),
                   ends_at=local_input(event.ends_at), meeting_url=event.meeting_url or "",
                   capacity="" if event.capacity is None else str(event.capacity))
    return event_form(**{**current, **changes})


def register_people(session, event, n):
    people = [create_user() for _ in range(n)]
    for person in people:
        registrations.register(session, event.id, member=person, now=utcnow())
    session.commit()
    return people


def test_edit_form_shows_the_event_in_new_york_time(signed_in_client, world):
    page = signed_in_client(world["organizer"]).get("/events/round-table/edit").get_data(as_text=True)
    assert f'value="{local_input(world["event"].starts_at)}"' in page and 'type="datetime-local"' in page


def test_editing_the_time_tells_attendees_with_an_updated_calendar_entry(signed_in_client, world, session):
    event = world["event"]
    register_people(session, event, 3)  # two confirmed, one waiting
    before = fresh_event(session).sequence
    new_start = event.starts_at + timedelta(days=1)
    response = post(signed_in_client(world["organizer"]), "/events/round-table/edit", edit_form(
        event, title="Round-table (moved)", starts_at=local_input(new_start),
        ends_at=local_input(new_start + timedelta(hours=1))))
    assert response.status_code == 303
    event = fresh_event(session)
    assert event.title == "Round-table (moved)" and event.sequence == before + 1
    changed = [m for m in all_mails(session) if m.kind == "event_changed"]
    assert len(changed) == 3 and all(f"SEQUENCE:{event.sequence}" in m.ics for m in changed)


def test_editing_only_the_text_tells_nobody(signed_in_client, world, session):
    register_people(session, world["event"], 1)
    mails_before = len(all_mails(session))
    post(signed_in_client(world["organizer"]), "/events/round-table/edit",
         edit_form(world["event"], description="Bring questions."))
    assert fresh_event(session).description == "Bring questions."
    assert len(all_mails(session)) == mails_before


def test_raising_capacity_promotes_the_waitlist_in_order_and_mails_them(signed_in_client, world, session):
    event = world["event"]
    people = register_people(session, event, 4)  # capacity 2: two wait
    response = post(signed_in_client(world["admin"]), "/events/round-table/edit", edit_form(event, capacity="3"))
    assert response.status_code == 303
    event = fresh_event(session)
    assert event.capacity == 3 and event.confirmed_count == 3 and event.waitlist_count == 1
    promoted = session.scalar(select(Registration).where(Registration.user_id == people[2].id))
    assert promoted.status == RegistrationStatus.CONFIRMED
    assert [m.recipient for m in all_mails(session) if m.kind == "registration_promoted"] == [people[2].email]


def test_lowering_capacity_below_the_confirmed_count_is_refused_next_to_the_field(
        signed_in_client, world, session):
    event = world["event"]
    register_people(session, event, 2)
    response = post(signed_in_client(world["organizer"]), "/events/round-table/edit",
                    edit_form(event, title="Changed", capacity="1"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="event-capacity-error"' in html and "2 people are already confirmed" in html
    assert 'value="Changed"' in html
    event = fresh_event(session)
    assert event.capacity == 2 and event.title != "Changed"


def test_a_cancelled_event_cannot_be_edited(signed_in_client, world, session):
    world["event"].status = EventStatus.CANCELLED
    session.commit()
    client = signed_in_client(world["organizer"])
    assert post(client, "/events/round-table/edit", edit_form(world["event"], title="Back")).status_code == 409
    assert fresh_event(session).title != "Back"


# --- cancelling --------------------------------------------------------------------------------------

def test_cancelling_asks_first_then_tells_everyone_and_keeps_the_records(signed_in_client, world, session):
    register_people(session, world["event"], 3)
    client = signed_in_client(world["organizer"])
    assert "Cancel the event and tell attendees" in client.get("/events/round-table/cancel-event").get_data(
        as_text=True)
    assert fresh_event(session).status == EventStatus.SCHEDULED
    response = post(client, "/events/round-table/cancel-event")
    assert response.status_code == 303
    assert fresh_event(session).status == EventStatus.CANCELLED
    assert len([m for m in all_mails(session) if m.kind == "event_cancelled"]) == 3
    assert len(list(session.scalars(select(Registration)))) == 3
    # Again: nothing more happens.
    post(client, "/events/round-table/cancel-event")
    assert len([m for m in all_mails(session) if m.kind == "event_cancelled"]) == 3


# --- attendees ---------------------------------------------------------------------------------------

def test_attendee_list_shows_each_group_in_order(signed_in_client, world, session):
    event = world["event"]
    people = register_people(session, event, 4)
    people[0].institution = "Queens Library"
    registrations.cancel(session, session.scalar(select(Registration).where(Registration.user_id == people[1].id)),
                         now=utcnow())
    session.commit()  # people[2] promoted; people[3] waits
    html = signed_in_client(world["organizer"]).get("/events/round-table/attendees").get_data(as_text=True)
    confirmed, waitlisted, cancelled = (text(section_of(html, f"{title}-title"))
                                        for title in ("confirmed", "waitlisted", "cancelled"))
    assert people[0].display_name in confirmed and "Queens Library" in confirmed
    assert people[2].display_name in confirmed
    assert people[3].display_name in waitlisted
    assert people[1].display_name in cancelled


def test_csv_export_quotes_correctly_and_defuses_formulas(signed_in_client, world, session):
    event = world["event"]
    evil = create_user(display_name="=HYPERLINK(\"http://evil\",\"x\")", institution="+1-Library, \"Main\"")
    registrations.register(session, event.id, member=evil, now=utcnow(),
                           accessibility_needs="@SUM(A1)\nline two")
    session.commit()
    response = signed_in_client(world["organizer"]).get("/events/round-table/attendees.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["Status", "Place in line", "Name"]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Status"] == "Confirmed"
    assert row["Name"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert row["Institution"] == "'+1-Library, \"Main\""
    assert row["Accessibility needs"] == "'@SUM(A1)\nline two"


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("a=b", "a=b"), ("", ""), (None, ""), (3, "3"),
])
def test_spreadsheet_safe(value, expected):
    assert spreadsheet_safe(value) == expected
