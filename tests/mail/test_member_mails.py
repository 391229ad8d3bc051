"""What every mail about a member's events carries: the time in New York and UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webapp.display import format_mail_when


def test_time_in_mails_is_new_york_time_with_the_zone_and_utc(app):
    winter = datetime(2027, 1, 14, 23, 0, tzinfo=UTC)
    assert format_mail_when(winter, winter + timedelta(minutes=90)) == \
        "Thursday, January 14, 2027, 6\u202fPM\u20137:30\u202fPM EST (23:00 UTC)"
    summer = datetime(2027, 6, 10, 22, 0, tzinfo=UTC)
    assert format_mail_when(summer, summer + timedelta(hours=1)) == \
        "Thursday, June 10, 2027, 6\u202fPM\u20137\u202fPM EDT (22:00 UTC)"


def test_an_evening_event_names_the_utc_day_when_it_is_another(app):
    late = datetime(2027, 1, 15, 1, 0, tzinfo=UTC)  # 8 PM on Thursday in New York
    assert format_mail_when(late, late + timedelta(hours=1)) == \
        "Thursday, January 14, 2027, 8\u202fPM\u20139\u202fPM EST (Friday 01:00 UTC)"
