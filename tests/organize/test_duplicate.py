"""Same time next month: the date arithmetic (weekday of the month, New York wall-clock times across
daylight saving) and the organizer's copy, saved as a new draft."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.factories import create_cast, create_event, create_group
from tests.organize.test_views import all_mails, event_form, fresh_event, local_input, post
from webapp.events.models import Event, EventStatus
from webapp.organize.services import next_month_copy, same_weekday_next_month, shift_wall_clock

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
NY = ZoneInfo("America/New_York")


# --- the arithmetic ------------------------------------------------------------------------------------

@pytest.mark.parametrize("day,expected", [
    (date(2027, 3, 9), date(2027, 4, 13)),    # 2nd Tuesday -> 2nd Tuesday
    (date(2027, 1, 1), date(2027, 2, 5)),     # 1st Friday -> 1st Friday
    (date(2027, 1, 28), date(2027, 2, 25)),   # 4th Thursday -> 4th Thursday
    (date(2027, 10, 12), date(2027, 11, 9)),  # 2nd Tuesday -> 2nd Tuesday
    (date(2026, 12, 8), date(2027, 1, 12)),   # across the new year
    (date(2028, 1, 25), date(2028, 2, 22)),   # 4th Tuesday into a leap February
])
def test_same_weekday_of_the_same_week_next_month(day, expected):
    assert same_weekday_next_month(day) == expected


@pytest.mark.parametrize("day,expected", [
    (date(2027, 3, 30), date(2027, 4, 27)),   # 5th Tuesday -> April's last (4th) Tuesday
    (date(2027, 3, 31), date(2027, 4, 28)),   # 5th Wednesday -> last Wednesday
    (date(2026, 12, 29), date(2027, 1, 26)),  # 5th Tuesday of December -> last Tuesday of January
    (date(2026, 1, 31), date(2026, 2, 28)),   # 5th Saturday -> February's last Saturday
    (date(2027, 10, 31), date(2027, 11, 28)),  # 5th Sunday -> last Sunday
    (date(2028, 2, 29), date(2028, 3, 28)),   # 5th Tuesday of a leap February -> last Tuesday of March
])
def test_a_fifth_weekday_falls_back_to_the_last_such_weekday(day, expected):
    # The next weekday after a 5th one falls on the 5th to 7th of the next month, so that month
    # never has a 5th one: the fallback always applies.
    assert same_weekday_next_month(day) == expected
    assert (expected + timedelta(days=7)).month != expected.month


def test_every_day_of_two_years_maps_to_the_same_weekday_next_month():
    day = date(2026, 1, 1)
    while day < date(2028, 1, 1):
        result = same_weekday_next_month(day)
        assert result.weekday() == day.weekday()
        assert (result.year, result.month) == ((day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1))
        week = (day.day - 1) // 7
        if week < 4:
            assert (result.day - 1) // 7 == week, day
        else:  # a 5th weekday: the last such weekday
            assert (result + timedelta(days=7)).month != result.month, day
        day += timedelta(days=1)


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.mark.parametrize("moment,days,expected_local,expected_utc", [
    # Into daylight saving (clocks go forward 2027-03-14): 6 PM stays 6 PM, one hour less in UTC.
    (ny(2027, 2, 16, 18, 0), 28, (2027, 3, 16, 18, 0), datetime(2027, 3, 16, 22, 0, tzinfo=UTC)),
    # Out of it (clocks go back 2027-11-07).
    (ny(2027, 10, 12, 18, 0), 28, (2027, 11, 9, 18, 0), datetime(2027, 11, 9, 23, 0, tzinfo=UTC)),
    # No change of offset.
    (ny(2027, 4, 13, 9, 30), 28, (2027, 5, 11, 9, 30), datetime(2027, 5, 11, 13, 30, tzinfo=UTC)),
    # 2:30 AM does not exist on 2027-03-14: it comes out as the clocks show it, 3:30 AM.
    (ny(2027, 2, 14, 2, 30), 28, (2027, 3, 14, 3, 30), datetime(2027, 3, 14, 7, 30, tzinfo=UTC)),
])
def test_shift_keeps_new_york_wall_clock_time_across_daylight_saving(moment, days, expected_local, expected_utc):
    shifted = shift_wall_clock(moment.astimezone(UTC), days, NY)
    assert shifted.astimezone(NY).timetuple()[:5] == expected_local
    assert shifted == expected_utc


def test_shift_of_nothing_is_nothing():
    assert shift_wall_clock(None, 28, NY) is None


def test_the_copy_moves_times_and_registration_window_by_the_same_days():
    event = Event(
        title="Map Night", description="Maps.", is_online=False, venue_name="Library", venue_address="1 Main St",
        venue_accessibility="Ramp.", capacity=12, meeting_url=None,
        starts_at=ny(2027, 2, 16, 18, 0).astimezone(UTC), ends_at=ny(2027, 2, 16, 19, 30).astimezone(UTC),
        registration_opens_at=ny(2027, 2, 1, 9, 0).astimezone(UTC),
        registration_closes_at=ny(2027, 2, 16, 12, 0).astimezone(UTC),
    )
    copy = next_month_copy(event, NY)
    local = {name: getattr(copy, name).astimezone(NY).timetuple()[:5]
             for name in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at")}
    assert local == {
        "starts_at": (2027, 3, 16, 18, 0), "ends_at": (2027, 3, 16, 19, 30),  # 3rd Tuesday, now EDT
        "registration_opens_at": (2027, 3, 1, 9, 0), "registration_closes_at": (2027, 3, 16, 12, 0),
    }
    assert (copy.title, copy.venue_name, copy.venue_accessibility, copy.capacity, copy.is_online) == (
        "Map Night", "Library", "Ramp.", 12, False)


# --- over HTTP -----------------------------------------------------------------------------------------

@pytest.fixture
def world(session):
    group = create_group(slug="metadata", name="Metadata Practitioners")
    other = create_group(slug="archives")
    # The 2nd Tuesday of October 2031, 6 PM EDT; next month's 2nd Tuesday is in EST.
    event = create_event(group, slug="map-night", title="Map Night", capacity=12, is_online=False, meeting_url=None,
                         venue_name="Brooklyn Public Library", venue_accessibility="Step-free entrance.",
                         starts_at=ny(2031, 10, 14, 18, 0).astimezone(UTC),
                         ends_at=ny(2031, 10, 14, 20, 0).astimezone(UTC),
                         registration_opens_at=ny(2031, 10, 1, 9, 0).astimezone(UTC))
    people = create_cast(group, other)
    session.commit()
    return dict(group=group, event=event, **people)


def copy_form(**changes) -> dict:
    return event_form(**{**dict(
        title="Map Night", meeting_format="in_person", meeting_url="", venue_name="Brooklyn Public Library",
        venue_accessibility="Step-free entrance.", starts_at="2031-11-11T18:00", ends_at="2031-11-11T20:00",
        capacity="12", registration_opens_at="2031-10-29T09:00"), **changes})


def events_count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Event.id)))


def test_organizers_see_the_button_and_members_do_not(signed_in_client, client, world):
    assert "/events/map-night/duplicate" not in client.get("/events/map-night").get_data(as_text=True)
    assert "/events/map-night/duplicate" not in signed_in_client(world["member"]).get(
        "/events/map-night").get_data(as_text=True)
    page = signed_in_client(world["organizer"]).get("/events/map-night").get_data(as_text=True)
    assert 'href="/events/map-night/duplicate">Same time next month</a>' in page


@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_the_form_opens_filled_in_for_the_same_weekday_next_month(signed_in_client, world, who):
    response = signed_in_client(world[who]).get("/events/map-night/duplicate")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "New event for Metadata Practitioners" in html and "A copy of" in html
    assert 'action="/events/map-night/duplicate"' in html
    assert 'value="2031-11-11T18:00"' in html and 'value="2031-11-11T20:00"' in html  # still 6 PM, now EST
    assert 'value="2031-10-29T09:00"' in html  # registration opens 4 weeks later too
    assert 'value="Map Night"' in html and 'value="Brooklyn Public Library"' in html
    assert "Step-free entrance." in html and 'value="12"' in html
    assert 'id="event-format-in_person" name="meeting_format" value="in_person" checked' in html


@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_saving_the_copy_makes_a_new_draft_and_leaves_the_original(signed_in_client, world, session, who):
    before = events_count(session)
    response = post(signed_in_client(world[who]), "/events/map-night/duplicate", copy_form(then="preview"))
    assert response.status_code == 303 and response.location.endswith("/events/map-night-2")
    assert events_count(session) == before + 1
    copy = fresh_event(session, "map-night-2")
    assert copy.status == EventStatus.DRAFT and copy.group_id == world["group"].id
    assert copy.starts_at == datetime(2031, 11, 11, 23, 0, tzinfo=UTC)
    assert copy.venue_accessibility == "Step-free entrance." and copy.capacity == 12
    original = fresh_event(session, "map-night")
    assert original.status == EventStatus.SCHEDULED and original.starts_at == ny(2031, 10, 14, 18, 0)
    assert all_mails(session) == []


def test_a_copy_of_a_metro_event_stays_metros(signed_in_client, world, session):
    create_event(None, slug="metro-day", title="METRO Day", starts_at=ny(2031, 10, 14, 18, 0).astimezone(UTC))
    session.commit()
    client = signed_in_client(world["admin"])
    assert client.get("/events/metro-day/duplicate").status_code == 200
    response = post(client, "/events/metro-day/duplicate", copy_form(title="METRO Day", then="draft"))
    assert response.status_code == 303 and response.location.endswith("/events/metro-day-2/edit?done=saved")
    copy = fresh_event(session, "metro-day-2")
    assert copy.group_id is None and copy.status == EventStatus.DRAFT


def test_bad_input_in_the_copy_is_refused_and_kept(signed_in_client, world, session):
    before = events_count(session)
    response = post(signed_in_client(world["organizer"]), "/events/map-night/duplicate",
                    copy_form(title="", venue_accessibility="x" * 1001))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Please give the event a title." in html
    assert "The venue’s accessibility can be at most 1,000 characters" in html
    assert 'action="/events/map-night/duplicate"' in html
    assert events_count(session) == before


def test_a_copy_in_the_past_is_refused(signed_in_client, world, session):
    before = events_count(session)
    past = datetime.now(UTC) - timedelta(days=2)
    response = post(signed_in_client(world["organizer"]), "/events/map-night/duplicate", copy_form(
        starts_at=local_input(past), ends_at=local_input(past + timedelta(hours=1)), registration_opens_at=""))
    assert response.status_code == 422 and "must start in the future" in response.get_data(as_text=True)
    assert events_count(session) == before


def test_signed_out_visitors_sign_in_first_and_change_nothing(client, world, session):
    response = client.get("/events/map-night/duplicate")
    assert response.status_code == 302 and "/sign-in" in response.location
    before = events_count(session)
    assert post(client, "/events/map-night/duplicate", copy_form()).status_code == 403
    assert events_count(session) == before


@pytest.mark.parametrize("who", ["member", "other_organizer"])
def test_members_and_other_groups_organizers_may_not_copy(signed_in_client, world, session, who):
    client = signed_in_client(world[who])
    before = events_count(session)
    assert client.get("/events/map-night/duplicate").status_code == 403
    assert post(client, "/events/map-night/duplicate", copy_form()).status_code == 403
    assert events_count(session) == before


def test_unknown_event_is_404(signed_in_client, world):
    assert signed_in_client(world["admin"]).get("/events/nope/duplicate").status_code == 404
