"""The slot rules: who may claim, how many, approving, releasing, reordering, and the agenda's times."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.outbox import as_sent, mails
from webapp.db import utcnow
from webapp.outbox import services as outbox
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations
from webapp.slots import services
from webapp.slots.agenda import agenda, event_slots
from webapp.slots.models import ClaimStatus


@pytest.fixture
def now():
    return utcnow()


def seated(event, now, **fields):
    member = create_user(**fields)
    registrations.register(registrations_session(), event.id, member=member, now=now)
    return member


def registrations_session():
    from webapp.db import db
    return db.session


def event_with_slots(now, *, how_many=2, minutes=15, capacity=None):
    group = create_group()
    event = create_event(group, capacity=capacity, starts_at=now + timedelta(days=3),
                         ends_at=now + timedelta(days=3, hours=2))
    offer = services.offer_slots(registrations_session(), event.id, label="15-minute talk", minutes=str(minutes),
                                 how_many=str(how_many), now=now)
    return group, event, offer


def test_a_confirmed_attendee_claims_a_slot_that_awaits_the_organizers(session, now):
    _, event, offer = event_with_slots(now)
    member = seated(event, now)
    claim = services.claim_slot(session, event.id, offer.id, member=member, title="  Zines   in the stacks ",
                                abstract="How we shelve them.", now=now)
    assert claim.status == ClaimStatus.PENDING and claim.place == 1 and claim.title == "Zines in the stacks"
    assert agenda(session, event) == []  # not on the agenda until approved


def test_a_waitlisted_member_is_told_claiming_needs_a_seat(session, now):
    _, event, offer = event_with_slots(now, capacity=1)
    seated(event, now)
    waiting = seated(event, now)
    with pytest.raises(services.SlotError, match="needs a seat"):
        services.claim_slot(session, event.id, offer.id, member=waiting, title="A talk", now=now)
    with pytest.raises(services.SlotError, match="register first"):
        services.claim_slot(session, event.id, offer.id, member=create_user(), title="A talk", now=now)


def test_a_member_holds_at_most_one_slot_per_event(session, now):
    _, event, offer = event_with_slots(now)
    member = seated(event, now)
    services.claim_slot(session, event.id, offer.id, member=member, title="One", now=now)
    with pytest.raises(services.SlotError, match="already hold a slot"):
        services.claim_slot(session, event.id, offer.id, member=member, title="Two", now=now)


def test_when_every_slot_is_taken_the_next_claim_is_refused(session, now):
    _, event, offer = event_with_slots(now, how_many=1)
    services.claim_slot(session, event.id, offer.id, member=seated(event, now), title="First", now=now)
    with pytest.raises(services.SlotError, match="is taken"):
        services.claim_slot(session, event.id, offer.id, member=seated(event, now), title="Second", now=now)


@pytest.mark.parametrize(("title", "abstract", "field"), [
    ("", "", "title"), ("   ", "", "title"), ("x" * 201, "", "title"), ("Fine", "y" * 1001, "abstract"),
])
def test_a_claim_needs_a_title_and_a_short_abstract(session, now, title, abstract, field):
    _, event, offer = event_with_slots(now)
    with pytest.raises(services.SlotError) as refused:
        services.claim_slot(session, event.id, offer.id, member=seated(event, now), title=title, abstract=abstract,
                            now=now)
    assert refused.value.field == field and refused.value.status == 422


@pytest.mark.parametrize(("label", "minutes", "how_many", "field"), [
    ("", "15", "1", "label"), ("Talk", "", "1", "minutes"), ("Talk", "0", "1", "minutes"),
    ("Talk", "١٥", "1", "minutes"), ("Talk", "15", "-1", "how_many"), ("Talk", "15", "9" * 40, "how_many"),
    ("Talk", "60", "3", "how_many"),  # 180 minutes in a two-hour event
])
def test_offers_are_checked_and_must_fit_in_the_event(session, now, label, minutes, how_many, field):
    event = create_event(create_group(), starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=3, hours=2))
    with pytest.raises(services.SlotError) as refused:
        services.offer_slots(session, event.id, label=label, minutes=minutes, how_many=how_many, now=now)
    assert refused.value.field == field


def test_the_agenda_is_timed_from_the_start_in_the_organizers_order(session, now):
    _, event, talk = event_with_slots(now, how_many=2, minutes=15)
    facilitator = services.offer_slots(session, event.id, label="Facilitator", minutes="30", how_many="1", now=now)
    ada, bo, cy = (seated(event, now, display_name=n) for n in ("Ada", "Bo", "Cy"))
    a = services.claim_slot(session, event.id, talk.id, member=ada, title="A", now=now)
    b = services.claim_slot(session, event.id, facilitator.id, member=bo, title="B", now=now)
    c = services.claim_slot(session, event.id, talk.id, member=cy, title="C", now=now)
    for claim in (a, b, c):
        services.approve(session, event.id, claim.id, now=now)
    services.reorder(session, event.id, c.id, "up", now=now)  # A, C, B
    items = agenda(session, event)
    assert [(i.title, i.presenter) for i in items] == [("A", "Ada"), ("C", "Cy"), ("B", "Bo")]
    start = event.starts_at
    assert [i.starts_at - start for i in items] == [timedelta(0), timedelta(minutes=15), timedelta(minutes=30)]
    assert items[-1].ends_at - start == timedelta(minutes=60)
    services.reorder(session, event.id, a.id, "up", now=now)  # at the top already: nothing moves
    assert [i.title for i in agenda(session, event)] == ["A", "C", "B"]


def test_releasing_frees_the_slot_and_mails_the_member(session, now):
    _, event, offer = event_with_slots(now, how_many=1)
    member = seated(event, now)
    claim = services.claim_slot(session, event.id, offer.id, member=member, title="Mine", now=now)
    services.approve(session, event.id, claim.id, now=now)
    services.release(session, event.id, claim.id, now=now)
    services.release(session, event.id, claim.id, now=now)  # twice: one mail
    (mail,) = mails(session, kind="slot_released")
    assert mail.recipient == member.email and "Mine" in mail.body_text
    assert agenda(session, event) == []
    other = seated(event, now)
    assert services.claim_slot(session, event.id, offer.id, member=other, title="Next", now=now).place == 1


def test_a_presenter_who_cancels_frees_their_slot_and_the_organizers_are_mailed(session, now):
    group, event, offer = event_with_slots(now, how_many=1)
    organizer = organizer_of(group)
    member = seated(event, now, display_name="Ada")
    claim = services.claim_slot(session, event.id, offer.id, member=member, title="Zines", now=now)
    services.approve(session, event.id, claim.id, now=now)
    registrations.cancel(session, registrations.registration_for(session, event.id, member), now=now)
    assert claim.status == ClaimStatus.RELEASED and claim.place is None
    (mail,) = mails(session, kind="slot_freed")
    assert mail.recipient == organizer.email
    assert "Ada cancelled" in mail.body_text and "which was on the agenda" in mail.body_text
    assert f"/events/{event.slug}/slots" in mail.body_text
    assert event_slots(session, event.id).free(offer) == 1


def test_the_reminder_and_the_calendar_file_carry_the_agenda(session, now):
    from webapp.events.calendar import event_ics
    from webapp.reminders.services import queue_due_reminders

    _, event, offer = event_with_slots(now)
    member = seated(event, now - timedelta(days=2), display_name="Ada")
    claim = services.claim_slot(session, event.id, offer.id, member=member, title="Zines in the stacks", now=now)
    services.approve(session, event.id, claim.id, now=now)
    (reminder,) = map(as_sent, queue_due_reminders(session, now=event.starts_at - timedelta(hours=12)))
    assert "Agenda:\n- " in reminder.body_text and ": Zines in the stacks (Ada)" in reminder.body_text
    assert "<strong>Zines in the stacks</strong> (Ada)" in reminder.body_html
    unfolded = event_ics(event).replace("\r\n ", "")
    assert "Agenda:" in unfolded and "Ada: Zines in the stacks" in unfolded


def test_an_organizer_removing_a_presenter_frees_the_slot_too(session, now):
    group, event, offer = event_with_slots(now, how_many=1)
    organizer = organizer_of(group)
    member = seated(event, now, display_name="Bo")
    services.claim_slot(session, event.id, offer.id, member=member, title="Pending talk", now=now)
    registration = registrations.registration_for(session, event.id, member)
    registrations.remove(session, event.id, registration.id, actor=organizer, now=now)
    (mail,) = mails(session, kind="slot_freed")
    assert "Bo was removed from the attendees of" in mail.body_text
    assert "which was awaiting your approval" in mail.body_text
    assert event_slots(session, event.id).free(offer) == 1


# --- "Your talk is on the agenda" ------------------------------------------------------------------


def test_approving_mails_the_member_once_with_their_talks_time(session, now):
    group, event, offer = event_with_slots(now)
    organizer_of(group, email="org@example.org")
    first, second = seated(event, now, display_name="Ada"), seated(event, now, display_name="Bo")
    a = services.claim_slot(session, event.id, offer.id, member=first, title="Opening", now=now)
    b = services.claim_slot(session, event.id, offer.id, member=second, title="Zines & <the stacks>", now=now)
    services.approve(session, event.id, a.id, now=now)
    services.approve(session, event.id, b.id, now=now)
    services.approve(session, event.id, b.id, now=now)  # a replayed approve: no second mail
    bos = mails(session, kind="slot_approved", recipient=second.email)
    assert len(bos) == 1 and len(mails(session, kind="slot_approved")) == 2
    (mail,) = bos
    from webapp.display import format_time_range
    second_slot = format_time_range(event.starts_at + timedelta(minutes=15), event.starts_at + timedelta(minutes=30))
    assert f'"Zines & <the stacks>" (15-minute talk) is on the agenda, at {second_slot}' in mail.body_text
    assert "Zines &amp; &lt;the stacks&gt;" in mail.body_html
    assert mail.subject == f"Your talk is on the agenda: {event.title}"
    assert "org@example.org" in (mail.reply_to or "")


def test_a_talk_released_then_claimed_and_approved_again_is_news_again(session, now):
    """The only way back from APPROVED is a release or a withdrawal, and only a new claim (a new
    generation) can be approved after it: each approval is one mail, and none is sent twice."""
    _, event, offer = event_with_slots(now, how_many=1)
    member = seated(event, now)
    claim = services.claim_slot(session, event.id, offer.id, member=member, title="Take one", now=now)
    services.approve(session, event.id, claim.id, now=now)
    services.release(session, event.id, claim.id, now=now)
    with pytest.raises(services.SlotError, match="was released"):
        services.approve(session, event.id, claim.id, now=now)
    again = services.claim_slot(session, event.id, offer.id, member=member, title="Take two", now=now)
    assert again.id == claim.id and again.generation == 2
    services.approve(session, event.id, again.id, now=now)
    services.approve(session, event.id, again.id, now=now)
    approved = mails(session, kind="slot_approved")
    assert [("Take one" in m.body_text, "Take two" in m.body_text) for m in approved] == [(True, False),
                                                                                         (False, True)]


def test_an_approval_mail_is_dropped_if_the_talk_left_the_agenda_before_it_went_out(session, now):
    _, event, offer = event_with_slots(now)
    member = seated(event, now)
    claim = services.claim_slot(session, event.id, offer.id, member=member, title="Mine", now=now)
    services.approve(session, event.id, claim.id, now=now)
    session.commit()
    (mail,) = mails(session, kind="slot_approved")
    assert services.recheck_approved_mail(session, mail, now) is None
    services.withdraw_claim(session, event.id, claim.id, claim.generation, member=member, now=now)
    session.commit()
    assert outbox.send_outbox_mail(session, mail.id, now=now) is MailState.DROPPED
    assert "no longer on the agenda" in session.get(OutboxMail, mail.id).last_error


# --- a member withdraws their own claim --------------------------------------------------------------


def test_a_member_withdraws_their_talk_keeps_their_seat_and_the_organizers_are_mailed(session, now):
    group, event, offer = event_with_slots(now, how_many=1)
    organizer = organizer_of(group)
    member = seated(event, now, display_name="Ada")
    claim = services.claim_slot(session, event.id, offer.id, member=member, title="Zines", now=now)
    services.approve(session, event.id, claim.id, now=now)
    outcome = services.withdraw_claim(session, event.id, claim.id, str(claim.generation), member=member, now=now)
    assert outcome.is_withdrawn_now and claim.status == ClaimStatus.RELEASED and claim.place is None
    assert registrations.registration_for(session, event.id, member).status == "confirmed"
    assert agenda(session, event) == [] and event_slots(session, event.id).free(offer) == 1
    (mail,) = mails(session, kind="slot_freed")
    assert mail.recipient == organizer.email
    assert "Ada withdrew their talk from" in mail.body_text and "which was on the agenda" in mail.body_text
    # Replayed: nothing changes, nothing is mailed twice.
    again = services.withdraw_claim(session, event.id, claim.id, str(claim.generation), member=member, now=now)
    assert not again.is_withdrawn_now and len(mails(session, kind="slot_freed")) == 1
    # The slot is someone else's to claim now.
    other = seated(event, now)
    assert services.claim_slot(session, event.id, offer.id, member=other, title="Next", now=now).place == 1


def test_only_the_claimant_withdraws_and_a_stale_form_withdraws_nothing_newer(session, now):
    _, event, offer = event_with_slots(now)
    member, other = seated(event, now), seated(event, now)
    claim = services.claim_slot(session, event.id, offer.id, member=member, title="Mine", now=now)
    with pytest.raises(services.SlotError, match="Only the member who claimed") as refused:
        services.withdraw_claim(session, event.id, claim.id, claim.generation, member=other, now=now)
    assert refused.value.status == 403 and claim.status == ClaimStatus.PENDING
    services.withdraw_claim(session, event.id, claim.id, "1", member=member, now=now)
    again = services.claim_slot(session, event.id, offer.id, member=member, title="Mine, again", now=now)
    # The first form, sent again from a stale tab, names generation 1: the new claim stays.
    for generation in ("1", "", None, "٢", "2" * 50):
        outcome = services.withdraw_claim(session, event.id, again.id, generation, member=member, now=now)
        assert not outcome.is_withdrawn_now and again.status == ClaimStatus.PENDING
    with pytest.raises(services.SlotError, match="has started"):
        services.withdraw_claim(session, event.id, again.id, "2", member=member, now=event.starts_at)


# --- the calendar's SEQUENCE moves with the agenda ---------------------------------------------------------


def test_every_agenda_change_raises_the_calendar_sequence_but_not_the_reminders(session, now):
    from webapp.reminders.services import queue_due_reminders

    _, event, offer = event_with_slots(now)
    a_member, b_member = seated(event, now - timedelta(days=2)), seated(event, now - timedelta(days=2))
    in_window = event.starts_at - timedelta(hours=12)
    assert len(queue_due_reminders(session, now=in_window)) == 2

    def sequences():
        session.refresh(event)
        return event.sequence, event.calendar_sequence

    a = services.claim_slot(session, event.id, offer.id, member=a_member, title="A", now=now)
    b = services.claim_slot(session, event.id, offer.id, member=b_member, title="B", now=now)
    assert sequences() == (0, 0)  # pending claims are not on the agenda
    services.approve(session, event.id, a.id, now=now)
    assert sequences() == (0, 1)
    services.approve(session, event.id, a.id, now=now)  # nothing new
    services.approve(session, event.id, b.id, now=now)
    assert sequences() == (0, 2)
    services.reorder(session, event.id, b.id, "up", now=now)
    assert sequences() == (0, 3)
    services.reorder(session, event.id, b.id, "up", now=now)  # at the top already
    assert sequences() == (0, 3)
    services.release(session, event.id, a.id, now=now)
    assert sequences() == (0, 4)
    services.withdraw_claim(session, event.id, b.id, b.generation, member=b_member, now=now)
    assert sequences() == (0, 5)
    later = now + timedelta(minutes=5)
    services.offer_slots(session, event.id, label="Facilitator", minutes="10", how_many="1", now=later)
    assert sequences() == (0, 5)  # a new offer shows in no calendar
    from webapp.events.calendar import event_ics
    assert "SEQUENCE:5" in event_ics(event)
    # Nothing the reminders are keyed on moved: no second reminder for an agenda change.
    assert queue_due_reminders(session, now=in_window + timedelta(minutes=10)) == []
