""""Still coming?": who is asked and when, answering from the mail, the event page and My events,
releasing the seats nobody answered for, and what organizers see. Both databases, a fixed clock."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from tests.conftest import csrf_token_for, post_form
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.html import parse
from tests.support.outbox import mails
from tests.support.servers import free_port
from webapp.events.models import Event
from webapp.outbox.models import MailState
from webapp.outbox.services import send_outbox_mail
from webapp.registrations import services, still_coming
from webapp.registrations.models import AttendanceAnswer, Registration, RegistrationStatus

pytestmark = pytest.mark.usefixtures("fresh_request_globals")

T0 = datetime(2027, 3, 1, 15, tzinfo=UTC)  # when the tests register
STARTS = T0 + timedelta(days=10)
ASK = STARTS - timedelta(hours=72)  # STILL_COMING_HOURS before
RELEASE = STARTS - timedelta(hours=24)  # RELEASE_UNCONFIRMED_HOURS before


@pytest.fixture
def freeze(monkeypatch, app):
    """freeze(datetime): every registrations request after it sees that instant."""
    def set_now(now: datetime):
        monkeypatch.setattr("webapp.registrations.views.utcnow", lambda: now)
        monkeypatch.setattr("webapp.organize.views.utcnow", lambda: now, raising=False)
    set_now(T0)
    return set_now


def full_event(session, *, seats=2, waiting=1, release=False, **fields):
    """A capped event with `seats` confirmed attendees and `waiting` people in line, in that order."""
    group = create_group()
    event = create_event(group, capacity=seats, starts_at=STARTS, is_releasing_unconfirmed_seats=release,
                         **fields)
    people = [create_user(display_name=f"Person {n}") for n in range(seats + waiting)]
    for n, person in enumerate(people):
        services.register(session, event.id, member=person, now=T0 + timedelta(minutes=n))
    session.commit()
    return event, [registration_of(session, event, p) for p in people]


@pytest.fixture
def deliver(monkeypatch, session):
    """deliver(at, *recipients): the outbox really sends the "Still coming?" mails still pending
    (to all, or to these addresses) into the test's mail folder, the send stamped `at` (its clock)."""
    def send(at: datetime, *recipients: str) -> list[MailState | None]:
        monkeypatch.setattr("webapp.outbox.services.utcnow", lambda: at)
        pending = [m for m in mails(session, kind="still_coming")
                   if m.state != MailState.SENT and (not recipients or m.recipient in recipients)]
        return [send_outbox_mail(session, m.id, now=at) for m in pending]
    return send


@pytest.fixture
def smtp_down(monkeypatch, app):
    """While it runs: the outbox sends by SMTP to a port where nothing listens (connection refused)."""
    from contextlib import contextmanager

    @contextmanager
    def down():
        with monkeypatch.context() as m:
            m.setitem(app.config, "MAIL_BACKEND", "smtp")
            m.setattr(app.extensions["mail"], "server", "127.0.0.1")
            m.setattr(app.extensions["mail"], "port", free_port())
            yield m
    return down


def registration_of(session, event, member) -> Registration:
    return session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                     Registration.user_id == member.id))


def fresh(session, registration) -> Registration:
    session.expire_all()
    return session.get(Registration, registration.id)


def link_in(mail, answer: str) -> str:
    return re.search(rf"http://meetups\.test(/still-coming/\S+/{answer})\n", mail.body_text).group(1)


# --- who is asked, and once ----------------------------------------------------------------------

def test_confirmed_attendees_of_a_full_event_with_a_waitlist_are_asked_once(session):
    event, (first, second, waiting) = full_event(session)

    assert still_coming.queue_due_still_coming(session, now=ASK - timedelta(minutes=1)) == []  # not yet
    asked = still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()

    assert sorted(m.recipient for m in asked) == sorted([first.user.email, second.user.email])
    [mail] = mails(session, kind="still_coming", recipient=first.user.email)
    assert mail.subject == f"Still coming? {event.title}" and "1 person is waiting" in mail.body_text
    assert "/still-coming/" in link_in(mail, "yes") and link_in(mail, "free")
    assert fresh(session, first).still_coming_asked_at == ASK
    # A second sweep (or a duplicated task) asks nobody again.
    assert still_coming.queue_due_still_coming(session, now=ASK + timedelta(hours=1)) == []
    assert len(mails(session, kind="still_coming")) == 2


def test_nobody_is_asked_without_a_waitlist_or_a_capacity(session):
    not_full, _ = full_event(session, seats=3, waiting=0)
    open_event = create_event(create_group(), capacity=None, starts_at=STARTS)
    services.register(session, open_event.id, member=create_user(), now=T0)
    session.commit()

    assert still_coming.queue_due_still_coming(session, now=ASK) == []


def test_a_line_that_forms_later_is_asked_about_then(session):
    event, (first, second) = full_event(session, seats=2, waiting=0)
    assert still_coming.queue_due_still_coming(session, now=ASK) == []
    services.register(session, event.id, member=create_user(), now=ASK + timedelta(hours=5))
    session.commit()

    asked = still_coming.queue_due_still_coming(session, now=ASK + timedelta(hours=6))

    assert len(asked) == 2


# --- answering from the mail ---------------------------------------------------------------------

def test_free_my_seat_from_the_mail_cancels_and_promotes_the_next_person(client, session, freeze):
    event, (first, second, waiting) = full_event(session)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    path = link_in(mails(session, kind="still_coming", recipient=first.user.email)[0], "free")
    freeze(ASK + timedelta(hours=1))

    page = client.get(path)
    assert page.status_code == 200 and "Free my seat" in page.get_data(as_text=True)
    assert fresh(session, first).status == RegistrationStatus.CONFIRMED  # a GET changes nothing

    done = post_form(client, path)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Your seat went to the next person in line." in html
    first, waiting = fresh(session, first), fresh(session, waiting)
    assert first.status == RegistrationStatus.CANCELLED and first.attendance_answer == AttendanceAnswer.FREED
    assert waiting.status == RegistrationStatus.CONFIRMED
    # The same mails as any cancellation.
    assert [m.recipient for m in mails(session, kind="registration_cancelled")] == [first.user.email]
    assert [m.recipient for m in mails(session, kind="registration_promoted")] == [waiting.user.email]

    again = post_form(client, path)  # a replay changes nothing, calmly
    assert again.status_code == 200 and "was already cancelled, so nothing changed" in again.get_data(as_text=True)
    assert len(mails(session, kind="registration_promoted")) == 1


def test_the_attendee_list_has_no_still_coming_column_until_someone_was_asked(signed_in_client, session):
    # The column would only say "Not asked" on most events, and the table must fit a laptop.
    event, (first, _second, _waiting) = full_event(session)
    client = signed_in_client(organizer_of(event.group))
    headers = lambda: [th.get_text() for th in parse(client.get(  # noqa: E731
        f"/events/{event.slug}/attendees").get_data(as_text=True)).select("[aria-labelledby=confirmed-title] thead th")]
    assert headers() and "Still coming" not in headers()
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    assert "Still coming" in headers()


def test_yes_from_the_mail_is_recorded_once_and_organizers_see_it(client, signed_in_client, session, freeze,
                                                                   deliver):
    event, (first, second, waiting) = full_event(session)
    organizer = organizer_of(event.group)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    path = link_in(mails(session, kind="still_coming", recipient=first.user.email)[0], "yes")
    freeze(ASK + timedelta(hours=2))

    assert "Yes, I’ll be there" in client.get(path).get_data(as_text=True)
    done = post_form(client, path).get_data(as_text=True)
    assert "Thank you: see you there." in done
    first = fresh(session, first)
    assert first.attendance_answer == AttendanceAnswer.YES and first.answered_at == ASK + timedelta(hours=2)
    again = post_form(client, path).get_data(as_text=True)
    assert "You had already told us you’re coming, so nothing changed." in again

    organizer_client = signed_in_client(organizer)
    html = organizer_client.get(f"/events/{event.slug}/attendees").get_data(as_text=True)
    row = re.search(rf'<tr id="registration-{first.id}".*?</tr>', html, re.S).group(0)
    assert '<td class="still-coming-cell"><span class="badge badge-seats">Yes</span>' in row
    other = re.search(rf'<tr id="registration-{second.id}".*?</tr>', html, re.S).group(0)
    assert "No answer" in other
    rows = {r["Email"]: r for r in csv.DictReader(io.StringIO(
        organizer_client.get(f"/events/{event.slug}/attendees.csv").get_data(as_text=True)))}
    assert rows[first.user.email]["Still coming"] == "Yes"
    assert rows[second.user.email]["Still coming"] == "No answer"
    assert rows[waiting.user.email]["Still coming"] == ""


def test_a_forged_token_or_an_unknown_answer_is_not_found(client, session, freeze):
    event, (first, *_rest) = full_event(session)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    path = link_in(mails(session, kind="still_coming", recipient=first.user.email)[0], "yes")

    assert client.get(path.replace("/yes", "/maybe")).status_code == 404
    assert client.get("/still-coming/not-a-token/yes").status_code == 404
    # One character of the signature changed (to another one: a random "x" would forge nothing).
    forged = path[:-10] + ("y" if path[-10] == "x" else "x") + path[-9:]
    assert post_form(client, forged).status_code == 404
    assert client.get(path + "\u00e9").status_code == 404
    assert fresh(session, first).attendance_answer is None


def test_a_link_from_before_registering_again_answers_nothing(client, session, freeze):
    event, (first, second, waiting) = full_event(session)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    path = link_in(mails(session, kind="still_coming", recipient=first.user.email)[0], "yes")
    services.cancel(session, first, now=ASK)
    services.register(session, event.id, member=first.user, now=ASK)  # the end of the line now
    session.commit()

    response = post_form(client, path)

    assert response.status_code == 410
    assert fresh(session, first).attendance_answer is None


def test_after_the_start_the_answer_is_refused_with_the_reason(client, session, freeze):
    event, (first, *_rest) = full_event(session)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    path = link_in(mails(session, kind="still_coming", recipient=first.user.email)[0], "free")
    freeze(STARTS + timedelta(minutes=5))

    response = post_form(client, path)

    assert response.status_code == 409
    assert "This event has started" in response.get_data(as_text=True)
    assert fresh(session, first).status == RegistrationStatus.CONFIRMED


# --- answering while signed in ----------------------------------------------------------------------

def test_a_signed_in_member_answers_yes_from_the_event_page(signed_in_client, session, freeze):
    event, (first, *_rest) = full_event(session, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    freeze(ASK + timedelta(hours=1))
    client = signed_in_client(first.user)

    page = client.get(f"/events/{event.slug}").get_data(as_text=True)
    assert "Still coming?" in page and "Yes, I’ll be there" in page
    response = client.post(f"/registrations/{first.id}/still-coming",
                           data={"csrf_token": csrf_token_for(client), "back": "event"},
                           headers={"HX-Request": "true"})

    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="registration-panel"')
    assert "You told the organizers you’re coming." in html
    assert fresh(session, first).attendance_answer == AttendanceAnswer.YES
    my_events = client.get("/my/events").get_data(as_text=True)
    assert "You told the organizers you’re coming." in my_events


def test_the_answer_needs_the_csrf_token(signed_in_client, session, freeze):
    event, (first, *_rest) = full_event(session)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    client = signed_in_client(first.user)

    assert client.post(f"/registrations/{first.id}/still-coming", data={"back": "event"}).status_code == 400
    assert fresh(session, first).attendance_answer is None


def test_someone_elses_registration_cannot_be_answered(signed_in_client, session, freeze):
    event, (first, second, _waiting) = full_event(session)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    client = signed_in_client(second.user)

    assert post_form(client, f"/registrations/{first.id}/still-coming").status_code == 404
    assert fresh(session, first).attendance_answer is None


# --- releasing unanswered seats ------------------------------------------------------------------------

def test_release_is_off_by_default(session):
    event, (first, second, waiting) = full_event(session)
    still_coming.queue_due_still_coming(session, now=ASK)

    assert services.release_unconfirmed_seats(session, event.id, now=RELEASE) is None
    assert still_coming.events_due_for_release(session, now=RELEASE) == []
    assert fresh(session, first).status == RegistrationStatus.CONFIRMED


def test_unanswered_seats_go_to_the_waitlist_and_the_released_wait_first(session, deliver):
    event, (yes, silent, waiting) = full_event(session, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    still_coming.answer_still_coming(session, yes, "yes", now=ASK + timedelta(hours=1))
    session.commit()
    assert services.release_unconfirmed_seats(session, event.id, now=RELEASE - timedelta(minutes=1)) is None

    assert still_coming.events_due_for_release(session, now=RELEASE) == [event.id]
    release = services.release_unconfirmed_seats(session, event.id, now=RELEASE)
    session.commit()

    assert [r.id for r in release.released] == [silent.id]
    assert [r.id for r in release.promoted] == [waiting.id]  # the seat did not go straight back
    yes, silent, waiting = fresh(session, yes), fresh(session, silent), fresh(session, waiting)
    assert yes.status == RegistrationStatus.CONFIRMED
    assert waiting.status == RegistrationStatus.CONFIRMED
    assert silent.status == RegistrationStatus.WAITLISTED and silent.released_at == RELEASE
    assert services.waitlist_position(session, silent) == 1
    event = session.get(Event, event.id)
    assert (event.confirmed_count, event.waitlist_count) == (2, 1)
    [told] = mails(session, kind="seat_released")
    assert told.recipient == silent.user.email and "number 1 in line" in told.body_text
    assert [m.recipient for m in mails(session, kind="registration_promoted")] == [waiting.user.email]

    # Someone who registers later waits behind the released member; the next free seat is theirs.
    later = create_user()
    services.register(session, event.id, member=later, now=RELEASE + timedelta(hours=1))
    services.cancel(session, yes, now=RELEASE + timedelta(hours=2))
    session.commit()
    assert fresh(session, silent).status == RegistrationStatus.CONFIRMED
    assert registration_of(session, event, later).status == RegistrationStatus.WAITLISTED

    # Released once: a later sweep neither releases nor mails them again.
    assert services.release_unconfirmed_seats(session, event.id, now=RELEASE + timedelta(hours=3)) is None
    assert len(mails(session, kind="seat_released")) == 1


def test_no_more_seats_are_released_than_people_wait_latest_seats_first(session, deliver):
    event, regs = full_event(session, seats=4, waiting=2, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    first, second, third, fourth, wait1, wait2 = regs

    release = services.release_unconfirmed_seats(session, event.id, now=RELEASE)
    session.commit()

    # Two people waiting, four silent: the two most recent seats are released, in their own order.
    assert [r.id for r in release.released] == [third.id, fourth.id]
    assert [r.id for r in release.promoted] == [wait1.id, wait2.id]
    assert fresh(session, first).status == RegistrationStatus.CONFIRMED
    assert [services.waitlist_position(session, fresh(session, r)) for r in (third, fourth)] == [1, 2]


def test_someone_asked_after_the_release_deadline_keeps_their_seat(session, deliver):
    event, (first, second, waiting) = full_event(session, release=True)
    still_coming.queue_due_still_coming(session, now=RELEASE + timedelta(minutes=5))  # asked late
    session.commit()
    deliver(RELEASE + timedelta(minutes=5))

    assert services.release_unconfirmed_seats(session, event.id, now=RELEASE + timedelta(minutes=10)) is None
    assert fresh(session, first).status == RegistrationStatus.CONFIRMED


def test_a_question_stuck_in_the_outbox_releases_no_seat(signed_in_client, session, deliver, smtp_down,
                                                         monkeypatch, app):
    # Five silent seat holders, five waiting. Only one question reached its member in time: the
    # others are queued (no worker ran), retrying (SMTP down), failed, or came too late to answer.
    event, regs = full_event(session, seats=5, waiting=5, release=True)
    delivered, queued, retrying, failed, late = regs[:5]
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    assert deliver(ASK, delivered.user.email) == [MailState.SENT]
    with smtp_down() as down:
        assert deliver(ASK + timedelta(hours=1), retrying.user.email) == [MailState.RETRYING]
        down.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 1)
        assert deliver(ASK + timedelta(hours=1), failed.user.email) == [MailState.FAILED]
    notice = timedelta(hours=app.config["STILL_COMING_NOTICE_HOURS"])
    assert deliver(RELEASE - notice + timedelta(minutes=1), late.user.email) == [MailState.SENT]
    assert {m.recipient: m.state for m in mails(session, kind="still_coming")} == {
        delivered.user.email: MailState.SENT, queued.user.email: MailState.QUEUED,
        retrying.user.email: MailState.RETRYING, failed.user.email: MailState.FAILED,
        late.user.email: MailState.SENT}

    assert still_coming.events_due_for_release(session, now=RELEASE) == [event.id]
    release = services.release_unconfirmed_seats(session, event.id, now=RELEASE)
    session.commit()

    assert [r.id for r in release.released] == [delivered.id]
    assert [r.id for r in release.promoted] == [regs[5].id]
    for kept in (queued, retrying, failed, late):
        assert fresh(session, kept).status == RegistrationStatus.CONFIRMED, kept.user.email
    assert [m.recipient for m in mails(session, kind="seat_released")] == [delivered.user.email]
    # A later sweep (the stuck mails still stuck) releases nobody else.
    assert services.release_unconfirmed_seats(session, event.id, now=RELEASE + timedelta(hours=1)) is None

    # The organizers read who was never reached.
    client = signed_in_client(organizer_of(event.group))
    html = client.get(f"/events/{event.slug}/attendees").get_data(as_text=True)
    for registration, says in ((queued, "Not asked: mail not delivered"), (retrying, "Not asked: mail not delivered"),
                               (failed, "Not asked: mail not delivered"), (late, "No answer")):
        row = re.search(rf'<tr id="registration-{registration.id}".*?</tr>', html, re.S).group(0)
        assert says in row, registration.user.email
    rows = {r["Email"]: r for r in csv.DictReader(io.StringIO(
        client.get(f"/events/{event.slug}/attendees.csv").get_data(as_text=True)))}
    assert rows[queued.user.email]["Still coming"] == "Not asked: mail not delivered"
    assert rows[failed.user.email]["Still coming"] == "Not asked: mail not delivered"
    assert rows[late.user.email]["Still coming"] == "No answer"
    assert rows[delivered.user.email]["Still coming"] == "Released"


def test_a_question_delivered_once_the_smtp_server_is_back_counts_from_then(session, deliver, smtp_down, app):
    event, (first, second, waiting) = full_event(session, seats=2, waiting=1, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    with smtp_down():
        assert deliver(ASK) == [MailState.RETRYING, MailState.RETRYING]
    notice = timedelta(hours=app.config["STILL_COMING_NOTICE_HOURS"])
    deliver(RELEASE - notice, first.user.email)  # back just in time for first: a full day to answer

    release = services.release_unconfirmed_seats(session, event.id, now=RELEASE)
    session.commit()

    # The latest seat would go first, but second's question is still in the outbox.
    assert [r.id for r in release.released] == [first.id]
    assert fresh(session, second).status == RegistrationStatus.CONFIRMED


def test_a_later_release_waits_behind_an_earlier_one_each_in_registration_order(session, deliver):
    event, regs = full_event(session, seats=4, waiting=1, release=True)
    first, second, third, fourth, wait1 = regs
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)

    sweep1 = services.release_unconfirmed_seats(session, event.id, now=RELEASE)
    session.commit()
    assert [r.id for r in sweep1.released] == [fourth.id]  # one person waiting: the latest seat
    wait2, wait3 = create_user(), create_user()
    for n, member in enumerate((wait2, wait3), start=1):
        services.register(session, event.id, member=member, now=RELEASE + timedelta(hours=n))
    session.commit()

    sweep2 = services.release_unconfirmed_seats(session, event.id, now=RELEASE + timedelta(hours=3))
    session.commit()
    # Two new people waiting: two more seats, and they go to them, not to the one released before.
    assert sorted(r.id for r in sweep2.released) == sorted([second.id, third.id])
    assert [r.user_id for r in sweep2.promoted] == [wait2.id, wait3.id]
    later = create_user()
    services.register(session, event.id, member=later, now=RELEASE + timedelta(hours=4))
    session.commit()

    line = [r.id for r in session.scalars(
        select(Registration).where(Registration.event_id == event.id,
                                   Registration.status == RegistrationStatus.WAITLISTED)
        .order_by(Registration.queue_number))]
    # The released in release order (each batch in registration order), then the rest of the line.
    assert line == [fourth.id, second.id, third.id, registration_of(session, event, later).id]
    assert [services.waitlist_position(session, fresh(session, r)) for r in (fourth, second, third)] == [1, 2, 3]
    # A third sweep: `later` is the one waiting who is not released, so first's (silent) seat is
    # theirs, and first queues behind the two earlier batches.
    sweep3 = services.release_unconfirmed_seats(session, event.id, now=RELEASE + timedelta(hours=5))
    session.commit()
    assert [r.id for r in sweep3.released] == [first.id] and [r.id for r in sweep3.promoted] == [
        registration_of(session, event, later).id]
    assert line[:3] + [first.id] == [r.id for r in session.scalars(
        select(Registration).where(Registration.event_id == event.id,
                                   Registration.status == RegistrationStatus.WAITLISTED)
        .order_by(Registration.queue_number))]
    # The next free seat goes to the head of the line: the first released.
    services.cancel(session, fresh(session, wait1), now=RELEASE + timedelta(hours=6))
    session.commit()
    assert fresh(session, fourth).status == RegistrationStatus.CONFIRMED


def test_a_released_member_who_leaves_and_registers_again_waits_like_anyone(session, deliver):
    event, (first, second, third, wait1, wait2) = full_event(session, seats=3, waiting=2, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    services.release_unconfirmed_seats(session, event.id, now=RELEASE)  # second's and third's seats
    services.cancel(session, fresh(session, third), now=RELEASE + timedelta(minutes=1))
    services.register(session, event.id, member=third.user, now=RELEASE + timedelta(minutes=2))
    newcomer = create_user()
    services.register(session, event.id, member=newcomer, now=RELEASE + timedelta(minutes=3))
    session.commit()
    third = fresh(session, third)
    assert third.released_at is None and services.waitlist_position(session, third) == 2  # behind second

    # The next release: first's seat goes down the line past second (released, silent) to third,
    # who registered again and is not among the released; first waits behind second.
    release = services.release_unconfirmed_seats(session, event.id, now=RELEASE + timedelta(hours=1))
    session.commit()
    assert [r.id for r in release.released] == [first.id] and [r.id for r in release.promoted] == [third.id]
    newcomer = registration_of(session, event, newcomer)
    assert [services.waitlist_position(session, fresh(session, r)) for r in (second, first, newcomer)] == [1, 2, 3]


def test_yes_after_the_release_keeps_first_place_and_takes_no_seat_from_anyone(client, session, freeze, deliver):
    event, (first, second, waiting) = full_event(session, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    path = link_in(mails(session, kind="still_coming", recipient=second.user.email)[0], "yes")
    services.release_unconfirmed_seats(session, event.id, now=RELEASE)  # the most recent seat: second's
    session.commit()
    freeze(RELEASE + timedelta(hours=1))

    page = client.get(path).get_data(as_text=True)
    assert "your seat went to someone who was waiting" in page and "number 1 in line" in page
    assert "Still coming after all?" in page and "Yes, I’ll be there" in page
    done = post_form(client, path)
    html = done.get_data(as_text=True)
    assert done.status_code == 200
    assert "Your seat had been released; you are first in line and will get the next free seat." in html
    second, waiting = fresh(session, second), fresh(session, waiting)
    assert second.status == RegistrationStatus.WAITLISTED and second.attendance_answer == AttendanceAnswer.YES
    assert waiting.status == RegistrationStatus.CONFIRMED  # the seat given stays given
    assert [m.recipient for m in mails(session, kind="registration_promoted")] == [waiting.user.email]
    again = post_form(client, path).get_data(as_text=True)
    assert "You had already told us you’re coming, so nothing changed." in again
    assert "you are first in line" in client.get(path).get_data(as_text=True)

    # The next free seat is theirs.
    services.cancel(session, fresh(session, first), now=RELEASE + timedelta(hours=2))
    session.commit()
    assert fresh(session, second).status == RegistrationStatus.CONFIRMED
    assert mails(session, kind="registration_promoted")[-1].recipient == second.user.email


def test_yes_after_the_release_takes_a_free_seat_back_at_once_if_nobody_is_ahead(client, session, freeze, deliver):
    event, (first, second, third, waiting) = full_event(session, seats=3, waiting=1, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    services.release_unconfirmed_seats(session, event.id, now=RELEASE)  # third's seat, to `waiting`
    services.register(session, event.id, member=create_user(), now=RELEASE)
    services.release_unconfirmed_seats(session, event.id, now=RELEASE + timedelta(minutes=1))  # second's
    # A seat free while the line waits. No path of the app leaves one (every freed seat goes down
    # the line at once), so the test makes it, to pin the rule for the moment one is.
    session.execute(update(Event).where(Event.id == event.id).values(capacity=Event.capacity + 1))
    session.commit()
    freeze(RELEASE + timedelta(hours=1))
    assert [services.waitlist_position(session, fresh(session, r)) for r in (third, second)] == [1, 2]

    # Someone ahead of them: second waits, and the free seat is not theirs to take.
    path = link_in(mails(session, kind="still_coming", recipient=second.user.email)[0], "yes")
    html = post_form(client, path).get_data(as_text=True)
    assert ("Your seat had been released; you are number 2 in line, behind one person whose seat was also "
            "released, and will get a seat as soon as they have one.") in html
    assert fresh(session, second).status == RegistrationStatus.WAITLISTED

    # The head of the line says yes: the free seat is theirs at once, and nobody else's is touched.
    path = link_in(mails(session, kind="still_coming", recipient=third.user.email)[0], "yes")
    html = post_form(client, path).get_data(as_text=True)
    assert "Thank you: your seat is yours again." in html
    third = fresh(session, third)
    assert third.status == RegistrationStatus.CONFIRMED and third.attendance_answer == AttendanceAnswer.YES
    assert fresh(session, waiting).status == RegistrationStatus.CONFIRMED
    event = session.get(Event, event.id)
    assert (event.confirmed_count, event.waitlist_count) == (event.capacity, 1)
    assert mails(session, kind="registration_promoted")[-1].recipient == third.user.email
    # Released once, third keeps the seat they have back; second, who said yes, is no longer
    # passed over: the next release (first, silent) gives them that seat.
    release = services.release_unconfirmed_seats(session, event.id, now=RELEASE + timedelta(hours=2))
    assert [r.id for r in release.released] == [first.id] and [r.id for r in release.promoted] == [second.id]
    assert fresh(session, third).status == RegistrationStatus.CONFIRMED


def test_a_released_member_says_yes_alike_from_the_event_page_and_my_events(signed_in_client, session, freeze,
                                                                          deliver):
    event, (first, second, wait1, wait2) = full_event(session, seats=2, waiting=2, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    services.release_unconfirmed_seats(session, event.id, now=RELEASE)  # both, in registration order
    session.commit()
    freeze(RELEASE + timedelta(hours=1))

    answers = {}
    for registration, back, url in ((first, "event", f"/events/{event.slug}"), (second, "my-events", "/my/events")):
        client = signed_in_client(registration.user)
        page = client.get(url).get_data(as_text=True)
        assert "Still coming after all?" in page and "Yes, I’ll be there" in page, back
        response = client.post(f"/registrations/{registration.id}/still-coming",
                               data={"csrf_token": csrf_token_for(client), "back": back},
                               headers={"HX-Request": "true"})
        answers[back] = response.get_data(as_text=True)
        assert response.status_code == 200
        assert fresh(session, registration).attendance_answer == AttendanceAnswer.YES
        assert fresh(session, registration).status == RegistrationStatus.WAITLISTED
        # The same sentence on the other page, after a reload.
        other = "/my/events" if back == "event" else f"/events/{event.slug}"
        assert "You told the organizers you’re coming. Your seat had been released;" in client.get(other).get_data(
            as_text=True), back
    assert answers["event"].lstrip().startswith('<section id="registration-panel"')
    assert "you are first in line and will get the next free seat." in answers["event"]
    assert answers["my-events"].lstrip().startswith(f'<li class="group-card" id="registration-{second.id}"')
    assert "you are number 2 in line, behind one person whose seat was also released" in answers["my-events"]
    assert [fresh(session, r).status for r in (wait1, wait2)] == [RegistrationStatus.CONFIRMED] * 2


def test_the_still_coming_mail_is_dropped_if_they_answered_before_it_went(session):
    event, (first, second, _waiting) = full_event(session)
    queued = {m.recipient: m for m in still_coming.queue_due_still_coming(session, now=ASK)}
    session.commit()
    services.cancel(session, fresh(session, first), now=ASK)
    still_coming.answer_still_coming(session, fresh(session, second), "yes", now=ASK)
    session.commit()

    recheck = still_coming.recheck_still_coming
    assert recheck(session, queued[first.user.email], ASK) == "the registration is no longer confirmed"
    assert recheck(session, queued[second.user.email], ASK) == "they answered already"


# --- the organizer's choice and what members read ------------------------------------------------------

def test_the_event_form_turns_release_on_and_the_event_page_says_so(signed_in_client, client, session, freeze):
    event, _ = full_event(session, seats=2, waiting=0)
    organizer = organizer_of(event.group)
    session.commit()
    organizer_client = signed_in_client(organizer)
    form = organizer_client.get(f"/events/{event.slug}/edit").get_data(as_text=True)
    assert 'id="event-release"' in form and 'name="release_unconfirmed_seats"' in form
    assert re.search(r'<input type="checkbox" id="event-release"[^>]*>', form).group(0).count("checked") == 0

    def local(dt):
        return dt.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%dT%H:%M")
    data = dict(title=event.title, description=event.description, starts_at=local(event.starts_at),
                ends_at=local(event.ends_at), meeting_format="online", meeting_url=event.meeting_url,
                venue_name="", venue_address="", capacity="2", registration_opens_at="",
                registration_closes_at="", release_unconfirmed_seats="y")
    response = post_form(organizer_client, f"/events/{event.slug}/edit", data)
    assert response.status_code in (200, 303), response.get_data(as_text=True)[:2000]
    session.expire_all()
    assert session.get(Event, event.id).is_releasing_unconfirmed_seats is True

    organizer_client.get("/sign-out")
    page = client.get(f"/events/{event.slug}").get_data(as_text=True)
    assert 'id="release-note"' in page and "go to the waitlist" in page
    assert 'aria-describedby="release-note"' in page


def test_both_mails_link_to_my_events_and_say_the_time(session, deliver):
    event, _ = full_event(session, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    services.release_unconfirmed_seats(session, event.id, now=RELEASE)
    session.commit()

    sent = mails(session, kind="still_coming") + mails(session, kind="seat_released")
    assert {m.kind for m in sent} == {"still_coming", "seat_released"}
    for mail in sent:
        assert "(My events):\nhttp://meetups.test/my/events\n" in mail.body_text, mail.kind
        assert 'href="http://meetups.test/my/events"' in mail.body_html, mail.kind
        assert "UTC)" in mail.body_text, mail.kind
    release_mail = mails(session, kind="still_coming")[0]
    assert "If we haven't heard from you by Wednesday, March 10, 2027" in release_mail.body_text


def test_a_seat_that_came_after_the_release_deadline_is_not_asked_about(session):
    event, (first, second, waiting) = full_event(session)
    services.cancel(session, first, now=RELEASE + timedelta(hours=1))  # waiting gets the seat late
    session.commit()

    asked = still_coming.queue_due_still_coming(session, now=RELEASE + timedelta(hours=2))

    assert [m.recipient for m in asked] == []  # second: no line any more; waiting: seated late
    services.register(session, event.id, member=create_user(), now=RELEASE + timedelta(hours=3))
    session.commit()
    asked = still_coming.queue_due_still_coming(session, now=RELEASE + timedelta(hours=4))
    assert [m.recipient for m in asked] == [second.user.email]


def test_a_signed_in_member_answers_yes_from_my_events_and_a_released_one_reads_why(
        signed_in_client, session, freeze, deliver):
    event, (first, second, waiting) = full_event(session, release=True)
    still_coming.queue_due_still_coming(session, now=ASK)
    session.commit()
    deliver(ASK)
    freeze(ASK + timedelta(hours=1))
    client = signed_in_client(first.user)

    response = client.post(f"/registrations/{first.id}/still-coming",
                           data={"csrf_token": csrf_token_for(client), "back": "my-events"},
                           headers={"HX-Request": "true"})

    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<li class="group-card" id="registration-{first.id}"')
    assert "You told the organizers you’re coming." in html
    services.release_unconfirmed_seats(session, event.id, now=RELEASE)  # second's seat: no answer
    session.commit()
    freeze(RELEASE + timedelta(hours=1))
    page = signed_in_client(second.user).get(f"/events/{event.slug}").get_data(as_text=True)
    assert "so your seat went to someone who was waiting" in page and "number 1 in line" in page
