"""Each registration outcome queues its own mail: calling the service alone (no view) leaves the mail in
the outbox, so the Register button, the sign-in intent, the mail link, organizers, CLI and tasks all send
the same mails."""

from sqlalchemy import select

from tests.factories import create_event, create_user
from tests.support.outbox import as_sent
from webapp.db import utcnow
from webapp.outbox.models import OutboxMail
from webapp.registrations import services


def mails(session) -> list[tuple[str, str]]:
    """(kind, recipient) of every queued mail, oldest first."""
    return [(m.kind, m.recipient) for m in session.scalars(select(OutboxMail).order_by(OutboxMail.id))]


def test_registering_queues_the_confirmation_or_the_waitlist_mail(session):
    event = create_event(capacity=1)
    seated, waiting = create_user(email="seated@example.org"), create_user(email="waiting@example.org")

    services.register(session, event.id, member=seated, now=utcnow())
    services.register(session, event.id, member=waiting, now=utcnow())

    assert mails(session) == [("registration_confirmed", "seated@example.org"),
                              ("registration_waitlisted", "waiting@example.org")]
    waitlisted = as_sent(session.scalars(select(OutboxMail).where(OutboxMail.kind == "registration_waitlisted")).one())
    assert "number 1 in line" in waitlisted.body_text


def test_registering_again_while_registered_queues_nothing_more(session):
    event = create_event(capacity=5)
    member = create_user()
    services.register(session, event.id, member=member, now=utcnow())
    services.register(session, event.id, member=member, now=utcnow())
    assert [kind for kind, _ in mails(session)] == ["registration_confirmed"]


def test_cancelling_mails_the_member_and_the_one_a_freed_seat_promoted(session):
    event = create_event(capacity=1)
    holder, next_in_line = create_user(email="holder@example.org"), create_user(email="next@example.org")
    seat = services.register(session, event.id, member=holder, now=utcnow()).registration
    services.register(session, event.id, member=next_in_line, now=utcnow())

    services.cancel(session, seat, now=utcnow())
    services.cancel(session, seat, now=utcnow())  # a double click sends nothing more

    assert mails(session)[2:] == [("registration_cancelled", "holder@example.org"),
                                  ("registration_promoted", "next@example.org")]


def test_an_organizer_removing_someone_mails_them_and_the_one_promoted(session):
    event = create_event(capacity=1)
    organizer = create_user()
    seat = services.register(session, event.id, member=create_user(email="gone@example.org"), now=utcnow())
    services.register(session, event.id, member=create_user(email="next@example.org"), now=utcnow())

    services.remove(session, event.id, seat.registration.id, actor=organizer, now=utcnow())
    services.remove(session, event.id, seat.registration.id, actor=organizer, now=utcnow())

    assert mails(session)[2:] == [("registration_removed", "gone@example.org"),
                                  ("registration_promoted", "next@example.org")]


def test_an_organizer_giving_a_seat_by_hand_mails_the_member(session):
    event = create_event(capacity=1)
    services.register(session, event.id, member=create_user(), now=utcnow())
    waiting = services.register(session, event.id, member=create_user(email="lucky@example.org"), now=utcnow())

    outcome = services.promote_by_hand(session, event.id, waiting.registration.id, expected_capacity=1,
                                       now=utcnow())
    services.promote_by_hand(session, event.id, waiting.registration.id, expected_capacity=2, now=utcnow())

    assert outcome.capacity_raised == (1, 2)
    assert mails(session)[2:] == [("registration_promoted", "lucky@example.org")]


def test_raising_the_capacity_mails_everyone_it_seats(session):
    event = create_event(capacity=1)
    services.register(session, event.id, member=create_user(), now=utcnow())
    for email in ("first@example.org", "second@example.org", "third@example.org"):
        services.register(session, event.id, member=create_user(email=email), now=utcnow())

    services.change_capacity(session, event.id, 3, now=utcnow())

    assert mails(session)[4:] == [("registration_promoted", "first@example.org"),
                                  ("registration_promoted", "second@example.org")]
