"""A series' dates: its rule expanded on New York wall-clock time, checked against dateutil itself,
across DST changes and month ends; and the rules a custom RRULE must follow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import MONTHLY, WEEKLY, rrule
from dateutil.rrule import weekday as rrule_weekday
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.series.recurrence import (
    COUNT_MAX,
    Recurrence,
    RecurrenceError,
    checked_rule,
    describe_rule,
    nth_weekday,
    occurrences,
    rule_for,
)

NY = ZoneInfo("America/New_York")
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31))
# Every quarter hour, including 1:00-2:59 AM, the hours DST skips or repeats.
times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
kinds = st.sampled_from(["weekly", "biweekly", "monthly"])


def _wall_clock(start: datetime) -> tuple[date, time]:
    local = start.astimezone(NY)
    return local.date(), local.time().replace(tzinfo=None)


def _exists(day: date, at: time) -> bool:
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=NY).astimezone(UTC).astimezone(NY).replace(tzinfo=None) == naive


def _expected_days(kind: str, first: date, count: int) -> list[date]:
    """The same schedule built directly with dateutil's constructor (not from rule text)."""
    start = datetime.combine(first, time(12))
    if kind == "monthly":
        rule = rrule(MONTHLY, dtstart=start, count=count,
                     byweekday=rrule_weekday(first.weekday(), nth_weekday(first)))
    else:
        rule = rrule(WEEKLY, dtstart=start, count=count, interval=2 if kind == "biweekly" else 1)
    return [moment.date() for moment in rule]


@settings(max_examples=200, deadline=None)
@given(kind=kinds, first=days, at=times, count=st.integers(1, 40))
def test_sessions_fall_on_dateutils_days_at_the_same_new_york_clock_time(kind, first, at, count):
    series = Recurrence(rule_for(kind, first), first, at, "America/New_York", end_count=count)
    starts = occurrences(series)
    assert [_wall_clock(s)[0] for s in starts] == _expected_days(kind, first, count)
    for start in starts:
        day, clock = _wall_clock(start)
        if _exists(day, at):
            assert clock == at  # 6 PM stays 6 PM, in EST and EDT alike
        else:  # skipped when clocks go forward: as the clocks show it, an hour on
            assert clock == (datetime.combine(day, at) + timedelta(hours=1)).time()
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(s.tzinfo is not None and s.utcoffset() == timedelta(0) for s in starts)


@settings(max_examples=100, deadline=None)
@given(kind=kinds, first=days, at=times, last=st.integers(0, 400))
def test_an_end_date_keeps_every_session_up_to_and_including_that_day(kind, first, at, last):
    end_on = first + timedelta(days=last)
    series = Recurrence(rule_for(kind, first), first, at, "America/New_York", end_on=end_on)
    local_days = [_wall_clock(s)[0] for s in occurrences(series)]
    assert local_days == [d for d in _expected_days(kind, first, 200) if d <= end_on]


@settings(max_examples=100, deadline=None)
@given(kind=kinds, first=days, at=times, count=st.integers(1, 30),
       window=st.tuples(st.integers(-30, 400), st.integers(0, 200)))
def test_a_window_gives_exactly_the_sessions_inside_it(kind, first, at, count, window):
    series = Recurrence(rule_for(kind, first), first, at, "America/New_York", end_count=count)
    lo = datetime.combine(first, time(0), tzinfo=UTC) + timedelta(days=window[0])
    hi = lo + timedelta(days=window[1])
    assert occurrences(series, (lo, hi)) == [s for s in occurrences(series) if lo <= s < hi]


@settings(max_examples=100, deadline=None)
@given(monthday=st.integers(28, 31), first=st.dates(min_value=date(2026, 1, 1), max_value=date(2029, 12, 1)),
       count=st.integers(1, 24))
def test_a_custom_month_day_rule_skips_the_months_without_that_day_as_dateutil_does(monthday, first, count):
    first = first.replace(day=1)
    text = checked_rule(f"FREQ=MONTHLY;BYMONTHDAY={monthday}")
    series = Recurrence(text, first, time(18), "America/New_York", end_count=count)
    expected = [m.date() for m in rrule(MONTHLY, dtstart=datetime.combine(first, time(18)),
                                        bymonthday=monthday, count=count)]
    assert [_wall_clock(s)[0] for s in occurrences(series)] == expected
    assert all(_wall_clock(s)[1] == time(18) for s in occurrences(series))


def test_a_bi_weekly_evening_series_keeps_six_pm_when_the_clocks_change():
    # 2027-03-14: clocks go forward in New York. 6 PM is 23:00 UTC before, 22:00 after.
    series = Recurrence(rule_for("biweekly", date(2027, 3, 2)), date(2027, 3, 2), time(18),
                        "America/New_York", end_count=3)
    assert [s.hour for s in occurrences(series)] == [23, 22, 22]


def test_the_fifth_weekday_means_the_last_one_of_each_month():
    # 2026-12-29 is the 5th Tuesday of December.
    assert rule_for("monthly", date(2026, 12, 29)) == "FREQ=MONTHLY;BYDAY=-1TU"
    assert rule_for("monthly", date(2026, 12, 8)) == "FREQ=MONTHLY;BYDAY=+2TU"
    assert describe_rule("FREQ=MONTHLY;BYDAY=+2TU", date(2026, 12, 8)) == "Every month on the 2nd Tuesday"
    assert describe_rule("FREQ=WEEKLY;INTERVAL=2", date(2026, 12, 8)) == "Every two weeks on Tuesday"


def test_no_series_has_more_than_the_cap_whatever_its_end():
    series = Recurrence("FREQ=DAILY", date(2027, 1, 1), time(9), "America/New_York", end_count=10_000)
    assert len(occurrences(series)) == COUNT_MAX
    series = Recurrence("FREQ=DAILY", date(2027, 1, 1), time(9), "America/New_York", end_on=date(2099, 1, 1))
    assert len(occurrences(series)) == COUNT_MAX


@pytest.mark.parametrize("typed, problem", [
    ("", "Please type the rule"),
    ("garbage", "isn’t a rule part"),
    ("FREQ=WEEKLY\x00", "one line of plain text"),
    ("DTSTART:20270101T180000\nRRULE:FREQ=WEEKLY", "one line of plain text"),
    ("DTSTART=20270101T180000;FREQ=WEEKLY", "Leave DTSTART out"),
    ("FREQ=WEEKLY;COUNT=8", "Leave COUNT out"),
    ("FREQ=WEEKLY;UNTIL=20271231", "Leave UNTIL out"),
    ("FREQ=DAILY;BYHOUR=9,18", "Leave BYHOUR out"),
    ("FREQ=HOURLY", "at most once a day"),
    ("FREQ=WEEKLY;FREQ=DAILY", "only once"),
    ("BYDAY=TU", "needs a FREQ"),
    ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL must be"),
    ("FREQ=WEEKLY;INTERVAL=100000", "INTERVAL must be"),
    ("FREQ=WEEKLY;BYDAY=XX", "couldn’t read"),
    ("FREQ=FORTNIGHTLY", "couldn’t read"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31", "never gives a date"),
    ("FREQ=WEEKLY;" + "BYDAY=TU;" * 100, "at most 500"),
    ("<script>FREQ=WEEKLY</script>", "isn’t a rule part"),
    ("FREQ=WEEKLY;BYDAY=mardi", "couldn’t read"),
])
def test_a_custom_rule_that_cant_be_used_is_refused_with_its_reason(typed, problem):
    with pytest.raises(RecurrenceError) as refused:
        checked_rule(typed)
    assert problem in refused.value.args[0]


def test_a_custom_rule_is_normalized():
    assert checked_rule(" rrule:freq=monthly; byday=-1fr ") == "FREQ=MONTHLY;BYDAY=-1FR"
