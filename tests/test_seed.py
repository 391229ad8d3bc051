"""The seed loads every METRO Meetup group and the upcoming events, and is safe to run again."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from webapp.events.models import Event
from webapp.groups.models import Group, GroupOrganizer
from webapp.seed import held_on, load_seed_data, seed
from webapp.series.models import Series, SeriesSlotOffer
from webapp.slots.models import SlotOffer

NY = ZoneInfo("America/New_York")


def test_seed_data_holds_every_group_of_both_pages_and_the_upcoming_events():
    data = load_seed_data()
    names = {g["name"] for g in data["groups"]}
    for expected in ("Code4LibNYC", "Accessibility (A11y) in Libraries", "Digital Preservation",
                     "Prison Library Support Network", "Librarians for College Readiness",
                     "Outreach and Advocacy", "User Experience (UX) in Libraries"):
        assert expected in names
    assert any("Web Archiving" in n for n in names)
    assert any("Science, Technology" in n or "STM" in n for n in names)
    assert len(data["groups"]) == 14
    assert len(data["events"]) == 9
    slugs = {g["slug"] for g in data["groups"]}
    assert all(e["group"] in slugs for e in data["events"] if e["group"])


def test_seed_text_is_clean_and_complete():
    raw = str(load_seed_data())
    assert "â€" not in raw and "[…]" not in raw and "Find out more" not in raw


def test_current_organizers_come_from_the_current_page():
    groups = {g["slug"]: g for g in load_seed_data()["groups"]}
    code4lib = next(g for g in groups.values() if g["name"] == "Code4LibNYC")
    assert [o["name"] for o in code4lib["organizers"]] == ["Esther Jackson"]
    assert code4lib["external_url"] == "https://www.meetup.com/code4libnyc/"


def test_book_club_is_the_capped_zoom_event():
    club = next(e for e in load_seed_data()["events"] if "Book Club" in e["title"])
    assert club["capacity"] and club["is_online"] and club["meeting_url"].startswith("https://")


def test_seed_is_idempotent_and_redates_into_the_coming_weeks(session):
    today = date(2030, 3, 1)
    first = seed(session, today=today, zone=NY)
    session.commit()
    again = seed(session, today=today + timedelta(days=30), zone=NY)
    session.commit()

    # The Book Club's series: the seeded #5 and the monthly sessions after it up to the horizon.
    assert first == {"groups": 14, "events": 9, "series": 1, "sessions": first["sessions"]}
    assert first["sessions"] >= 1
    assert again == {"groups": 0, "events": 0, "series": 0, "sessions": 0}
    assert session.scalar(select(func.count(Group.id))) == 14
    assert session.scalar(select(func.count(Event.id))) == 9 + first["sessions"]
    assert session.scalar(select(func.count(Series.id))) == 1
    assert session.scalar(select(func.count(GroupOrganizer.id))) == sum(
        len(g["organizers"]) for g in load_seed_data()["groups"]
    )
    seeded = {e["slug"] for e in load_seed_data()["events"]}
    starts = [e.starts_at.astimezone(NY).date() for e in session.scalars(select(Event))
              if e.slug in seeded and e.slug not in HELD_IN_2020]
    # Existing events kept their dates on the second run.
    assert min(starts) > today and max(starts) <= today + timedelta(weeks=8)


def test_redate_moves_events_back_into_the_future(session):
    seed(session, today=date(2020, 1, 1), zone=NY)
    session.commit()
    seed(session, today=date(2030, 1, 1), zone=NY, redate=True)
    session.commit()
    # A series' sessions keep the days its rule gave them (the Book Club's, made in 2020).
    assert all(e.starts_at.year == 2030 for e in session.scalars(select(Event))
               if e.slug not in HELD_IN_2020 and e.series_id is None)


HELD_IN_2020 = {"scope-creep-privacy-during-lockdown", "from-downturn-to-downturn"}


def test_events_whose_text_names_a_past_year_stay_in_it_and_the_rest_read_true_in_any_year(session):
    """Issue 18: "Applying 2010 Lessons in 2020" offered as upcoming in 2030 reads stale."""
    events = load_seed_data()["events"]
    assert {e["slug"] for e in events if held_on(e)} == HELD_IN_2020
    for item in events:
        if not held_on(item):
            text = " ".join((item["title"], item["summary"], item["description"]))
            assert "lockdown" not in text.lower() and "2020" not in text, item["slug"]
    seed(session, today=date(2030, 3, 1), zone=NY)
    seed(session, today=date(2031, 3, 1), zone=NY, redate=True)
    held = {e.slug: e.starts_at.astimezone(NY)
            for e in session.scalars(select(Event).where(Event.slug.in_(HELD_IN_2020)))}
    assert held["scope-creep-privacy-during-lockdown"].date() == date(2020, 5, 28)
    assert held["from-downturn-to-downturn"].year == 2020


def test_the_every_other_week_chat_has_two_sessions_two_weeks_apart_and_a_contact_link(app, session):
    app.config["CONTACT_EMAIL"] = "team@metro.example"
    seed(session, today=date(2030, 3, 1), zone=NY)
    chats = list(session.scalars(
        select(Event).where(Event.title == "METRO Community Chat").order_by(Event.starts_at)))
    first, second = (chat.starts_at.astimezone(NY) for chat in chats)
    assert second.date() - first.date() == timedelta(weeks=2) and second.time() == first.time()
    for chat in chats:
        assert "bi-weekly" not in chat.description and "every other week" in chat.description
        assert "[let the METRO team know](mailto:team@metro.example)" in chat.description
        assert "{contact_email}" not in chat.description


def test_seed_command(app):
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "14 new groups, 9 new events, 1 new series" in result.output
    result = app.test_cli_runner().invoke(args=["seed"])
    assert "0 new groups, 0 new events, 0 new series (0 more sessions made)" in result.output


def test_seed_leaves_edited_rows_alone_unless_refreshed(session):
    seed(session, today=date(2030, 3, 1), zone=NY)
    group = session.scalar(select(Group).where(Group.slug == "code4libnyc"))
    group.description = "Edited by an organizer"
    session.commit()
    seed(session, today=date(2030, 3, 1), zone=NY)
    assert group.description == "Edited by an organizer"
    seed(session, today=date(2030, 3, 1), zone=NY, refresh=True)
    assert group.description != "Edited by an organizer"


# --- the series (issue 20) -----------------------------------------------------------------------------

BOOK_CLUB = "plsn-prison-abolition-book-club-5"
CHATS = ("metro-community-chat", "metro-community-chat-2")


def _rows(session) -> dict[str, int]:
    session.expire_all()
    return {model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Group, Event, Series, SeriesSlotOffer, SlotOffer)}


def _without_series(data: dict) -> dict:
    """The seed file as it was before series: the Book Club and the chats as single events, no slots."""
    return dict(groups=data["groups"], events=[{k: v for k, v in e.items() if k != "slots"} for e in data["events"]])


def test_the_book_club_is_a_capped_monthly_series_whose_first_session_is_the_seeded_event(app, session):
    today = date(2030, 3, 1)
    seed(session, today=today, zone=NY)
    session.commit()
    series = session.scalar(select(Series).where(Series.slug == "plsn-prison-abolition-book-club"))
    assert series.group.slug == "prison-library-support-network" and series.title == "PLSN Prison Abolition Book Club"
    sessions = list(session.scalars(select(Event).where(Event.series_id == series.id).order_by(Event.starts_at)))
    club = session.scalar(select(Event).where(Event.slug == BOOK_CLUB))
    assert sessions[0].id == club.id and len(sessions) >= 2  # up to the 90-day horizon
    starts = [e.starts_at.astimezone(NY) for e in sessions]
    nth = (starts[0].day - 1) // 7
    assert all(s.weekday() == starts[0].weekday() and (s.day - 1) // 7 == nth for s in starts)  # "the 1st Tuesday"
    assert [(s.month - starts[0].month) % 12 for s in starts] == list(range(len(starts)))  # one a month
    assert all(s.strftime("%H:%M") == "18:30" for s in starts)
    assert all(e.capacity == 20 and e.is_online and e.ends_at - e.starts_at == timedelta(minutes=90)
               for e in sessions)
    assert series.rrule.startswith("FREQ=MONTHLY;BYDAY=") and series.end_count == 6 and series.capacity == 20
    # The seeded event keeps its own name; the later sessions have the series'.
    assert club.title == "PLSN Prison Abolition Book Club #5" and club.series_detached == "title"
    assert all(e.title == series.title for e in sessions[1:])
    assert "capped" in series.description and "{contact_email}" not in series.description

    before = _rows(session)
    seed(session, today=today, zone=NY)
    seed(session, today=today + timedelta(days=40), zone=NY)
    session.commit()
    assert _rows(session) == before  # run again, even later: the same rows (later sessions are the sweep's)


def test_a_database_seeded_before_series_gets_the_series_with_no_second_session_on_the_book_clubs_day(
        app, session):
    from tests.factories import create_user
    from webapp.registrations.services import register

    today = date(2030, 3, 1)
    seed(session, today=today, zone=NY, data=_without_series(load_seed_data()))
    club = session.scalar(select(Event).where(Event.slug == BOOK_CLUB))
    member = create_user(email="reader@example.org")
    register(session, club.id, member=member, now=datetime.combine(today, time(9), NY))
    session.commit()
    assert session.scalar(select(func.count(Series.id))) == 0
    club_id, club_day = club.id, club.starts_at.astimezone(NY).date()

    created = seed(session, today=today + timedelta(days=3), zone=NY)
    session.commit()
    assert created["events"] == 0 and created["series"] == 1
    series = session.scalar(select(Series).where(Series.slug == "plsn-prison-abolition-book-club"))
    sessions = list(session.scalars(select(Event).where(Event.series_id == series.id).order_by(Event.starts_at)))
    # The seeded event is attached as the first session: same row, same link, its registration kept.
    assert sessions[0].id == club_id and sessions[0].slug == BOOK_CLUB and series.first_on == club_day
    assert sessions[0].confirmed_count == 1
    days = [e.starts_at.astimezone(NY).date() for e in session.scalars(select(Event).where(
        Event.title.like("PLSN Prison Abolition Book Club%")))]
    assert len(days) == len(set(days)) == len(sessions)  # one session a day, none beside the old event


def test_the_chats_offer_two_15_minute_presenter_slots_each_once_and_an_old_database_gets_them(app, session):
    today = date(2030, 3, 1)
    seed(session, today=today, zone=NY, data=_without_series(load_seed_data()))
    session.commit()
    assert session.scalar(select(func.count(SlotOffer.id))) == 0
    for _ in range(2):
        seed(session, today=today, zone=NY)
        session.commit()
    offers = list(session.scalars(select(SlotOffer).join(Event).where(Event.slug.in_(CHATS))))
    assert len(offers) == 2 and all(o.minutes == 15 and o.how_many == 2 for o in offers)
    assert {o.label for o in offers} == {"Presenter or facilitator"}
    assert session.scalar(select(func.count(SlotOffer.id))) == 2  # no other event got any


def test_the_chats_stay_two_metro_hosted_events_because_a_series_needs_a_group(app, session):
    """A series belongs to a group (series.group_id is required, its pages name it): the METRO-wide
    chat stays what the page says it is, sessions hosted by METRO with their own pages."""
    seed(session, today=date(2030, 3, 1), zone=NY)
    chats = list(session.scalars(select(Event).where(Event.slug.in_(CHATS))))
    assert len(chats) == 2 and all(c.group_id is None and c.series_id is None for c in chats)
    assert not Series.__table__.c.group_id.nullable


def test_seeding_the_series_tells_the_book_clubs_followers_once(app, session):
    from tests.factories import create_user
    from tests.support.outbox import mails
    from webapp.follows.services import follow_group

    today = date(2030, 3, 1)
    seed(session, today=today, zone=NY, data=_without_series(load_seed_data()))
    plsn = session.scalar(select(Group).where(Group.slug == "prison-library-support-network"))
    follow_group(session, plsn.id, member=create_user(email="reader@example.org"),
                 now=datetime.combine(today, time(9), NY))
    session.commit()
    for _ in range(2):
        seed(session, today=today + timedelta(days=1), zone=NY)
        session.commit()
    [told] = mails(session, kind="followed_group_series")
    assert told.recipient == "reader@example.org"
    assert told.subject.startswith("New series from Prison Library Support Network: PLSN Prison Abolition Book Club"
                                   " — every month on the ")
    assert mails(session, kind="followed_group_event") == []
