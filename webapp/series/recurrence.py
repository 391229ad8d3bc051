"""A series' dates: its RRULE expanded on New York wall-clock time, then placed on the clock.

dateutil expands the rule on naive local datetimes, so "every other Tuesday at 6 PM" is 6 PM on
each of those days whatever the UTC offset; each is then localized with zoneinfo. A time that does
not exist that day (skipped when clocks go forward) comes out as the clocks show it, an hour later;
a time that happens twice (clocks go back) is the first of the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

RRULE_MAX = 500
# The most sessions a series may have, and the latest its last day may be: a typo ("COUNT=8000",
# "2062") must not make thousands of events.
COUNT_MAX = 200
YEARS_MAX = 3
KINDS = {
    "weekly": "Every week",
    "biweekly": "Every two weeks",
    "monthly": "Every month, on the same weekday (the 2nd Tuesday…)",
    "custom": "A custom rule (RFC 5545 RRULE)",
}
# Sessions are days: a rule that names hours, minutes or seconds (or repeats more than daily)
# would fight the series' one time of day. DTSTART, COUNT and UNTIL have their own fields.
_REFUSED_PARTS = {"DTSTART", "COUNT", "UNTIL", "BYHOUR", "BYMINUTE", "BYSECOND"}
_REFUSED_FREQS = {"HOURLY", "MINUTELY", "SECONDLY"}
_PART = re.compile(r"^[A-Z]+=[A-Z0-9,+\-]+$")
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}
_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
_DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class RecurrenceError(ValueError):
    """A rule we can't use, with a message for the person who typed it."""


def nth_weekday(day: date) -> int:
    """Which of its month's weekdays `day` is: 1..4, or -1 when it is the 5th (then "the last")."""
    week = (day.day - 1) // 7 + 1
    return -1 if week == 5 else week


def rule_for(kind: str, first_on: date, custom: str = "") -> str:
    """The RRULE text (no DTSTART, COUNT or UNTIL) of a recurrence choice starting on `first_on`."""
    if kind == "weekly":
        return "FREQ=WEEKLY"
    if kind == "biweekly":
        return "FREQ=WEEKLY;INTERVAL=2"
    if kind == "monthly":
        return f"FREQ=MONTHLY;BYDAY={nth_weekday(first_on):+d}{_DAYS[first_on.weekday()]}"
    if kind == "custom":
        return checked_rule(custom)
    raise RecurrenceError("Please choose how often the series meets.")


def checked_rule(text: str) -> str:
    """A typed RRULE, normalized ("RRULE:" and spaces dropped, upper case); RecurrenceError if unusable."""
    text = (text or "").strip()
    if not text:
        raise RecurrenceError("Please type the rule, like FREQ=MONTHLY;BYDAY=-1FR (the last Friday).")
    if len(text) > RRULE_MAX:
        raise RecurrenceError(f"The rule can be at most {RRULE_MAX} characters (this had {len(text):,}).")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise RecurrenceError("The rule must be one line of plain text.")
    text = text.upper().replace(" ", "")
    if text.startswith("RRULE:"):
        text = text[len("RRULE:"):]
    parts = [part for part in text.split(";") if part]
    names = []
    for part in parts:
        if not _PART.match(part):
            raise RecurrenceError(f"“{part[:40]}” isn’t a rule part like FREQ=WEEKLY or BYDAY=TU.")
        names.append(part.split("=", 1)[0])
    if refused := sorted(set(names) & _REFUSED_PARTS):
        raise RecurrenceError(
            f"Leave {', '.join(refused)} out of the rule: the first day, the time and the end have "
            "fields of their own.")
    if len(set(names)) != len(names):
        raise RecurrenceError("Each part of the rule can appear only once.")
    values = dict(part.split("=", 1) for part in parts)
    freq = values.get("FREQ")
    if freq is None:
        raise RecurrenceError("The rule needs a FREQ, like FREQ=WEEKLY.")
    if freq in _REFUSED_FREQS:
        raise RecurrenceError("A series meets at most once a day: use DAILY, WEEKLY, MONTHLY or YEARLY.")
    if "INTERVAL" in values and not re.fullmatch(r"[1-9][0-9]?", values["INTERVAL"]):
        raise RecurrenceError("INTERVAL must be a whole number from 1 to 99.")
    text = ";".join(parts)
    try:
        rule = rrulestr(text, dtstart=datetime(2026, 1, 1))
        # A rule that parses but never happens (BYMONTHDAY=31;BYMONTH=2) is as useless as garbage.
        if rule.after(datetime(2026, 1, 1), inc=True) is None:
            raise RecurrenceError("That rule never gives a date.")
    except RecurrenceError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        raise RecurrenceError("We couldn’t read that rule. Try one like FREQ=MONTHLY;BYDAY=-1FR.") from None
    return text


def describe_rule(text: str, first_on: date) -> str:
    """The rule in words, for the series page: "Every two weeks on Tuesday"."""
    day = _DAY_NAMES[first_on.weekday()]
    if text == "FREQ=WEEKLY":
        return f"Every week on {day}"
    if text == "FREQ=WEEKLY;INTERVAL=2":
        return f"Every two weeks on {day}"
    if match := re.fullmatch(r"FREQ=MONTHLY;BYDAY=([+-]\d)([A-Z]{2})", text):
        return f"Every month on the {_ORDINALS[int(match[1])]} {_DAY_NAMES[_DAYS.index(match[2])]}"
    return f"Custom: {text}"


@dataclass(frozen=True)
class Recurrence:
    """What `occurrences` needs of a series (a Series row has all of it)."""

    rrule: str
    first_on: date
    local_time: time
    timezone: str
    end_count: int | None = None
    end_on: date | None = None
    # Days of earlier schedules (before first_on) that end_count counts too.
    sessions_before: int = 0


def _rule(series) -> rrule | None:
    """The rule from first_on to its end; None when a count end was used up by earlier schedules."""
    start = datetime.combine(series.first_on, series.local_time)
    until = datetime.combine(series.end_on, time.max) if series.end_on else None
    rule = rrulestr(series.rrule, dtstart=start)
    if series.end_count:
        left = series.end_count - (getattr(series, "sessions_before", 0) or 0)
        if left <= 0:
            return None
        count = min(left, COUNT_MAX)
    else:
        count = None if until else COUNT_MAX
    return rule.replace(count=count, until=until)


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone`, as UTC: a skipped time as the clocks show it, a repeated one the first."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def occurrences(series, between: tuple[datetime, datetime] | None = None) -> list[datetime]:
    """The series' session starts (UTC), in order; only those in [start, end) of `between` when given.
    At most COUNT_MAX, whatever the rule says."""
    zone = ZoneInfo(series.timezone)
    rule = _rule(series)
    if rule is None:
        return []
    if between is None:
        naive = list(rule)
    else:
        lo, hi = between
        # A day's margin each side: the naive bounds are local, the filter below is exact.
        naive = rule.between(lo.astimezone(zone).replace(tzinfo=None) - timedelta(days=1),
                             hi.astimezone(zone).replace(tzinfo=None) + timedelta(days=1), inc=True)
    starts = [localize(moment, zone) for moment in naive[:COUNT_MAX]]
    if between is not None:
        starts = [start for start in starts if between[0] <= start < between[1]]
    return starts


def session_count(series) -> int:
    """How many sessions the series has in all (its rule and its end), earlier schedules' too."""
    return (getattr(series, "sessions_before", 0) or 0) + len(occurrences(series))
