"""Small builders for series tests."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from webapp.series import services
from webapp.series.recurrence import rule_for

NY = ZoneInfo("America/New_York")


def series_fields(now: datetime, **changes) -> services.SeriesFields:
    """A bi-weekly 6 PM online series of 8 sessions, its first session 3 days after `now`."""
    first_on = (now.astimezone(NY) + timedelta(days=3)).date()
    values = dict(title="Community Chat", description="Bi-weekly chat.", rrule=rule_for("biweekly", first_on),
                  first_on=first_on, local_time=time(18), duration_minutes=60, end_count=8, end_on=None,
                  is_online=True, capacity=None, meeting_url="https://zoom.us/j/42")
    values.update(changes)
    return services.SeriesFields(**values)
