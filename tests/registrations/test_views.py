"""Registering, the waitlist, cancelling and the meeting link, over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_for
from tests.factories import create_event, create_group, create_user
from tests.support.outbox import mails
from webapp.db import utcnow
from webapp.registrations.models import Registration, RegistrationStatus

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
ZOOM = "https://zoom.us/j/8675309000"


def press_register(client, slug, htmx=True, **form):
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"csrf_token": csrf_token_for(client), **form}
    return client.post(f"/events/{slug}/register", data=data, headers=headers)


def press_cancel(client, registration_id, htmx=True):
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"csrf_token": csrf_token_for(client)}
    return client.post(f"/registrations/{registration_id}/cancel", data=data, headers=headers)


def registration_of(session, member, event) -> Registration | None:
    session.expire_all()
    return session.scalar(
        select(Registration).where(Registration.user_id == member.id, Registration.event_id == event.id)
    )


def test_signed_in_member_registers_in_place_and_gets_a_confirmation(signed_in_client, session):
    event = create_event(create_group(), slug="hack-night", capacity=10)
    member = create_user(email="ada@example.org")
    session.commit()
    client = signed_in_client(member)

    response = press_register(client, "hack-night", accessibility_needs="Captions, please")

    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="registration-panel"')
    assert "You’re registered." in html and "Cancel my registration" in html
    registration = registration_of(session, member, event)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.accessibility_needs == "Captions, please"
    [mail] = mails(session)
    assert mail.kind == "registration_confirmed" and mail.recipient == "ada@example.org"
    assert "BEGIN:VEVENT" in mail.ics and "New York" not in mail.subject
    assert re.search(r"(EST|EDT)", mail.body_text)
    assert "/r/" in mail.body_text  # the one-click manage link


def test_double_click_registers_once_and_mails_once(signed_in_client, session):
    event = create_event(slug="twice", capacity=3)
    member = create_user()
    session.commit()
    client = signed_in_client(member)
    press_register(client, "twice")
    press_register(client, "twice")
    session.expire_all()
    assert event.confirmed_count == 1
    assert len(mails(session)) == 1


def test_full_event_puts_member_on_the_waitlist_with_position(signed_in_client, session):
    event = create_event(slug="tiny", capacity=1)
    first, second = create_user(), create_user()
    session.commit()
    press_register(signed_in_client(first), "tiny")
    html = press_register(signed_in_client(second), "tiny").get_data(as_text=True)
    assert "You’re on the waitlist, number 1 in line." in html
    waitlisted = mails(session, recipient=second.email)[0]
    assert waitlisted.kind == "registration_waitlisted" and "number 1 in line" in waitlisted.body_text
    assert registration_of(session, second, event).status == RegistrationStatus.WAITLISTED


def test_cancelling_promotes_the_next_in_line_and_mails_both(signed_in_client, session):
    event = create_event(slug="book-club", capacity=1)
    holder, waiting = create_user(), create_user()
    session.commit()
    press_register(signed_in_client(holder), "book-club")
    press_register(signed_in_client(waiting), "book-club")
    holder_reg = registration_of(session, holder, event)

    response = press_cancel(signed_in_client(holder), holder_reg.id)

    assert response.status_code == 200
    assert registration_of(session, holder, event).status == RegistrationStatus.CANCELLED
    assert registration_of(session, waiting, event).status == RegistrationStatus.CONFIRMED
    assert [m.kind for m in mails(session, recipient=holder.email)][-1] == "registration_cancelled"
    assert [m.kind for m in mails(session, recipient=waiting.email)][-1] == "registration_promoted"


def test_signed_out_register_keeps_the_intent_through_sign_in(client, session, fresh_request_globals):
    event = create_event(slug="keep-intent", capacity=5)
    session.commit()

    response = press_register(client, "keep-intent", htmx=False)
    assert response.status_code == 303
    sign_in_url = response.headers["Location"]
    assert "intent=register" in sign_in_url and "next=/events/keep-intent" in sign_in_url
    htmx = press_register(client, "keep-intent", htmx=True)
    assert htmx.headers["HX-Redirect"] == sign_in_url

    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(sign_in_url).query)
    client.post("/sign-in", data={"csrf_token": csrf_token_for(client), "email": "grace@example.org",
                                  "next": query["next"][0], "intent": query["intent"][0]})
    link = re.search(r"http://meetups\.test(/sign-in/\S+)", mails(session)[-1].body_text).group(1)
    landed = client.post(link, data={"csrf_token": csrf_token_for(client)})
    # First sign-in: the profile, then straight back to the event, already registered.
    assert "/account" in landed.headers["Location"]
    from webapp.accounts.models import User

    member = session.scalar(select(User).where(User.email == "grace@example.org"))
    assert registration_of(session, member, event).status == RegistrationStatus.CONFIRMED
    assert mails(session, recipient="grace@example.org")[-1].kind == "registration_confirmed"


@pytest.fixture
def near_event(session):
    """An event starting in two hours (inside the 24-hour window), one seat, a meeting link."""
    return create_event(slug="soon", capacity=1, meeting_url=ZOOM, starts_at=utcnow() + timedelta(hours=2))


def test_meeting_link_only_for_confirmed_attendees_inside_the_window(signed_in_client, client, session, near_event):
    confirmed, waitlisted, cancelled, unrelated = (create_user() for _ in range(4))
    session.commit()
    press_register(signed_in_client(confirmed), "soon")
    press_register(signed_in_client(cancelled), "soon")  # waitlisted, then leaves
    press_cancel(signed_in_client(cancelled), registration_of(session, cancelled, near_event).id)
    press_register(signed_in_client(waitlisted), "soon")

    def everything_seen_by(member):
        c = signed_in_client(member) if member else client
        if not member:
            with c.session_transaction() as s:
                s.clear()
        pages = [c.get(p).get_data(as_text=True) for p in
                 ("/", "/events", "/events/soon", "/events/soon/calendar.ics", "/my/events", "/groups")]
        pages.append(c.get("/events?q=soon", headers={"HX-Request": "true"}).get_data(as_text=True))
        return "\n".join(pages)

    # Confirmed: a personal join link that leads to the meeting; the raw URL is never in a page.
    seen = everything_seen_by(confirmed)
    join_path = re.search(r'href="http://meetups\.test(/join/[^"]+)"', seen).group(1)
    assert ZOOM not in seen
    assert signed_in_client(confirmed).get(join_path).headers["Location"] == ZOOM
    for member in (waitlisted, cancelled, unrelated, None):
        pages = everything_seen_by(member)
        assert ZOOM not in pages and "/join/" not in pages
    for member in (waitlisted, cancelled):
        for m in mails(session, recipient=member.email):
            assert ZOOM not in m.body_text + (m.body_html or "") + (m.ics or "")
            assert "/join/" not in m.body_text + (m.body_html or "") + (m.ics or "")
    confirmation = mails(session, recipient=confirmed.email)[0]
    assert join_path in confirmation.body_text and join_path in confirmation.ics.replace("\r\n ", "")
    assert ZOOM not in confirmation.body_text


def test_promoted_inside_the_window_gets_the_link_at_once(signed_in_client, session, near_event):
    holder, waiting = create_user(), create_user()
    session.commit()
    press_register(signed_in_client(holder), "soon")
    press_register(signed_in_client(waiting), "soon")
    press_cancel(signed_in_client(holder), registration_of(session, holder, near_event).id)
    promoted = mails(session, recipient=waiting.email)[-1]
    assert promoted.kind == "registration_promoted" and "/join/" in promoted.body_text


def test_confirmed_attendee_sees_no_link_before_the_window(signed_in_client, session):
    create_event(slug="later", meeting_url=ZOOM, starts_at=utcnow() + timedelta(days=5))
    member = create_user()
    session.commit()
    client = signed_in_client(member)
    press_register(client, "later")
    assert "/join/" not in client.get("/events/later").get_data(as_text=True)
    assert "/join/" not in mails(session, recipient=member.email)[0].body_text
    assert "the day before" in mails(session, recipient=member.email)[0].body_text


def test_mail_link_cancels_only_after_the_button_is_pressed(signed_in_client, client, session):
    event = create_event(slug="mail-cancel", capacity=2)
    member = create_user()
    session.commit()
    press_register(signed_in_client(member), "mail-cancel")
    path = re.search(r"http://meetups\.test(/r/\S+)", mails(session)[0].body_text).group(1)
    with client.session_transaction() as s:
        s.clear()

    page = client.get(path)
    assert page.status_code == 200 and "Yes, cancel" in page.get_data(as_text=True)
    assert registration_of(session, member, event).status == RegistrationStatus.CONFIRMED
    assert client.post(path).status_code == 400  # no CSRF token: nothing changes
    assert registration_of(session, member, event).status == RegistrationStatus.CONFIRMED

    done = client.post(path, data={"csrf_token": csrf_token_for(client)})
    assert "You cancelled your registration for" in done.get_data(as_text=True)
    assert registration_of(session, member, event).status == RegistrationStatus.CANCELLED
    assert client.get(path[:-3] + "xyz").status_code == 404  # forged


def test_someone_elses_registration_is_404_and_unchanged(signed_in_client, session):
    event = create_event(slug="private", capacity=2)
    owner, intruder = create_user(), create_user()
    session.commit()
    press_register(signed_in_client(owner), "private")
    registration = registration_of(session, owner, event)
    assert press_cancel(signed_in_client(intruder), registration.id).status_code == 404
    assert registration_of(session, owner, event).status == RegistrationStatus.CONFIRMED


def test_bad_requests_get_clear_answers_and_change_nothing(signed_in_client, session):
    from webapp.events.models import EventStatus

    create_event(slug="called-off", status=EventStatus.CANCELLED)
    create_event(slug="open", capacity=3)
    member = create_user()
    session.commit()
    client = signed_in_client(member)

    assert press_register(client, "no-such-event").status_code == 404
    refused = press_register(client, "called-off", htmx=False)
    assert refused.status_code == 409 and "cancelled" in refused.get_data(as_text=True)
    # htmx swaps only 2xx: the panel carries the refusal in its words.
    refused = press_register(client, "called-off")
    assert refused.status_code == 200 and "cancelled" in refused.get_data(as_text=True)
    too_long = press_register(client, "open", accessibility_needs="x" * 1200, htmx=False)
    assert too_long.status_code == 422 and "at most 1,000 characters" in too_long.get_data(as_text=True)
    no_csrf = client.post("/events/open/register")
    assert no_csrf.status_code == 400 and "nothing was changed" in no_csrf.get_data(as_text=True)
    # htmx swaps no 400, so it gets the explanation as a 200 aimed at the page's content.
    no_csrf = client.post("/events/open/register", headers={"HX-Request": "true"})
    assert no_csrf.status_code == 200 and no_csrf.headers["HX-Retarget"] == "#main > .wrap"
    assert "nothing was changed" in no_csrf.get_data(as_text=True)
    assert session.scalar(select(Registration.id)) is None
    assert mails(session) == []


def test_my_events_lists_registrations_with_waitlist_position(signed_in_client, session):
    create_event(slug="one-seat", title="One seat event", capacity=1)
    create_event(slug="open-event", title="Open event")
    first, me = create_user(), create_user()
    session.commit()
    press_register(signed_in_client(first), "one-seat")
    client = signed_in_client(me)
    press_register(client, "one-seat")
    press_register(client, "open-event")
    html = client.get("/my/events").get_data(as_text=True)
    assert "One seat event" in html and "Waitlist, number 1" in html
    assert "Open event" in html and "Registered" in html


def test_my_events_needs_sign_in(client):
    response = client.get("/my/events")
    assert response.status_code in (302, 303) and "/sign-in" in response.headers["Location"]


def test_registration_changes_are_rate_limited_per_member(app, signed_in_client, session):
    app.config["REGISTRATION_LIMIT_PER_MEMBER"] = "2 per hour"
    event = create_event(slug="flappy", capacity=3)
    member = create_user()
    session.commit()
    client = signed_in_client(member)
    press_register(client, "flappy")
    press_cancel(client, registration_of(session, member, event).id)
    refused = press_register(client, "flappy")
    assert refused.status_code == 429
    assert "Please wait a few minutes" in refused.get_data(as_text=True)
    assert registration_of(session, member, event).status == RegistrationStatus.CANCELLED
    assert len(mails(session, recipient=member.email)) == 2


def test_replies_to_registration_mail_reach_the_groups_organizers(signed_in_client, session):
    from webapp.groups.models import GroupOrganizer

    group = create_group(organizers=[])
    organizer_account = create_user(email="esther@example.org")
    group.organizers.append(GroupOrganizer(name="Esther", role="Organizer", position=0, user_id=organizer_account.id))
    group.organizers.append(GroupOrganizer(name="Invited", role="Co-organizer", position=1, email="co@example.org"))
    create_event(group, slug="with-organizers")
    create_event(slug="metro-hosted")
    member = create_user()
    session.commit()
    client = signed_in_client(member)
    press_register(client, "with-organizers")
    press_register(client, "metro-hosted")
    group_mail, metro_mail = mails(session, recipient=member.email)
    assert group_mail.reply_to == "esther@example.org, co@example.org"
    assert metro_mail.reply_to is None


def test_a_registration_is_a_few_statements_and_reads_nothing_back(app, signed_in_client, session):
    """Issue 3: in a burst everyone queues behind the event's lock, so each statement counts.

    Under the lock: the lock itself (returning the event), the member's registration, the counts,
    the new row and its mail (no max(queue_number), no dedup SELECT). After the commit nothing of
    the registration is read back: the panel shows what was just written (and the Going list).
    """
    from sqlalchemy import event as sa_event

    from webapp.db import db
    from webapp.events.models import Event

    event_id = create_event(slug="burst", capacity=1).id
    first, second = create_user(), create_user()
    session.commit()
    press_register(signed_in_client(first), "burst")
    client = signed_in_client(second)
    data = {"csrf_token": csrf_token_for(client)}
    session.remove()  # a request of its own, as in production: nothing loaded yet
    statements = []

    def note(conn, cursor, statement, parameters, context, executemany):
        while (outer := re.sub(r"\([^()]*\)", "", statement)) != statement:  # subqueries left out
            statement = outer
        words = statement.split()  # SELECT ... FROM t / INSERT INTO t / UPDATE t
        table = words[words.index("FROM") + 1] if words[0] == "SELECT" else words[2 if words[0] == "INSERT" else 1]
        statements.append((words[0], table))

    sa_event.listen(db.engine, "before_cursor_execute", note)
    try:
        response = client.post("/events/burst/register", data=data, headers={"HX-Request": "true"})
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", note)

    assert "You’re on the waitlist, number 1 in line." in response.get_data(as_text=True)
    assert statements == [
        ("SELECT", "events"), ("SELECT", "users"),  # before the lock: the event's id, the member
        ("UPDATE", "events"),  # the lock, returning the event as locked
        ("SELECT", "registrations"), ("UPDATE", "events"), ("INSERT", "registrations"),
        ("INSERT", "outbox_mails"),
        # After the commit, in a transaction of its own: the page cache's version (in Redis when
        # there is one, as in production; the tests have none).
        ("UPDATE", "content_versions"),
        # The panel's Going list (names of the confirmed who chose to be shown): others' rows,
        # one query after the lock is released (the event's shown registrations, then their
        # members), not the registration read back.
        ("WITH", "shown"),
    ]
    registration = registration_of(session, second, session.get(Event, event_id))
    assert (registration.status, registration.queue_number) == (RegistrationStatus.WAITLISTED, 1)
    assert session.get(Event, event_id).next_queue_number == 2
    assert len(mails(session, recipient=second.email)) == 1


def test_a_mail_cancel_link_dies_with_its_registration(signed_in_client, client, session):
    """A forwarded mail cannot cancel the member's later registration for the same event."""
    event = create_event(slug="forwarded", capacity=5)
    member = create_user()
    session.commit()
    member_client = signed_in_client(member)
    press_register(member_client, "forwarded")
    old_path = re.search(r"http://meetups\.test(/r/\S+)", mails(session)[0].body_text).group(1)
    assert client.get(old_path).headers["Cache-Control"] == "no-store"  # personal: never cached
    registration = registration_of(session, member, event)
    member_client.post(f"/registrations/{registration.id}/cancel",
                       data={"csrf_token": csrf_token_for(member_client)})
    assert registration_of(session, member, event).status == RegistrationStatus.CANCELLED
    press_register(member_client, "forwarded")  # registers again: the same row, a new generation
    assert registration_of(session, member, event).status == RegistrationStatus.CONFIRMED

    with client.session_transaction() as s:
        s.clear()
    page = client.get(old_path)
    assert page.status_code == 410
    assert "This link was for an earlier registration" in page.get_data(as_text=True)
    assert "Cancel my registration" not in page.get_data(as_text=True)
    refused = client.post(old_path, data={"csrf_token": csrf_token_for(client)})
    assert refused.status_code == 410
    assert registration_of(session, member, event).status == RegistrationStatus.CONFIRMED

    new_path = re.search(r"http://meetups\.test(/r/\S+)", mails(session, recipient=member.email)[-1].body_text).group(1)
    assert new_path != old_path
    assert client.post(new_path, data={"csrf_token": csrf_token_for(client)}).status_code == 200
    assert registration_of(session, member, event).status == RegistrationStatus.CANCELLED


def test_a_cancel_link_mailed_before_links_carried_a_generation_still_works_for_the_first(client, session, app):
    from itsdangerous import URLSafeTimedSerializer

    event = create_event(slug="old-mail", capacity=5)
    member = create_user()
    session.commit()
    from webapp.registrations import services as registration_services

    registration = registration_services.register(session, event.id, member=member, now=utcnow()).registration
    session.commit()
    legacy = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="manage-registration").dumps(
        {"r": registration.id, "u": member.id})
    assert client.get(f"/r/{legacy}").status_code == 200
    registration.generation = 2  # cancelled and registered again since that mail
    session.commit()
    assert client.get(f"/r/{legacy}").status_code == 410
