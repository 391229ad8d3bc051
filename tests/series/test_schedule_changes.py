"""Changing a series' schedule after it was created (webapp/series/schedule.py), on a fixed clock:
sessions ahead that leave the schedule are cancelled by the events' own cancel path (their people
mailed once), those that stay keep everything, the new days are made; a count end counts from the
very first session; a replayed or stale confirm does nothing more."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.factories import create_group, create_user
from tests.series.helpers import NY
from tests.support.outbox import mails
from webapp.events import changes
from webapp.events.models import EventStatus
from webapp.organize.services import EventFields
from webapp.registrations import services as registrations
from webapp.registrations.models import RegistrationStatus
from webapp.series import services
from webapp.series.recurrence import rule_for, session_count
from webapp.series.schedule import ScheduleChange, change_schedule, next_session_day, plan_schedule, version_token
from webapp.slots import services as slots

# A Monday morning; the series meets on Tuesdays at 6 PM from the next day. Clocks go forward on
# Sunday 2027-03-14 in New York.
NOW = datetime(2027, 2, 22, 15, 0, tzinfo=UTC)
TUESDAY = date(2027, 2, 23)


@pytest.fixture(autouse=True)
def horizon(app):
    app.config["SERIES_HORIZON_DAYS"] = 60


@pytest.fixture
def weekly(session):
    """Every Tuesday, 10 sessions: Feb 23 .. Apr 27; those up to Apr 20 are made (60 days)."""
    fields = services.SeriesFields(
        title="Book Talk", description="", rrule=rule_for("weekly", TUESDAY), first_on=TUESDAY, local_time=time(18),
        duration_minutes=60, end_count=10, end_on=None, is_online=True, meeting_url="https://zoom.us/j/1")
    return services.create_series(session, create_group(slug="books"), fields, actor=None, now=NOW)


def _ahead(session, series, now=NOW):
    session.expire_all()
    return [e for e in services.sessions_of(session, series.id, upcoming_from=now)]


def _days(events, status=EventStatus.SCHEDULED):
    return [e.series_occurrence_on for e in events if e.status == status]


def _on(events):
    return [e.series_occurrence_on for e in events]


def _register(session, event, user):
    return registrations.register(session, event.id, member=user, now=NOW)


def test_every_two_weeks_from_the_next_session_cancels_every_other_tuesday_and_tells_its_people(session, weekly):
    made = _ahead(session, weekly)
    alice, bob = create_user(email="alice@example.org"), create_user(email="bob@example.org")
    for event in made[:4]:
        _register(session, event, alice)
    _register(session, made[1], bob)
    change = ScheduleChange(rule_for("biweekly", TUESDAY), TUESDAY, end_count=10)
    plan = plan_schedule(session, weekly, change, now=NOW)
    # Biweekly from Feb 23: Mar 9, 23, Apr 6, 20 stay; Mar 2, 16, 30, Apr 13 go; none added within 60 days.
    assert _on(plan.cancelled) == [date(2027, 3, 2), date(2027, 3, 16), date(2027, 3, 30), date(2027, 4, 13)]
    assert (plan.told_mails, plan.told_people, plan.added) == (3, 2, [])
    assert plan.total_sessions == 10
    assert mails(session, kind="event_cancelled") == []  # the plan only looks

    change_schedule(session, weekly.id, change, actor=None, now=NOW)
    ahead = _ahead(session, weekly)
    assert _days(ahead) == [date(2027, 2, 23), date(2027, 3, 9), date(2027, 3, 23), date(2027, 4, 6),
                            date(2027, 4, 20)]
    assert _days(ahead, EventStatus.CANCELLED) == _on(plan.cancelled)
    sent = mails(session, kind="event_cancelled")
    assert sorted(m.recipient for m in sent) == ["alice@example.org", "alice@example.org", "bob@example.org"]
    # The sessions that stay keep their registrations.
    assert registrations.registration_for_id(session, made[2].id, alice.id).status == RegistrationStatus.CONFIRMED
    assert session_count(services.recurrence_of(weekly)) == 10


def test_a_session_that_stays_keeps_its_own_edits_and_slot_claims(session, weekly):
    made = _ahead(session, weekly)
    kept = made[2]  # Mar 9: on the biweekly schedule
    fields = EventFields.of(kept)
    fields.title = "Book Talk: the author visits"
    services.update_session_only(session, kept.id, fields, actor=None, now=NOW)
    offer = slots.offer_slots(session, kept.id, label="Talk", minutes=10, how_many=2, now=NOW)
    speaker = create_user()
    _register(session, kept, speaker)
    slots.claim_slot(session, kept.id, offer.id, member=speaker, title="My talk", now=NOW)
    change_schedule(session, weekly.id, ScheduleChange(rule_for("biweekly", TUESDAY), TUESDAY, end_count=10),
                    actor=None, now=NOW)
    session.expire_all()
    assert kept.status == EventStatus.SCHEDULED and kept.title == "Book Talk: the author visits"
    assert slots.held_slot(session, kept.id, speaker.id).title == "My talk"


def test_moving_to_thursdays_from_a_day_keeps_the_tuesdays_before_it_and_stays_at_six_pm_across_dst(session,
                                                                                                       weekly):
    whole = create_user(email="whole@example.org")
    services.register_for_series(session, weekly.id, member=whole, now=NOW)
    thursday = date(2027, 3, 11)  # the Thursday before the clocks change
    change = ScheduleChange(rule_for("weekly", thursday), thursday, end_count=10)
    plan = plan_schedule(session, weekly, change, now=NOW)
    # Feb 23, Mar 2, 9 are kept (before Mar 11) and count: 7 Thursdays from Mar 11 (Mar 11 .. Apr 22).
    assert plan.sessions_before == 3 and plan.total_sessions == 10
    assert len(plan.cancelled) == 6  # Mar 16 .. Apr 20
    assert [s.astimezone(NY).date() for s in plan.added] == [date(2027, 3, 11) + timedelta(weeks=n) for n in range(7)]
    change_schedule(session, weekly.id, change, actor=None, now=NOW)
    ahead = _ahead(session, weekly)
    scheduled = [e for e in ahead if e.status == EventStatus.SCHEDULED]
    assert _days(scheduled) == [date(2027, 2, 23), date(2027, 3, 2), date(2027, 3, 9)] + [
        date(2027, 3, 11) + timedelta(weeks=n) for n in range(7)]
    # 6 PM in New York on both sides of the change of clocks: 23:00 UTC, then 22:00 UTC.
    assert {e.starts_at.astimezone(NY).time() for e in scheduled} == {time(18)}
    assert scheduled[3].starts_at.astimezone(UTC).hour == 23 and scheduled[4].starts_at.astimezone(UTC).hour == 22
    # The whole-series member is registered for the new Thursdays, as for any new session.
    for event in scheduled[3:]:
        assert registrations.registration_for_id(session, event.id, whole.id).status == RegistrationStatus.CONFIRMED
    assert weekly.first_on == thursday and weekly.sessions_before == 3
    assert session_count(services.recurrence_of(weekly)) == 10


def test_a_count_end_counts_the_sessions_already_held(session, weekly):
    later = NOW + timedelta(weeks=3)  # Feb 23, Mar 2, 9 are over
    next_day = date(2027, 3, 16)
    plan = plan_schedule(session, weekly, ScheduleChange(weekly.rrule, next_day, end_count=5), now=later)
    # 3 held + Mar 16, 23: the 5 sessions; Mar 30 .. Apr 20 are cancelled.
    assert _on(plan.cancelled) == [date(2027, 3, 30), date(2027, 4, 6), date(2027, 4, 13), date(2027, 4, 20)]
    change_schedule(session, weekly.id, plan.change, actor=None, now=later)
    assert _days(_ahead(session, weekly, later)) == [date(2027, 3, 16), date(2027, 3, 23)]
    assert session_count(services.recurrence_of(weekly)) == 5


def test_a_count_already_used_up_ends_the_series(session, weekly):
    later = NOW + timedelta(weeks=3)
    change_schedule(session, weekly.id, ScheduleChange(weekly.rrule, date(2027, 3, 16), end_count=3), actor=None,
                    now=later)
    assert _days(_ahead(session, weekly, later)) == []
    assert session_count(services.recurrence_of(weekly)) == 3


def test_an_earlier_end_date_cancels_the_sessions_after_it_and_a_later_one_adds_sessions(session, weekly):
    change_schedule(session, weekly.id, ScheduleChange(weekly.rrule, TUESDAY, end_on=date(2027, 3, 10)),
                    actor=None, now=NOW)
    assert _days(_ahead(session, weekly)) == [date(2027, 2, 23), date(2027, 3, 2), date(2027, 3, 9)]
    # Lengthening again: the cancelled days stay cancelled (a day is never made twice), later ones are made.
    later = NOW + timedelta(days=10)  # Mar 4: the horizon reaches May 3
    plan = plan_schedule(session, weekly, ScheduleChange(weekly.rrule, date(2027, 3, 9), end_on=date(2027, 6, 1)),
                         now=later)
    assert plan.cancelled == [] and [s.astimezone(NY).date() for s in plan.added] == [date(2027, 4, 27)]
    assert plan.stay_cancelled == [date(2027, 3, 16) + timedelta(weeks=n) for n in range(6)]
    change_schedule(session, weekly.id, plan.change, actor=None, now=later)
    assert _days(_ahead(session, weekly, later)) == [date(2027, 3, 9), date(2027, 4, 27)]
    services.materialize_all(session, now=later + timedelta(days=14))  # the sweep goes on from there
    assert _days(_ahead(session, weekly, later))[-3:] == [date(2027, 4, 27), date(2027, 5, 4), date(2027, 5, 11)]


def test_a_longer_count_makes_the_new_sessions_up_to_the_horizon(app, session, weekly):
    app.config["SERIES_HORIZON_DAYS"] = 90
    plan = plan_schedule(session, weekly, ScheduleChange(weekly.rrule, TUESDAY, end_count=20), now=NOW)
    # Apr 27 .. May 18 fall within 90 days now; the rest are made by the sweep later.
    assert [s.astimezone(NY).date() for s in plan.added] == [date(2027, 4, 27) + timedelta(weeks=n) for n in range(4)]
    change_schedule(session, weekly.id, plan.change, actor=None, now=NOW)
    assert len(_days(_ahead(session, weekly))) == 13
    assert session_count(services.recurrence_of(weekly)) == 20


def test_monthly_on_the_nth_weekday_from_a_day(session, weekly):
    second_thursday = date(2027, 3, 11)
    change = ScheduleChange(rule_for("monthly", second_thursday), second_thursday, end_on=date(2027, 12, 31))
    change_schedule(session, weekly.id, change, actor=None, now=NOW)
    assert _days(_ahead(session, weekly)) == [date(2027, 2, 23), date(2027, 3, 2), date(2027, 3, 9),
                                              date(2027, 3, 11), date(2027, 4, 8)]


def test_a_replayed_change_does_nothing_more_and_mails_nobody_twice(session, weekly):
    made = _ahead(session, weekly)
    _register(session, made[1], create_user())
    change = ScheduleChange(rule_for("biweekly", TUESDAY), TUESDAY, end_count=10)
    version = version_token(weekly)
    change_schedule(session, weekly.id, change, actor=None, now=NOW, seen_version=version)
    before = [(e.id, e.status, e.sequence) for e in _ahead(session, weekly)]
    sent = len(mails(session))
    again = change_schedule(session, weekly.id, change, actor=None, now=NOW + timedelta(minutes=1),
                            seen_version=version)
    assert again.is_same
    assert [(e.id, e.status, e.sequence) for e in _ahead(session, weekly)] == before
    assert len(mails(session)) == sent


def test_a_confirm_made_from_an_older_look_at_the_series_is_refused(session, weekly):
    version = version_token(weekly)
    change_schedule(session, weekly.id, ScheduleChange(weekly.rrule, TUESDAY, end_count=6), actor=None, now=NOW,
                    seen_version=version)
    with pytest.raises(services.SeriesError) as refused:
        change_schedule(session, weekly.id, ScheduleChange(rule_for("biweekly", TUESDAY), TUESDAY, end_count=6),
                        actor=None, now=NOW, seen_version=version)
    assert refused.value.status == 409
    assert len(_days(_ahead(session, weekly))) == 6


def test_a_session_cancelled_alone_stays_cancelled_and_is_not_told_again(session, weekly):
    made = _ahead(session, weekly)
    _register(session, made[1], create_user())
    changes.cancel_event(session, made[1].id, now=NOW)
    sent = len(mails(session, kind="event_cancelled"))
    plan = change_schedule(session, weekly.id, ScheduleChange(rule_for("biweekly", TUESDAY), TUESDAY, end_count=10),
                           actor=None, now=NOW)
    assert made[1].id not in [e.id for e in plan.cancelled]
    assert len(mails(session, kind="event_cancelled")) == sent


@pytest.mark.parametrize("starts_on, end_on, field, words", [
    (date(2027, 2, 21), None, "first_on", "today or later"),
    (date(2027, 6, 1), None, "first_on", "within 60 days"),
    (date(2027, 3, 2), date(2027, 3, 1), "end_on", "before the new schedule starts"),
])
def test_a_change_that_cant_be_made_is_refused_for_its_field(session, weekly, starts_on, end_on, field, words):
    change = ScheduleChange(weekly.rrule, starts_on, end_count=None if end_on else 10, end_on=end_on)
    with pytest.raises(services.SeriesError) as refused:
        plan_schedule(session, weekly, change, now=NOW)
    assert refused.value.field == field and words in refused.value.message


def test_today_after_the_sessions_time_is_refused(session, weekly):
    evening = datetime(2027, 2, 23, 23, 30, tzinfo=UTC)  # 6:30 PM in New York
    with pytest.raises(services.SeriesError) as refused:
        plan_schedule(session, weekly, ScheduleChange(weekly.rrule, TUESDAY, end_count=10), now=evening)
    assert "6:00 PM has passed" in refused.value.message


def test_the_form_starts_the_new_schedule_on_the_next_session_or_the_next_day_the_rule_would_have(session, weekly):
    assert next_session_day(session, weekly, now=NOW) == TUESDAY
    change_schedule(session, weekly.id, ScheduleChange(weekly.rrule, TUESDAY, end_count=2), actor=None, now=NOW)
    # Ended after Mar 2: lengthening it goes on on Tuesdays.
    assert next_session_day(session, weekly, now=NOW + timedelta(weeks=2)) == date(2027, 3, 9)
