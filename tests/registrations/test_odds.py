"""Honest waitlist odds: how far a group's waitlists moved before, counted only from recorded promotions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.factories import create_event, create_group, create_user
from tests.support.html import parse
from tests.support.queries import count_queries
from webapp.db import db
from webapp.events import changes
from webapp.events.models import Event, EventStatus
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, WaitlistPromotion
from webapp.registrations.odds import EXPLANATION, WaitlistHistory, waitlist_histories, waitlist_history

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


def full_event(group, *, days_ago: int, seats_to_waitlist: int, waiting: int | None = None, now=NOW) -> Event:
    """A past event of `group` with one seat, `waiting` people on its waitlist (one more than got a
    seat, unless told), and `seats_to_waitlist` seats given to them by raising the capacity."""
    starts_at = now - timedelta(days=days_ago)
    event = create_event(group, capacity=1, starts_at=starts_at)
    before = starts_at - timedelta(days=2)
    registrations.register(db.session, event.id, member=create_user(), now=before)
    for _ in range(seats_to_waitlist + 1 if waiting is None else waiting):
        registrations.register(db.session, event.id, member=create_user(), now=before)
    if seats_to_waitlist:
        registrations.change_capacity(db.session, event.id, 1 + seats_to_waitlist, now=before + timedelta(hours=1))
    return event


# --- what is recorded -----------------------------------------------------------------------------

def test_a_promotion_is_recorded_with_the_place_in_line_in_the_same_transaction(session):
    event = create_event(create_group(), capacity=1, starts_at=NOW + timedelta(days=3))
    seat = registrations.register(session, event.id, member=create_user(), now=NOW).registration
    first = registrations.register(session, event.id, member=create_user(), now=NOW).registration
    second = registrations.register(session, event.id, member=create_user(), now=NOW).registration
    third = registrations.register(session, event.id, member=create_user(), now=NOW).registration
    session.commit()

    registrations.cancel(session, seat, now=NOW)  # the head of the line gets the seat
    registrations.promote_by_hand(session, event.id, third.id, expected_capacity=1, now=NOW)  # out of turn
    registrations.change_capacity(session, event.id, 3, now=NOW)  # the one left in line
    session.rollback()  # nothing of a rolled-back promotion stays
    assert session.scalars(select(WaitlistPromotion)).all() == []

    registrations.cancel(session, seat, now=NOW)
    registrations.promote_by_hand(session, event.id, third.id, expected_capacity=1, now=NOW)
    registrations.change_capacity(session, event.id, 4, now=NOW)
    session.commit()
    recorded = [(p.registration_id, p.position, p.is_by_hand)
                for p in session.scalars(select(WaitlistPromotion).order_by(WaitlistPromotion.id))]
    # `third` was 2nd in line (first had left it) when given a seat by hand.
    assert recorded == [(first.id, 1, False), (third.id, 2, True), (second.id, 1, False)]


# --- when it is shown -----------------------------------------------------------------------------

def test_nothing_is_shown_below_the_minimum_of_history(app, session):
    group = create_group()
    full_event(group, days_ago=20, seats_to_waitlist=2)
    full_event(group, days_ago=10, seats_to_waitlist=2)
    session.commit()
    assert app.config["WAITLIST_ODDS_MIN_EVENTS"] == 3
    assert waitlist_history(session, group.id, NOW) is None

    full_event(group, days_ago=5, seats_to_waitlist=2)
    session.commit()
    assert waitlist_history(session, group.id, NOW) == WaitlistHistory((2, 2, 2))

    app.config["WAITLIST_ODDS_MIN_EVENTS"] = 4
    assert waitlist_history(session, group.id, NOW) is None


def test_the_last_full_events_are_counted_most_recent_first_and_no_more_than_the_setting(app, session):
    group = create_group()
    for days_ago, seats in [(70, 9), (60, 3), (50, 1), (40, 0), (30, 2), (20, 4), (10, 1)]:
        full_event(group, days_ago=days_ago, seats_to_waitlist=seats)
    session.commit()
    assert waitlist_history(session, group.id, NOW).seats == (1, 4, 2, 0, 1, 3)  # the oldest (9) is past the 6
    app.config["WAITLIST_ODDS_EVENTS"] = 3
    assert waitlist_history(session, group.id, NOW).seats == (1, 4, 2)


def test_only_this_groups_past_uncancelled_full_events_with_a_recorded_history_count(session):
    group, other = create_group(), create_group()
    for days_ago in (30, 20, 10):
        full_event(group, days_ago=days_ago, seats_to_waitlist=1)
    full_event(other, days_ago=15, seats_to_waitlist=5)  # another group's
    cancelled = full_event(group, days_ago=12, seats_to_waitlist=6)
    changes.cancel_event(session, cancelled.id, now=cancelled.starts_at - timedelta(hours=1))
    full_event(group, days_ago=8, seats_to_waitlist=0, waiting=0)  # never full: nobody waited
    before_records = full_event(group, days_ago=6, seats_to_waitlist=7)
    session.execute(update(Event).where(Event.id == before_records.id).values(is_waitlist_history_kept=False))
    upcoming = create_event(group, capacity=1, starts_at=NOW + timedelta(days=2))
    registrations.register(session, upcoming.id, member=create_user(), now=NOW - timedelta(days=1))
    registrations.register(session, upcoming.id, member=create_user(), now=NOW - timedelta(days=1))
    registrations.change_capacity(session, upcoming.id, 2, now=NOW - timedelta(hours=1))  # not over yet
    session.commit()

    assert waitlist_history(session, group.id, NOW).seats == (1, 1, 1)
    assert waitlist_history(session, other.id, NOW) is None  # one event only


def test_a_waitlist_that_gave_no_seat_counts_as_none(session):
    group = create_group()
    for days_ago, seats in [(30, 0), (20, 0), (10, 3)]:
        full_event(group, days_ago=days_ago, seats_to_waitlist=seats)
    session.commit()
    assert waitlist_history(session, group.id, NOW).seats == (3, 0, 0)


def test_every_group_in_one_query(session):
    groups = [create_group() for _ in range(3)]
    for group in groups:
        for days_ago in (30, 20, 10):
            full_event(group, days_ago=days_ago, seats_to_waitlist=1)
    ids = [g.id for g in groups]
    session.commit()
    with count_queries() as one:
        waitlist_histories(session, ids[:1], NOW)
    with count_queries() as three:
        found = waitlist_histories(session, ids, NOW)
    assert len(one) == len(three) == 1
    assert set(found) == set(ids)


# --- the sentence -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("seats", "sentence"), [
    ((2, 2, 3), "At each of this group’s last 3 full events, at least 2 seats went to people on the waitlist."),
    ((1, 1, 1, 1), "At each of this group’s last 4 full events, at least 1 seat went to people on the waitlist."),
    ((4, 1, 5, 3, 2, 6), "At 3 of this group’s last 6 full events, 4 seats or more went to people on the waitlist;"
                         " at the other 3, at least 1 did."),
    ((4, 0, 5, 3, 0, 6), "At 3 of this group’s last 6 full events, 4 seats or more went to people on the waitlist;"
                         " at 2, none did."),
    ((0, 0, 1), "At 2 of this group’s last 3 full events, no seat went to anyone on the waitlist."),
    ((0, 0, 0), "At none of this group’s last 3 full events did a seat go to anyone on the waitlist."),
])
def test_the_sentence_says_the_typical_case_and_the_rest(seats, sentence):
    assert WaitlistHistory(seats).sentence == sentence


# --- where it is shown ------------------------------------------------------------------------------

def waitlisted_member_of_a_group_with_history(session):
    """The pages read the real clock: the history is of the weeks before today."""
    now = datetime.now(UTC)
    group = create_group()
    for days_ago, seats in [(30, 2), (20, 3), (10, 2)]:
        full_event(group, days_ago=days_ago, seats_to_waitlist=seats, now=now)
    event = create_event(group, slug="next-one", capacity=1, starts_at=now + timedelta(days=3))
    registrations.register(session, event.id, member=create_user(), now=now)
    member = create_user()
    waiting = registrations.register(session, event.id, member=member, now=now).registration
    session.commit()
    return group, event, member, waiting


SENTENCE = "At each of this group’s last 3 full events, at least 2 seats went to people on the waitlist."


def test_the_waitlisted_member_reads_it_on_the_event_page_and_my_events(session, signed_in_client):
    group, event, member, waiting = waitlisted_member_of_a_group_with_history(session)
    client = signed_in_client(member)

    panel = parse(client.get("/events/next-one").get_data(as_text=True)).find(id="waitlist-history")
    assert panel is not None and SENTENCE in panel.get_text(" ", strip=True)
    assert EXPLANATION in panel.get_text(" ", strip=True)

    card = parse(client.get("/my/events").get_data(as_text=True)).find(id=f"waitlist-history-{waiting.id}")
    assert card is not None and SENTENCE in card.get_text(" ", strip=True)


def test_a_confirmed_member_or_a_group_without_history_shows_nothing(session, signed_in_client):
    group, event, member, waiting = waitlisted_member_of_a_group_with_history(session)
    seated = session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                       Registration.id != waiting.id))
    client = signed_in_client(seated.user)
    assert "waitlist-history" not in client.get("/events/next-one").get_data(as_text=True)

    fresh = create_event(create_group(), slug="no-history", capacity=1,
                         starts_at=datetime.now(UTC) + timedelta(days=3))
    registrations.register(session, fresh.id, member=create_user(), now=datetime.now(UTC))
    newcomer = create_user()
    registrations.register(session, fresh.id, member=newcomer, now=datetime.now(UTC))
    session.commit()
    client = signed_in_client(newcomer)
    assert "You’re on the waitlist" in (page := client.get("/events/no-history").get_data(as_text=True))
    assert "waitlist-history" not in page
    assert "waitlist-history" not in client.get("/my/events").get_data(as_text=True)


def test_events_from_before_promotions_were_recorded_are_not_counted_as_zero(session):
    """The migration marks events that exist already: their promotions were never recorded."""
    group = create_group()
    for days_ago in (30, 20, 10):
        full_event(group, days_ago=days_ago, seats_to_waitlist=0)
    session.execute(update(Event).where(Event.group_id == group.id).values(is_waitlist_history_kept=False))
    session.commit()
    assert waitlist_history(session, group.id, NOW) is None
    assert session.scalar(select(Event.status).where(Event.group_id == group.id).limit(1)) == EventStatus.SCHEDULED
