"""The seed loads every METRO Meetup group and the upcoming events, and is safe to run again."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from webapp.events.models import Event
from webapp.groups.models import Group, GroupOrganizer
from webapp.seed import held_on, load_seed_data, seed

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

    assert first == {"groups": 14, "events": 9}
    assert again == {"groups": 0, "events": 0}
    assert session.scalar(select(func.count(Group.id))) == 14
    assert session.scalar(select(func.count(Event.id))) == 9
    assert session.scalar(select(func.count(GroupOrganizer.id))) == sum(
        len(g["organizers"]) for g in load_seed_data()["groups"]
    )
    starts = [e.starts_at.astimezone(NY).date() for e in session.scalars(select(Event))
              if e.slug not in HELD_IN_2020]
    # Existing events kept their dates on the second run.
    assert min(starts) > today and max(starts) <= today + timedelta(weeks=8)


def test_redate_moves_events_back_into_the_future(session):
    seed(session, today=date(2020, 1, 1), zone=NY)
    session.commit()
    seed(session, today=date(2030, 1, 1), zone=NY, redate=True)
    session.commit()
    assert all(e.starts_at.year == 2030 for e in session.scalars(select(Event)) if e.slug not in HELD_IN_2020)


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
    assert "14 new groups, 9 new events" in result.output
    result = app.test_cli_runner().invoke(args=["seed"])
    assert "0 new groups, 0 new events" in result.output


def test_seed_leaves_edited_rows_alone_unless_refreshed(session):
    seed(session, today=date(2030, 3, 1), zone=NY)
    group = session.scalar(select(Group).where(Group.slug == "code4libnyc"))
    group.description = "Edited by an organizer"
    session.commit()
    seed(session, today=date(2030, 3, 1), zone=NY)
    assert group.description == "Edited by an organizer"
    seed(session, today=date(2030, 3, 1), zone=NY, refresh=True)
    assert group.description != "Edited by an organizer"
