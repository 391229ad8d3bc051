"""The organizers' attendee pages over HTTP: search, reminder column, removing someone, giving a seat
by hand, check-in and attendance, the CSV, and messages to attendees (issue 12)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form as post
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.html import by_id, cells_by_column, parse, row_headers, section_of, text
from tests.support.outbox import mails
from webapp.accounts.models import Role
from webapp.db import db, utcnow
from webapp.events.models import Event, EventStatus
from webapp.organize.models import EventMessage
from webapp.outbox.models import MailState
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.reminders import services as reminders

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
ZOOM = "https://zoom.us/j/5550001111"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(session):
    """An event of 2 seats: Ada and Ben confirmed, Cy, Dee and Eve waiting in that order."""
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    other = create_group(slug="archives")
    event = create_event(group, slug="round-table", title="Linked Data Round-table", capacity=2, meeting_url=ZOOM)
    organizer = organizer_of(group, email="org@example.org", display_name="Olga Organizer")
    people = [
        create_user(email=f"{name.lower()}@example.org", display_name=name, institution=institution)
        for name, institution in [("Ada", "Queens Library"), ("Ben", "Brooklyn Public Library"),
                                  ("Cy", "NYPL"), ("Dee", "Queens College"), ("Eve", None)]
    ]
    other_organizer = organizer_of(other, email="other@example.org")
    admin = create_user(email="admin@example.org", roles=[Role.ADMIN])
    booked = utcnow() - timedelta(days=2)
    for minutes, person in enumerate(people):
        registrations.register(session, event.id, member=person, now=booked + timedelta(minutes=minutes))
    session.commit()
    return dict(group=group, event=event, people=people, organizer=organizer, other_organizer=other_organizer,
                member=people[0], admin=admin)



def reg(session, person) -> Registration:
    session.expire_all()
    return session.scalar(select(Registration).where(Registration.user_id == person.id))


def fresh_event(session) -> Event:
    session.expire_all()
    return session.scalar(select(Event).where(Event.slug == "round-table"))


def statuses(session, world) -> list[str]:
    return [reg(session, p).status.value for p in world["people"]]


def url(world, action, person=None):
    base = "/events/round-table"
    if action == "messages":
        return f"{base}/messages"
    return f"{base}/attendees/{reg_id(world, person)}/{action}"


def reg_id(world, person) -> int:
    return db.session.scalar(select(Registration.id).where(Registration.user_id == person.id))


def message_form(**changes) -> dict:
    data = dict(client_key="a" * 32, audience="confirmed", subject="Room change",
                body="We meet in room 204.\nBring your laptop.")
    data.update(changes)
    return data


# --- who may do what -------------------------------------------------------------------------------

def posts(world):
    ada, cy = world["people"][0], world["people"][2]
    return [
        (url(world, "remove", ada), {}),
        (url(world, "promote", cy), {"capacity": "2"}),
        (url(world, "check-in", ada), {"checked_in": "1"}),
        (url(world, "messages"), message_form()),
    ]


def assert_nothing_changed(session, world):
    assert statuses(session, world) == ["confirmed", "confirmed", "waitlisted", "waitlisted", "waitlisted"]
    event = fresh_event(session)
    assert event.capacity == 2 and event.confirmed_count == 2 and event.waitlist_count == 3
    assert reg(session, world["people"][0]).checked_in_at is None
    assert session.scalar(select(func.count(EventMessage.id))) == 0
    assert [m.kind for m in mails(session)
            if m.kind not in ("registration_confirmed", "registration_waitlisted")] == []


def test_signed_out_visitors_are_sent_to_sign_in_and_their_posts_refused(client, world, session):
    for page in (url(world, "remove", world["people"][0]), url(world, "messages")):
        response = client.get(page)
        assert response.status_code == 302 and "/sign-in" in response.location
    for target, data in posts(world):
        assert post(client, target, data).status_code == 403, target
    assert_nothing_changed(session, world)


@pytest.mark.parametrize("who", ["member", "other_organizer"])
def test_members_and_other_groups_organizers_see_nothing_and_change_nothing(signed_in_client, world, session, who):
    client = signed_in_client(world[who])
    for page in (url(world, "remove", world["people"][0]), url(world, "messages"),
                 "/events/round-table/attendees?q=ada"):
        assert client.get(page).status_code == 403, page
    for target, data in posts(world):
        assert post(client, target, data).status_code == 403, target
        assert post(client, target, data, headers=HTMX).status_code == 403, target
    assert_nothing_changed(session, world)


@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_organizers_and_admins_may_use_every_attendee_action(signed_in_client, world, session, who):
    client = signed_in_client(world[who])
    ada, ben, cy = world["people"][:3]
    assert client.get(url(world, "remove", ada)).status_code == 200
    assert client.get(url(world, "messages")).status_code == 200
    assert post(client, url(world, "check-in", ben), {"checked_in": "1"}).status_code == 303
    assert post(client, url(world, "remove", ada)).status_code == 303
    assert post(client, url(world, "promote", world["people"][3]), {"capacity": "2"}).status_code == 303
    assert post(client, url(world, "messages"), message_form()).status_code == 303
    assert statuses(session, world) == ["cancelled", "confirmed", "confirmed", "confirmed", "waitlisted"]
    assert reg(session, ben).checked_in_at is not None
    assert fresh_event(session).capacity == 3
    assert session.scalar(select(EventMessage.sender_id)) == world[who].id
    assert reg(session, ada).cancelled_by_id == world[who].id


def test_a_registration_of_another_event_is_not_found(signed_in_client, world, session):
    elsewhere = create_event(world["group"], slug="elsewhere", capacity=5)
    stranger = create_user()
    registrations.register(session, elsewhere.id, member=stranger, now=utcnow())
    session.commit()
    other_id = reg(session, stranger).id
    client = signed_in_client(world["organizer"])
    for action in ("remove", "promote", "check-in"):
        assert post(client, f"/events/round-table/attendees/{other_id}/{action}").status_code == 404
    assert client.get(f"/events/round-table/attendees/{other_id}/remove").status_code == 404
    assert client.get("/events/round-table/attendees/99999/remove").status_code == 404
    assert reg(session, stranger).status == RegistrationStatus.CONFIRMED


def test_attendee_pages_are_never_cached(signed_in_client, world):
    client = signed_in_client(world["organizer"])
    for page in ("/events/round-table/attendees?q=a", url(world, "remove", world["people"][0]),
                 url(world, "messages")):
        assert client.get(page).headers["Cache-Control"] == "no-store"


# --- the list and its search ---------------------------------------------------------------------------

def test_list_shows_totals_places_and_who_removed_whom(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    post(client, url(world, "remove", world["people"][4]))  # Eve, last in line
    html = client.get("/events/round-table/attendees").get_data(as_text=True)
    assert "2 confirmed of 2 seats" in html and "2 waiting, 1 cancelled" in html
    assert "0 of 2 checked in" in html
    cancelled = text(section_of(html, "cancelled-title"))
    assert "Eve" in cancelled and "Removed by Olga Organizer" in cancelled
    assert "ada@example.org" in html  # organizers can tell people without a name apart


def test_search_matches_name_institution_and_email_case_insensitively(signed_in_client, world):
    client = signed_in_client(world["organizer"])

    def names(query):
        html = client.get("/events/round-table/attendees", query_string={"q": query}).get_data(as_text=True)
        shown = row_headers(by_id(html, "attendee-rows"))
        return [n for n in ("Ada", "Ben", "Cy", "Dee", "Eve") if n in shown]

    assert names("queens") == ["Ada", "Dee"]
    assert names("BEN@EXAMPLE") == ["Ben"]
    assert names("  nypl ") == ["Cy"]
    assert names("%") == [] and names("_") == []  # wildcards mean themselves
    assert names("") == ["Ada", "Ben", "Cy", "Dee", "Eve"]


def test_search_keeps_real_places_in_line_and_whole_event_totals(signed_in_client, world):
    html = signed_in_client(world["organizer"]).get(
        "/events/round-table/attendees?q=dee").get_data(as_text=True)
    assert re.search(r"<td>2</td>\s*<th scope=\"row\">Dee", html)  # Dee is second in line, not first
    assert "2 confirmed of 2 seats" in html and "3 waiting" in html
    assert "1 match for “dee”" in html
    assert 'value="dee"' in html  # the search box keeps what was typed


def test_htmx_search_returns_the_list_block_alone_and_replaces_the_url(signed_in_client, world):
    response = signed_in_client(world["organizer"]).get("/events/round-table/attendees?q=queens", headers=HTMX)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="attendee-rows"')
    assert "<h1" not in html and "Ada" in html and "Ben" not in html
    assert response.headers["HX-Replace-Url"] == "/events/round-table/attendees?q=queens"
    cleared = signed_in_client(world["organizer"]).get("/events/round-table/attendees?q=", headers=HTMX)
    assert cleared.headers["HX-Replace-Url"] == "/events/round-table/attendees"


def test_search_that_matches_nobody_says_so(signed_in_client, world):
    html = signed_in_client(world["organizer"]).get("/events/round-table/attendees?q=zzz").get_data(as_text=True)
    assert "Nobody’s name, institution or email contains “zzz”" in html


def test_search_survives_garbage(signed_in_client, world):
    client = signed_in_client(world["organizer"])
    assert client.get("/events/round-table/attendees", query_string={"q": "\x85<script>" + "x" * 1500}
                      ).status_code == 200
    # A NUL, or a value no form of ours sends, is refused before the search (tests/input).
    assert client.get("/events/round-table/attendees", query_string={"q": "\x00<script>" + "x" * 5000}
                      ).status_code == 400


# --- the reminder column ------------------------------------------------------------------------------

def test_reminder_column_says_sent_queued_failed_or_not_yet(signed_in_client, world, session):
    event = fresh_event(session)
    event.capacity = 4
    event.starts_at = utcnow() + timedelta(hours=10)
    event.ends_at = event.starts_at + timedelta(hours=1)
    registrations.change_capacity(session, event.id, 4, now=utcnow() - timedelta(days=1))  # Cy and Dee seated
    ada, ben, cy, dee = (reg(session, p) for p in world["people"][:4])
    queued = {m.recipient: m for m in reminders.queue_reminders(session, [ada, ben, cy], now=utcnow())}
    queued["ada@example.org"].state = MailState.SENT
    queued["ada@example.org"].sent_at = utcnow()
    queued["ben@example.org"].state = MailState.FAILED
    queued["ben@example.org"].last_error = "550 No such user"
    session.commit()

    html = signed_in_client(world["organizer"]).get("/events/round-table/attendees").get_data(as_text=True)
    page = parse(html)
    rows = {p.display_name: cells_by_column(by_id(page, f"registration-{reg(session, p).id}"))
            for p in world["people"][:4]}
    assert rows["Ada"]["Reminder"].startswith("Sent ") and rows["Ben"]["Reminder"] == "Failed"
    assert "550 No such user" in rows["Ben"]["Mail problems"]
    assert rows["Cy"]["Reminder"] == "Queued" and rows["Dee"]["Reminder"] == "Not yet"

    csv_rows = list(csv.DictReader(io.StringIO(
        signed_in_client(world["organizer"]).get("/events/round-table/attendees.csv").get_data(as_text=True))))
    by_name = {row["Name"]: row for row in csv_rows}
    assert by_name["Ada"]["Reminder"].startswith("Sent ") and by_name["Ben"]["Reminder"] == "Failed"
    assert by_name["Cy"]["Reminder"] == "Queued" and by_name["Dee"]["Reminder"] == "Not yet"
    assert "550 No such user" in by_name["Ben"]["Mail problems"]
    assert by_name["Eve"]["Reminder"] == ""  # waiting: no reminder is due


# --- removing someone ------------------------------------------------------------------------------------

def test_remove_asks_first_without_javascript(signed_in_client, world, session):
    page = signed_in_client(world["organizer"]).get(url(world, "remove", world["people"][0]) + "?q=queens")
    html = page.get_data(as_text=True)
    assert "Remove Ada?" in html and "Their seat goes to the next person on the waitlist" in html
    assert 'name="q" value="queens"' in html and "Remove Ada and email them" in html
    assert_nothing_changed(session, world)


def test_removing_a_confirmed_attendee_mails_them_and_seats_the_next_in_line(signed_in_client, world, session):
    ada, _, cy = world["people"][:3]
    client = signed_in_client(world["organizer"])
    response = post(client, url(world, "remove", ada), {"q": "queens"})
    assert response.status_code == 303
    assert response.location.startswith("/events/round-table/attendees?q=queens&done=removed")

    assert statuses(session, world) == ["cancelled", "confirmed", "confirmed", "waitlisted", "waitlisted"]
    event = fresh_event(session)
    assert event.confirmed_count == 2 and event.waitlist_count == 2
    removed = reg(session, ada)
    assert removed.cancelled_by_id == world["organizer"].id and removed.cancelled_at is not None
    [told] = mails(session, kind="registration_removed")
    assert told.recipient == "ada@example.org" and told.reply_to == "org@example.org"
    assert "The organizers of Linked Data Round-table have cancelled your registration" in told.body_text
    assert "reply to this email" in told.body_text and ZOOM not in told.body_text
    assert [m.recipient for m in mails(session, kind="registration_promoted")] == [cy.email]
    # Dee, now first in line, keeps her place relative to Eve.
    assert registrations.waitlist_position(session, reg(session, world["people"][3])) == 1

    notice = client.get(response.location).get_data(as_text=True)
    assert "Ada was removed and emailed. Cy got the freed seat and was emailed." in notice


def test_removing_through_htmx_rerenders_the_list_in_place(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = post(client, url(world, "remove", world["people"][3]), headers=HTMX)  # Dee, waiting
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<div id="attendee-rows"')
    assert "Dee was removed and emailed." in html and "freed seat" not in html
    assert statuses(session, world) == ["confirmed", "confirmed", "waitlisted", "cancelled", "waitlisted"]
    assert fresh_event(session).waitlist_count == 2


def test_removing_twice_mails_once(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    post(client, url(world, "remove", world["people"][0]))
    assert post(client, url(world, "remove", world["people"][0]), headers=HTMX).status_code == 200
    assert len(mails(session, kind="registration_removed")) == 1
    assert len(mails(session, kind="registration_promoted")) == 1
    assert fresh_event(session).confirmed_count == 2


def test_nobody_can_be_removed_once_the_event_started(signed_in_client, world, session):
    event = fresh_event(session)
    event.starts_at = utcnow() - timedelta(minutes=5)
    session.commit()
    client = signed_in_client(world["organizer"])
    response = post(client, url(world, "remove", world["people"][0]))
    assert response.status_code == 409 and "has started" in response.get_data(as_text=True)
    htmx = post(client, url(world, "remove", world["people"][0]), headers=HTMX)
    assert htmx.status_code == 200 and "has started" in htmx.get_data(as_text=True)
    assert statuses(session, world)[0] == "confirmed" and mails(session, kind="registration_removed") == []
    assert "Remove Ada" not in client.get("/events/round-table/attendees").get_data(as_text=True)


def test_someone_removed_can_register_again_as_a_fresh_registration(signed_in_client, world, session):
    ada = world["people"][0]
    post(signed_in_client(world["organizer"]), url(world, "remove", ada))
    registrations.register(session, fresh_event(session).id, member=ada, now=utcnow())
    session.commit()
    again = reg(session, ada)
    assert again.status == RegistrationStatus.WAITLISTED and again.cancelled_by_id is None


# --- giving a seat by hand ---------------------------------------------------------------------------------

def test_full_event_offers_a_seat_by_raising_the_capacity_by_one(signed_in_client, world, session):
    html = signed_in_client(world["organizer"]).get("/events/round-table/attendees").get_data(as_text=True)
    assert html.count("Give a seat (capacity 2 → 3)") == 3


def test_giving_a_seat_out_of_turn_raises_capacity_and_keeps_the_others_in_order(signed_in_client, world, session):
    cy, dee, eve = world["people"][2:]
    client = signed_in_client(world["organizer"])
    response = post(client, url(world, "promote", eve), {"capacity": "2", "q": "eve"})
    assert response.status_code == 303 and "done=promoted" in response.location and "q=eve" in response.location

    event = fresh_event(session)
    assert event.capacity == 3 and event.confirmed_count == 3 and event.waitlist_count == 2
    assert reg(session, eve).status == RegistrationStatus.CONFIRMED and reg(session, eve).confirmed_at
    assert [registrations.waitlist_position(session, reg(session, p)) for p in (cy, dee)] == [1, 2]
    [promoted] = mails(session, kind="registration_promoted")
    assert promoted.recipient == eve.email and promoted.reply_to == "org@example.org"
    assert "Eve got a seat and was emailed. The capacity is now 3." in client.get(response.location).get_data(
        as_text=True)


def test_a_stale_give_a_seat_button_changes_nothing(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = post(client, url(world, "promote", world["people"][4]), {"capacity": "1"})
    assert response.status_code == 409
    assert "The capacity changed to 2 in the meantime" in response.get_data(as_text=True)
    assert_nothing_changed(session, world)
    assert post(client, url(world, "promote", world["people"][4]), {"capacity": "x"}).status_code == 409
    assert_nothing_changed(session, world)


def test_a_double_tap_on_give_a_seat_gives_one_seat(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    first = post(client, url(world, "promote", world["people"][2]), {"capacity": "2"}, headers=HTMX)
    second = post(client, url(world, "promote", world["people"][2]), {"capacity": "2"}, headers=HTMX)
    assert first.status_code == second.status_code == 200
    assert "Cy got a seat and was emailed. The capacity is now 3." in first.get_data(as_text=True)
    event = fresh_event(session)
    assert event.capacity == 3 and event.confirmed_count == 3 and event.waitlist_count == 2
    assert len(mails(session, kind="registration_promoted")) == 1


def test_a_free_seat_is_given_without_raising_the_capacity(signed_in_client, world, session):
    # Under the waitlist-first rule a seat is free next to a waitlist only for a moment; make one.
    session.execute(Registration.__table__.update().where(Registration.user_id == world["people"][1].id)
                    .values(status="cancelled"))
    fresh_event(session).confirmed_count = 1
    session.commit()
    client = signed_in_client(world["organizer"])
    assert "Give a free seat" in client.get("/events/round-table/attendees").get_data(as_text=True)
    post(client, url(world, "promote", world["people"][3]), {"capacity": "2"})
    event = fresh_event(session)
    assert event.capacity == 2 and event.confirmed_count == 2 and event.waitlist_count == 2
    assert reg(session, world["people"][3]).status == RegistrationStatus.CONFIRMED


def test_only_someone_waiting_can_be_given_a_seat(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    post(client, url(world, "remove", world["people"][4]))
    response = post(client, url(world, "promote", world["people"][4]), {"capacity": "2"})
    assert response.status_code == 409 and "Only someone on the waitlist" in response.get_data(as_text=True)
    assert reg(session, world["people"][4]).status == RegistrationStatus.CANCELLED
    # A confirmed attendee's "seat" is already theirs: nothing changes.
    assert post(client, url(world, "promote", world["people"][0]), {"capacity": "2"}).status_code == 303
    assert fresh_event(session).capacity == 2


# --- check-in and attendance ------------------------------------------------------------------------------

def test_check_in_is_a_pressed_button_and_a_double_tap_keeps_the_first_time(signed_in_client, world, session):
    ada = world["people"][0]
    client = signed_in_client(world["organizer"])
    page = client.get("/events/round-table/attendees").get_data(as_text=True)
    assert f'id="check-in-{reg(session, ada).id}" class="check-in" aria-pressed="false"' in page

    first = post(client, url(world, "check-in", ada), {"checked_in": "1", "q": "ada"}, headers=HTMX)
    html = first.get_data(as_text=True)
    assert first.status_code == 200 and html.lstrip().startswith('<div id="attendee-rows"')
    assert f'id="check-in-{reg(session, ada).id}" class="check-in" aria-pressed="true"' in html
    assert "1 of 2 checked in" in html and "Ben" not in html  # the search is kept
    when = reg(session, ada).checked_in_at
    assert when is not None
    post(client, url(world, "check-in", ada), {"checked_in": "1"}, headers=HTMX)
    assert reg(session, ada).checked_in_at == when

    undone = post(client, url(world, "check-in", ada), {"checked_in": "0"})
    assert undone.status_code == 303
    assert undone.location == f"/events/round-table/attendees#registration-{reg(session, ada).id}"
    assert reg(session, ada).checked_in_at is None


def test_people_without_a_seat_cannot_be_checked_in(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = post(client, url(world, "check-in", world["people"][2]), {"checked_in": "1"})
    assert response.status_code == 409 and "Cy isn’t confirmed for this event" in response.get_data(as_text=True)
    assert reg(session, world["people"][2]).checked_in_at is None


def test_nobody_is_checked_in_at_a_cancelled_event(signed_in_client, world, session):
    fresh_event(session).status = EventStatus.CANCELLED
    session.commit()
    client = signed_in_client(world["organizer"])
    assert post(client, url(world, "check-in", world["people"][0]), {"checked_in": "1"}).status_code == 409
    assert reg(session, world["people"][0]).checked_in_at is None
    assert 'class="check-in"' not in client.get("/events/round-table/attendees").get_data(as_text=True)


def test_after_the_event_the_list_and_csv_show_attendance(signed_in_client, world, session):
    event = fresh_event(session)
    event.starts_at = utcnow() - timedelta(hours=3)
    event.ends_at = utcnow() - timedelta(hours=1)
    session.commit()
    client = signed_in_client(world["organizer"])
    post(client, url(world, "check-in", world["people"][0]), {"checked_in": "1"})  # still correctable
    html = client.get("/events/round-table/attendees").get_data(as_text=True)
    assert "1 of 2 attended" in html and ">Attendance<" in html
    assert '<p class="attendance">Attended</p>' in html and '<p class="attendance">No-show</p>' in html

    rows = {row["Name"]: row for row in csv.DictReader(io.StringIO(
        client.get("/events/round-table/attendees.csv").get_data(as_text=True)))}
    assert rows["Ada"]["Attendance"] == "Attended" and rows["Ada"]["Checked in at"]
    assert rows["Ben"]["Attendance"] == "No-show" and rows["Ben"]["Checked in at"] == ""
    assert rows["Cy"]["Attendance"] == ""  # never had a seat


def test_csv_has_every_column_of_the_list(signed_in_client, world, session):
    body = signed_in_client(world["organizer"]).get("/events/round-table/attendees.csv").get_data(as_text=True)
    header, *rows = list(csv.reader(io.StringIO(body)))
    assert header == ["Status", "Place in line", "Name", "Email", "Institution", "Registered at",
                      "Accessibility needs", "Reminder", "Joined online", "Checked in at", "Attendance",
                      "Mail problems", "Still coming", "Needs erased on",
                      "On Zoom from", "Minutes on Zoom"]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("Confirmed", "", "Ada"), ("Confirmed", "", "Ben"),
        ("Waitlisted", "1", "Cy"), ("Waitlisted", "2", "Dee"), ("Waitlisted", "3", "Eve")]
    assert body.endswith("\r\n") and "Attendance" in header


# --- messages to attendees --------------------------------------------------------------------------------

def test_message_goes_to_each_confirmed_attendee_and_a_copy_to_the_sender(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    form = client.get(url(world, "messages")).get_data(as_text=True)
    assert "Confirmed attendees (2)" in form and "People on the waitlist (3)" in form
    assert 'name="subject" aria-required="true" autocomplete="off">' in form
    key = re.search(r'name="client_key" value="([0-9a-f]{32})"', form).group(1)

    response = post(client, url(world, "messages"), message_form(
        client_key=key, body="Room 204 <script>alert(1)</script>\nBring a laptop & charger."))
    assert response.status_code == 303 and f"sent={session.scalar(select(EventMessage.id))}" in response.location

    message = session.scalar(select(EventMessage))
    assert (message.audience.value, message.subject, message.recipient_count) == ("confirmed", "Room change", 2)
    sent = mails(session, kind="event_message")
    assert sorted(m.recipient for m in sent) == ["ada@example.org", "ben@example.org", "org@example.org"]
    assert all(m.reply_to == "org@example.org" for m in sent)
    to_ada = next(m for m in sent if m.recipient == "ada@example.org")
    assert to_ada.subject == "Linked Data Round-table: Room change"
    assert "Room 204 <script>alert(1)</script>\nBring a laptop & charger." in to_ada.body_text
    assert "&lt;script&gt;" in to_ada.body_html and "<script>" not in to_ada.body_html
    assert "/r/" in to_ada.body_text  # their own manage link
    copy = next(m for m in sent if m.recipient == "org@example.org")
    assert copy.subject == "Copy: Linked Data Round-table: Room change"
    assert "copy of the message you sent to 2 confirmed attendees of" in copy.body_text
    for mail in sent:  # never the meeting link, nor anyone's personal join link
        assert ZOOM not in mail.body_text + mail.body_html and "/join/" not in mail.body_text + mail.body_html

    page = client.get(response.location).get_data(as_text=True)
    assert "Your message “Room change” is on its way to 2 confirmed attendees, with a copy to you." in page
    assert "Room 204 &lt;script&gt;alert(1)&lt;/script&gt;" in page  # kept on the event, escaped
    listed = client.get("/events/round-table/attendees").get_data(as_text=True)
    assert "Room change" in listed and "to 2 confirmed attendees" in listed


def test_message_to_the_waitlist_reaches_only_the_waitlist(signed_in_client, world, session):
    post(signed_in_client(world["organizer"]), url(world, "messages"), message_form(audience="waitlisted"))
    recipients = sorted(m.recipient for m in mails(session, kind="event_message"))
    assert recipients == ["cy@example.org", "dee@example.org", "eve@example.org", "org@example.org"]
    assert session.scalar(select(EventMessage.recipient_count)) == 3


def test_the_same_form_sent_twice_sends_once(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    first = post(client, url(world, "messages"), message_form())
    second = post(client, url(world, "messages"), message_form())
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert session.scalar(select(func.count(EventMessage.id))) == 1
    assert len(mails(session, kind="event_message")) == 3


def test_a_form_without_its_key_is_refused(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    assert post(client, url(world, "messages"), message_form(client_key="")).status_code == 400
    assert post(client, url(world, "messages"), message_form(client_key="../x")).status_code == 400
    assert mails(session, kind="event_message") == []


def test_an_expired_form_sends_nothing_but_gives_back_what_was_written(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    body = "We meet in room 204 <b>upstairs</b>.\nBring your laptop."
    expired = client.post(url(world, "messages"), data={**message_form(body=body), "csrf_token": "stale"})
    assert expired.status_code == 400
    html = expired.get_data(as_text=True)
    assert "nothing was changed" in html and "What you wrote" in html
    assert "We meet in room 204 &lt;b&gt;upstairs&lt;/b&gt;.\nBring your laptop.</textarea>" in html
    page = parse(html)
    typed = page.main.find("h2", string=re.compile("What you wrote"))
    forms_after = [form for form in typed.find_all_next("form") if page.main in form.parents]
    assert page.main.find("textarea", readonly=True) and forms_after == []
    assert session.scalar(select(func.count(EventMessage.id))) == 0 and mails(session, kind="event_message") == []
    # Through htmx, which swaps nothing on a 400: the explanation replaces the page's content.
    fragment = client.post(url(world, "messages"), data={**message_form(body=body), "csrf_token": "stale"},
                           headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.headers["HX-Retarget"] == "#main > .wrap"
    assert "nothing was changed" in fragment.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert session.scalar(select(func.count(EventMessage.id))) == 0


BAD_MESSAGES = [
    (dict(subject=""), "message-subject", "Please give the message a subject."),
    (dict(subject="s" * 151), "message-subject", "at most 150 characters"),
    (dict(subject="Room\nchange"), "message-subject", "Please remove line breaks"),
    (dict(body="   "), "message-body", "Please write the message."),
    (dict(body="b" * 5001), "message-body", "at most 5,000 characters"),
    (dict(body="Hello\x85there"), "message-body", "Please remove special control characters"),
    (dict(body=f"Join here: {ZOOM}"), "message-body", "Please take the meeting link out"),
    (dict(audience="everyone"), "message-audience", "Please choose who gets the message."),
]


@pytest.mark.parametrize("changes,field,message", BAD_MESSAGES)
def test_bad_messages_are_refused_next_to_the_field_with_what_was_typed(
        signed_in_client, world, session, changes, field, message):
    response = post(signed_in_client(world["organizer"]), url(world, "messages"), message_form(**changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in html and message in html
    typed = message_form(**changes)
    if field != "message-subject":
        assert f'value="{typed["subject"]}"' in html
    if field != "message-body":
        assert "We meet in room 204." in html
    assert 'name="client_key" value="' + "a" * 32 + '"' in html  # resending it is still one message
    assert session.scalar(select(func.count(EventMessage.id))) == 0 and mails(session, kind="event_message") == []


def test_a_message_to_nobody_is_refused_next_to_the_audience(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    for person in world["people"][2:]:
        post(client, url(world, "remove", person))
    response = post(client, url(world, "messages"), message_form(audience="waitlisted"))
    assert response.status_code == 422
    assert 'id="message-audience-error"' in response.get_data(as_text=True)
    assert "no people on the waitlist yet" in response.get_data(as_text=True)
    assert mails(session, kind="event_message") == []


def test_messages_are_rate_limited_per_sender_with_a_polite_word(app, signed_in_client, world, session):
    app.config["EVENT_MESSAGE_LIMIT_PER_SENDER"] = "2 per hour"
    client = signed_in_client(world["organizer"])
    assert post(client, url(world, "messages"), message_form(client_key="1" * 32)).status_code == 303
    assert post(client, url(world, "messages"), message_form(client_key="2" * 32)).status_code == 303
    refused = post(client, url(world, "messages"), message_form(client_key="3" * 32, subject="Third"))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "please wait a while before sending another" in html
    assert 'value="Third"' in html and "We meet in room 204." in html
    assert session.scalar(select(func.count(EventMessage.id))) == 2
    # A resend of a form that went through is not counted and not sent again.
    assert post(client, url(world, "messages"), message_form(client_key="1" * 32)).status_code == 303
    assert len(mails(session, kind="event_message")) == 6


def test_messages_page_lists_what_was_sent(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    post(client, url(world, "messages"), message_form(subject="First note", client_key="1" * 32))
    post(client, url(world, "messages"), message_form(subject="Second note", audience="waitlisted",
                                                     client_key="2" * 32))
    html = client.get(url(world, "messages")).get_data(as_text=True)
    assert html.index("Second note") < html.index("First note")  # newest first
    assert "To 3 people on the waitlist" in html and "from Olga Organizer" in html


def test_a_failed_message_shows_next_to_the_attendee(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    post(client, url(world, "messages"), message_form())
    to_ada = next(m for m in mails(session, kind="event_message") if m.recipient == "ada@example.org")
    to_ada.state, to_ada.last_error = MailState.FAILED, "550 5.1.1 mailbox unavailable"
    session.commit()
    html = client.get("/events/round-table/attendees").get_data(as_text=True)
    row = cells_by_column(by_id(html, f"registration-{reg(session, world['people'][0]).id}"))
    assert "Linked Data Round-table: Room change: 550 5.1.1 mailbox unavailable" in row["Mail problems"]


def test_message_form_through_htmx_answers_in_place_then_goes_to_the_sent_page(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    refused = post(client, url(world, "messages"), message_form(subject=""), headers=HTMX)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and html.lstrip().startswith('<form id="message-form"')
    assert "Please give the message a subject." in html and 'autofocus' in html
    sent = post(client, url(world, "messages"), message_form(), headers=HTMX)
    assert sent.status_code == 200 and sent.headers["HX-Redirect"].startswith("/events/round-table/messages?sent=")
    assert len(mails(session, kind="event_message")) == 3
