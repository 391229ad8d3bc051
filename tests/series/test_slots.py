"""Slots in each session of a series: kept on the series, copied to every session as it is made and,
once, to the sessions already made with no offers of their own; a session's own offers stay its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import post_form as post
from tests.factories import create_cast, create_group, create_user
from tests.series.helpers import NY, series_fields
from tests.support.html import by_id, text
from webapp.db import utcnow
from webapp.registrations import services as registrations
from webapp.series import services
from webapp.series.models import Series, SeriesSlotOffer
from webapp.slots import services as slots
from webapp.slots.models import SlotOffer


def _offers(session, event) -> list[tuple[str, int, int]]:
    session.expire_all()
    return [(o.label, o.minutes, o.how_many) for o in session.scalars(
        select(SlotOffer).where(SlotOffer.event_id == event.id).order_by(SlotOffer.id))]


def _sessions(session, series):
    session.expire_all()
    return services.sessions_of(session, series.id)


TALKS = ("15-minute talk", 15, 2)


def test_sessions_made_later_get_the_series_offers(app, session):
    app.config["SERIES_HORIZON_DAYS"] = 20
    now = utcnow()
    series = services.create_series(session, create_group(), series_fields(now), actor=None, now=now)
    services.offer_series_slots(session, series.id, label=" 15-minute   talk", minutes="15", how_many="2", now=now)
    assert [_offers(session, e) for e in _sessions(session, series)] == [[TALKS]] * 2
    app.config["SERIES_HORIZON_DAYS"] = 200
    services.materialize_all(session, now=now)
    made = _sessions(session, series)
    assert len(made) == 8 and all(_offers(session, e) == [TALKS] for e in made)


def test_sessions_already_made_get_each_series_offer_once_and_one_with_its_own_offers_keeps_them(app, session):
    app.config["SERIES_HORIZON_DAYS"] = 60
    now = utcnow()
    series = services.create_series(session, create_group(), series_fields(now), actor=None, now=now)
    first, second, *rest = _sessions(session, series)
    slots.offer_slots(session, second.id, label="Facilitator", minutes="30", how_many="1", now=now)
    services.offer_series_slots(session, series.id, label="15-minute talk", minutes="15", how_many="2", now=now)
    services.offer_series_slots(session, series.id, label="Lightning talk", minutes="5", how_many="1", now=now)
    services.materialize_all(session, now=now + timedelta(hours=1))  # nothing new: nothing copied again
    both = [TALKS, ("Lightning talk", 5, 1)]
    assert _offers(session, first) == both
    assert _offers(session, second) == [("Facilitator", 30, 1)]  # edited alone: keeps its own
    assert all(_offers(session, e) == both for e in rest)


def test_a_session_that_cannot_take_the_slots_is_skipped_and_the_others_still_get_them(app, session):
    app.config["SERIES_HORIZON_DAYS"] = 60
    now = utcnow()
    series = services.create_series(session, create_group(), series_fields(now), actor=None, now=now)
    first, second, *_ = _sessions(session, series)
    second.ends_at = second.starts_at + timedelta(minutes=20)  # shortened alone: two 15-minute talks don't fit
    session.flush()
    services.offer_series_slots(session, series.id, label="15-minute talk", minutes="15", how_many="2", now=now)
    assert _offers(session, first) == [TALKS] and _offers(session, second) == []


@pytest.mark.parametrize("label, minutes, how_many, match", [
    ("", "15", "2", "Please name the slots"),
    ("Talk", "abc", "2", "whole number"),
    ("Talk", "15", "0", "between 1 and 50"),
    ("Talk", "45", "2", "run past the end of the session"),
])
def test_a_series_offer_is_checked_by_the_slots_rules_and_nothing_is_kept_when_refused(
        app, session, label, minutes, how_many, match):
    now = utcnow()
    series = services.create_series(session, create_group(), series_fields(now), actor=None, now=now)
    with pytest.raises(slots.SlotError, match=match):
        services.offer_series_slots(session, series.id, label=label, minutes=minutes, how_many=how_many, now=now)
    assert session.scalars(select(SeriesSlotOffer)).all() == [] and session.scalars(select(SlotOffer)).all() == []


# --- over HTTP: the New series form's "Slots in each session" --------------------------------------------

@pytest.fixture
def world(session):
    group = create_group(slug="metro-chat", name="METRO Community Chat")
    people = create_cast(group, create_group(slug="archives"))
    session.commit()
    return dict(group=group, **people)


def _form(**changes) -> dict:
    first = (utcnow().astimezone(NY) + timedelta(days=5)).date()
    data = dict(title="Community Chat", description="", recurrence="biweekly", custom_rule="",
                first_on=first.isoformat(), start_time="18:00", length_minutes="60", end_kind="count",
                end_count="8", end_on="", meeting_format="online", meeting_url="https://zoom.us/j/42",
                venue_name="", venue_address="", venue_accessibility="", capacity="",
                slot_label="15-minute talk", slot_minutes="15", slot_how_many="2")
    data.update(changes)
    return data


@pytest.mark.usefixtures("fresh_request_globals")
def test_the_new_series_form_gives_every_session_its_slots(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = post(client, "/groups/metro-chat/series/new", _form())
    assert response.status_code == 303
    series = session.scalar(select(Series))
    made = _sessions(session, series)
    assert len(made) == 7 and all(_offers(session, e) == [TALKS] for e in made)
    series_page = client.get("/series/community-chat").get_data(as_text=True)
    assert text(by_id(series_page, "series-slots")).startswith(
        "Slots in each session: 2 × 15-minute talk (15 minutes).")
    page = client.get(f"/events/{made[0].slug}").get_data(as_text=True)
    assert "15-minute talk, 15 minutes: 2 of 2 free" in text(by_id(page, "slots-section"))


@pytest.mark.usefixtures("fresh_request_globals")
def test_the_form_without_slots_makes_sessions_without_offers(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    assert post(client, "/groups/metro-chat/series/new",
                _form(slot_label="", slot_minutes="", slot_how_many="")).status_code == 303
    assert session.scalars(select(SlotOffer)).all() == [] and session.scalar(select(Series)) is not None


@pytest.mark.usefixtures("fresh_request_globals")
@pytest.mark.parametrize("changes, field_id, message", [
    (dict(slot_label=""), "series-slot-label", "Please name the slots"),
    (dict(slot_label="Talk\x00"), "series-slot-label", "an invisible character"),
    (dict(slot_label="ü" * 101), "series-slot-label", "at most"),
    (dict(slot_label="<b>Talk</b>", slot_minutes="١٥"), "series-slot-minutes", "whole number"),
    (dict(slot_minutes="9" * 60), "series-slot-minutes", "between 1 and 480"),
    (dict(slot_how_many=""), "series-slot-how-many", "Please give the number of slots"),
    (dict(slot_how_many="5"), "series-slot-how-many", "run past the end of the session"),
])
def test_a_bad_slot_value_is_refused_next_to_its_field_and_no_series_is_made(
        signed_in_client, world, session, changes, field_id, message):
    client = signed_in_client(world["organizer"])
    data = _form(**changes)
    response = post(client, "/groups/metro-chat/series/new", data)
    assert response.status_code in (400, 422)
    session.expire_all()
    assert session.scalar(select(Series)) is None and session.scalars(select(SlotOffer)).all() == []
    page = response.get_data(as_text=True)
    field = by_id(page, f"{field_id}-field")
    assert "field-error" in str(field) and message in text(field)
    # A NUL byte comes out on the way in (webapp/requests.py): the rest of what was typed is kept.
    assert by_id(page, "series-slot-label")["value"] == data["slot_label"].replace("\x00", "")


# --- changing the series' slots after it was made --------------------------------------------------------

def _claim(session, event, now):
    speaker = create_user()
    registrations.register(session, event.id, member=speaker, now=now)
    offer = session.scalars(select(SlotOffer).where(SlotOffer.event_id == event.id)).first()
    return slots.claim_slot(session, event.id, offer.id, member=speaker, title="A talk", now=now)


@pytest.fixture
def talks(app, session):
    """A series of 8 sessions (3 made: 40 days) offering two 15-minute talks in each."""
    app.config["SERIES_HORIZON_DAYS"] = 40
    now = utcnow()
    series = services.create_series(session, create_group(), series_fields(now), actor=None, now=now)
    offer = services.offer_series_slots(session, series.id, label="15-minute talk", minutes="15", how_many="2",
                                        now=now)
    return series, offer, now


def test_editing_a_series_offer_changes_the_unclaimed_copies_ahead_and_keeps_a_claimed_one_it_would_break(
        session, talks):
    series, offer, now = talks
    first, second, third = _sessions(session, series)
    _claim(session, first, now)
    _claim(session, second, now)
    _claim(session, second, now)  # both of the second session's talks are claimed
    outcome = services.edit_series_slots(session, series.id, offer.id, label="Lightning talk", minutes="5",
                                         how_many="1", now=now)
    assert _offers(session, third) == [("Lightning talk", 5, 1)]
    assert _offers(session, first) == [("Lightning talk", 5, 1)]  # one claim, on place 1: still there
    assert _offers(session, second) == [TALKS]  # 2 claimed: can't go down to 1
    assert [e.id for e in outcome.followed] == [first.id, third.id]
    assert [(e.id, why) for e, why in outcome.kept] == [(second.id, "2 slots claimed there, so it keeps 2")]
    services.materialize_all(session, now=now + timedelta(days=20))
    assert _offers(session, _sessions(session, series)[3]) == [("Lightning talk", 5, 1)]  # made later: the new one


def test_editing_gives_the_offer_to_a_session_ahead_with_none_and_leaves_a_session_with_its_own(session, talks):
    series, offer, now = talks
    first, second, third = _sessions(session, series)
    session.delete(session.scalars(select(SlotOffer).where(SlotOffer.event_id == first.id)).one())
    session.delete(session.scalars(select(SlotOffer).where(SlotOffer.event_id == second.id)).one())
    slots.offer_slots(session, second.id, label="Facilitator", minutes="30", how_many="1", now=now)
    services.edit_series_slots(session, series.id, offer.id, label="15-minute talk", minutes="15", how_many="3",
                               now=now)
    assert _offers(session, first) == [("15-minute talk", 15, 3)]
    assert _offers(session, second) == [("Facilitator", 30, 1)]
    assert _offers(session, third) == [("15-minute talk", 15, 3)]


def test_removing_a_series_offer_removes_the_unclaimed_copies_and_keeps_the_claimed_ones(session, talks):
    series, offer, now = talks
    first, second, third = _sessions(session, series)
    claim = _claim(session, second, now)
    outcome = services.remove_series_slots(session, series.id, offer.id, now=now)
    assert _offers(session, first) == [] and _offers(session, third) == []
    assert _offers(session, second) == [TALKS] and slots.held_slot(session, second.id, claim.user_id) is not None
    assert [e.id for e, _ in outcome.kept] == [second.id]
    assert services.series_slot_offers(session, series.id) == []
    services.materialize_all(session, now=now + timedelta(days=20))
    assert _offers(session, _sessions(session, series)[3]) == []


@pytest.mark.parametrize("label, minutes, how_many, match", [
    ("", "15", "2", "Please name the slots"),
    ("Talk", "15", "9" * 40, "between 1 and 50"),
    ("Talk", "45", "2", "run past the end of the session"),
])
def test_an_edit_is_checked_by_the_slots_rules_and_changes_nothing_when_refused(session, talks, label, minutes,
                                                                                how_many, match):
    series, offer, now = talks
    with pytest.raises(slots.SlotError, match=match):
        services.edit_series_slots(session, series.id, offer.id, label=label, minutes=minutes, how_many=how_many,
                                   now=now)
    assert all(_offers(session, e) == [TALKS] for e in _sessions(session, series))
    assert [(o.label, o.minutes, o.how_many) for o in services.series_slot_offers(session, series.id)] == [TALKS]


def test_an_offer_of_another_series_is_not_found(session, talks):
    series, offer, now = talks
    other = services.create_series(session, create_group(), series_fields(now, title="Other"), actor=None, now=now)
    with pytest.raises(slots.SlotError) as refused:
        services.remove_series_slots(session, other.id, offer.id, now=now)
    assert refused.value.status == 404
