"""Series sessions made ahead (once), whole-series registration and cancelling all the rest,
late joiners, and editing "this session only" or "this and all following"."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import create_group, create_user
from tests.series.helpers import NY, series_fields
from tests.support.outbox import mails
from tests.support.queries import count_queries
from webapp.db import utcnow
from webapp.events import changes
from webapp.events.models import Event, EventStatus
from webapp.organize.services import EventFields
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.series import services


@pytest.fixture
def group(session):
    return create_group(slug="metro-chat")


def _sessions(session, series):
    session.expire_all()
    return services.sessions_of(session, series.id)


def _status(session, event, member):
    registration = registrations.registration_for_id(session, event.id, member.id)
    return registration.status if registration else None


def test_creating_a_series_publishes_its_sessions_up_to_the_horizon_at_six_pm_new_york_time(app, session, group):
    app.config["SERIES_HORIZON_DAYS"] = 60
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    made = _sessions(session, series)
    # Bi-weekly from 3 days on: days 3, 17, 31, 45, 59 are within 60 days; 8 in all, 3 made later.
    assert len(made) == 5
    assert all(e.status == EventStatus.SCHEDULED and e.series_id == series.id for e in made)
    assert all(e.starts_at.astimezone(NY).time() == time(18) for e in made)
    assert all(e.ends_at - e.starts_at == timedelta(hours=1) for e in made)
    assert [e.starts_at for e in made] == sorted(e.starts_at for e in made)
    assert len({e.slug for e in made}) == 5


def test_the_sweep_makes_the_later_sessions_once_however_often_it_runs(app, session, group):
    app.config["SERIES_HORIZON_DAYS"] = 20
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    assert len(_sessions(session, series)) == 2
    app.config["SERIES_HORIZON_DAYS"] = 200
    for hours in range(3):
        services.materialize_all(session, now=now + timedelta(hours=hours))
    assert len(_sessions(session, series)) == 8  # never more than its count
    assert session.scalar(select(func.count(Event.id)).where(Event.series_id == series.id)) == 8


def test_a_cancelled_session_is_never_made_again(app, session, group):
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    first = _sessions(session, series)[0]
    changes.cancel_event(session, first.id, now=now)
    services.materialize_sessions(session, series.id, now=now)
    made = _sessions(session, series)
    assert made[0].id == first.id and made[0].status == EventStatus.CANCELLED
    assert len([e for e in made if e.series_occurrence_on == first.series_occurrence_on]) == 1


def test_registering_for_all_takes_a_seat_in_each_session_and_waitlists_where_one_is_full(app, session, group):
    now = utcnow()
    series = services.create_series(session, group, series_fields(now, capacity=1), actor=None, now=now)
    made = _sessions(session, series)
    early = create_user()
    registrations.register(session, made[1].id, member=early, now=now)  # the 2nd session's one seat
    member = create_user(email="whole@example.org")
    outcome = services.register_for_series(session, series.id, member=member, now=now)
    assert [e.id for e in outcome.waitlisted] == [made[1].id]
    assert [e.id for e in outcome.confirmed] == [e.id for e in made if e.id != made[1].id]
    assert _status(session, made[1], member) == RegistrationStatus.WAITLISTED
    assert all(_status(session, e, member) == RegistrationStatus.CONFIRMED for e in made if e.id != made[1].id)
    # One mail for the whole series, listing both kinds; none per session.
    sent = mails(session, recipient="whole@example.org")
    assert [m.kind for m in sent] == ["series_registration"]
    assert "On the waitlist for 1 session (full)" in sent[0].body_text
    assert f"You have a seat in {len(made) - 1} sessions" in sent[0].body_text


def test_registering_for_all_sends_as_many_statements_for_six_sessions_as_for_two(app, session, group, db_kind):
    if db_kind != "postgres":
        pytest.skip("SQLite gets each event's UPDATE alone, in process: no round trip to save")
    # Under the series' lock every member registering for all waits on: a query or three per
    # session made 26 sessions a hundred round trips (bench/series_registration.py).
    now = utcnow()
    counts = []
    for n, sessions in enumerate((2, 6)):
        series = services.create_series(session, group, series_fields(now, title=f"Chat {n}", end_count=sessions,
                                                                       capacity=1), actor=None, now=now)
        # The first session full: the flush then writes the waitlisted one and the confirmed rest in
        # one batch each (the statements grow with alternations of the two, never with sessions).
        registrations.register(session, _sessions(session, series)[0].id, member=create_user(), now=now)
        member = create_user()
        session.expire_all()
        with count_queries() as statements:
            outcome = services.register_for_series(session, series.id, member=member, now=now)
        assert (len(outcome.confirmed), len(outcome.waitlisted)) == (sessions - 1, 1)
        counts.append(len(statements))
    assert counts[0] == counts[1], statements


def test_registering_for_all_twice_changes_nothing_and_sends_nothing_more(app, session, group):
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    member = create_user(email="twice@example.org")
    services.register_for_series(session, series.id, member=member, now=now)
    again = services.register_for_series(session, series.id, member=member, now=now)
    assert not again.changed
    assert len(mails(session, recipient="twice@example.org")) == 1


def test_sessions_made_later_register_the_whole_series_members(app, session, group):
    app.config["SERIES_HORIZON_DAYS"] = 20
    now = utcnow()
    series = services.create_series(session, group, series_fields(now, capacity=1), actor=None, now=now)
    first_member, second_member = create_user(), create_user()
    services.register_for_series(session, series.id, member=first_member, now=now)
    services.register_for_series(session, series.id, member=second_member, now=now)
    app.config["SERIES_HORIZON_DAYS"] = 200
    new = services.materialize_sessions(session, series.id, now=now)
    assert len(new) == 6
    for event in new:  # the same order as they registered for the series: the first gets the seat
        assert _status(session, event, first_member) == RegistrationStatus.CONFIRMED
        assert _status(session, event, second_member) == RegistrationStatus.WAITLISTED


def test_sessions_made_later_keep_the_needs_given_when_registering_for_all(app, session, group):
    app.config["SERIES_HORIZON_DAYS"] = 20
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    member = create_user()
    services.register_for_series(session, series.id, member=member, now=now,
                                 accessibility_needs="Live captions, s’il vous plaît")
    app.config["SERIES_HORIZON_DAYS"] = 200
    new = services.materialize_sessions(session, series.id, now=now)
    assert new
    needs = set(session.scalars(select(Registration.accessibility_needs).where(
        Registration.user_id == member.id, Registration.event_id.in_([e.id for e in new]))))
    assert needs == {"Live captions, s’il vous plaît"}


def test_a_member_who_joins_late_is_registered_only_for_the_sessions_still_ahead(app, session, group):
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    made = _sessions(session, series)
    later = made[1].starts_at + timedelta(hours=2)  # the first two have happened
    member = create_user()
    outcome = services.register_for_series(session, series.id, member=member, now=later)
    assert [e.id for e in outcome.confirmed] == [e.id for e in made[2:]]
    assert _status(session, made[0], member) is None and _status(session, made[1], member) is None


def test_cancelling_all_remaining_frees_each_seat_for_the_next_in_line_in_one_step(app, session, group):
    now = utcnow()
    series = services.create_series(session, group, series_fields(now, capacity=1), actor=None, now=now)
    made = _sessions(session, series)
    member, waiting = create_user(email="leaver@example.org"), create_user(email="waiting@example.org")
    services.register_for_series(session, series.id, member=member, now=now)
    services.register_for_series(session, series.id, member=waiting, now=now)
    outcome = services.cancel_series_registration(session, series.id, member=member, now=now)
    assert [e.id for e in outcome.cancelled] == [e.id for e in made]
    assert all(_status(session, e, member) == RegistrationStatus.CANCELLED for e in made)
    assert all(_status(session, e, waiting) == RegistrationStatus.CONFIRMED for e in made)
    assert [m.kind for m in mails(session, recipient="leaver@example.org")] == ["series_registration"] * 2
    promoted = mails(session, recipient="waiting@example.org", kind="registration_promoted")
    assert len(promoted) == len(made)
    # And a session made later no longer registers them.
    app.config["SERIES_HORIZON_DAYS"] = 200
    for event in services.materialize_sessions(session, series.id, now=now):
        assert _status(session, event, member) is None


def test_editing_one_session_alone_keeps_that_change_when_the_series_is_edited_later(app, session, group):
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    made = _sessions(session, series)
    alone = EventFields.of(made[2])
    alone.title = "Guest speaker night"
    services.update_session_only(session, made[2].id, alone, actor=None, now=now)
    assert made[2].series_detached == "title"

    following = EventFields.of(made[1])
    following.title = "Community Chat (new name)"
    following.capacity = 12
    following.starts_at = made[1].starts_at + timedelta(minutes=30)  # 6:30 PM from now on
    following.ends_at = following.starts_at + timedelta(minutes=90)
    services.update_following(session, made[1].id, following, actor=None, now=now)
    made = _sessions(session, series)
    assert made[0].title == "Community Chat" and made[0].starts_at.astimezone(NY).time() == time(18)
    assert made[1].title == "Community Chat (new name)"
    assert made[2].title == "Guest speaker night"  # its own title stays
    for event in made[1:]:
        assert event.capacity == 12
        assert event.starts_at.astimezone(NY).time() == time(18, 30)
        assert event.ends_at - event.starts_at == timedelta(minutes=90)
    session.refresh(series)
    assert series.title == "Community Chat (new name)" and series.capacity == 12
    assert series.local_time == time(18, 30) and series.duration_minutes == 90


def test_this_and_following_moves_sessions_with_attendees_in_place_and_tells_them(app, session, group):
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    made = _sessions(session, series)
    member = create_user(email="told@example.org")
    services.register_for_series(session, series.id, member=member, now=now)
    ids = [e.id for e in made]
    fields = EventFields.of(made[3])
    fields.starts_at += timedelta(hours=1)
    fields.ends_at += timedelta(hours=1)
    services.update_following(session, made[3].id, fields, actor=None, now=now)
    assert [e.id for e in _sessions(session, series)] == ids  # updated, not deleted
    told = mails(session, recipient="told@example.org", kind="event_changed")
    assert sorted(m.event_id for m in told) == sorted(ids[3:])
    assert session.scalar(select(func.count(Registration.id)).where(
        Registration.user_id == member.id, Registration.status == RegistrationStatus.CONFIRMED)) == len(ids)


def test_a_first_session_in_the_past_is_refused(app, session, group):
    now = utcnow()
    with pytest.raises(services.SeriesError) as refused:
        services.create_series(session, group, series_fields(now, first_on=(now - timedelta(days=1)).date()),
                               actor=None, now=now)
    assert refused.value.field == "first_on"


def test_the_groups_followers_hear_of_a_new_series_once_not_of_each_session(app, session, group):
    from webapp.follows.services import follow_group

    follower = create_user(email="follower@example.org")
    follow_group(session, group.id, member=follower, now=utcnow())
    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    told = mails(session, recipient="follower@example.org")
    assert [m.event_id for m in told] == [_sessions(session, series)[0].id]


def test_each_session_sends_its_own_reminder_to_the_whole_series_members(app, session, group):
    from webapp.reminders import services as reminders

    now = utcnow()
    series = services.create_series(session, group, series_fields(now), actor=None, now=now)
    made = _sessions(session, series)
    services.register_for_series(session, series.id, member=create_user(email="whole@example.org"), now=now)
    day_before = made[1].starts_at - timedelta(hours=20)
    reminders.queue_due_reminders(session, now=day_before)
    sent = mails(session, recipient="whole@example.org", kind="reminder")
    assert [m.event_id for m in sent] == [made[1].id]  # the first is over; the third not due yet


def test_the_series_page_shows_each_members_own_place_in_each_line(app, session, group):
    now = utcnow()
    series = services.create_series(session, group, series_fields(now, capacity=1), actor=None, now=now)
    first, second, third = create_user(), create_user(), create_user()
    for member in (first, second, third):
        services.register_for_series(session, series.id, member=member, now=now)
    places = {member: [row.position for row in services.session_rows(session, series, member, now=now)]
              for member in (first, second, third)}
    # One query for all of them (registrations.waitlist_positions), each as waitlist_position has it.
    made = len(_sessions(session, series))
    assert places == {first: [None] * made, second: [1] * made, third: [2] * made}
