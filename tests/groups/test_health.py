"""The staff's group health page over HTTP, on a fixed clock: each group's figures, the dormant
boundary, sorting on every column, the filters, the CSV export, garbage in the URL, who may see it,
and a query count that does not grow with the groups and events."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.html import by_id, cells_by_column, parse, row_headers, text
from tests.support.queries import count_queries
from webapp.accounts.models import Role
from webapp.db import db
from webapp.events.models import EventStatus
from webapp.follows.models import GroupFollow
from webapp.groups.health import months_before
from webapp.registrations.models import Registration, RegistrationStatus

pytestmark = pytest.mark.usefixtures("fresh_request_globals")

NOW = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)
SIX_MONTHS_AGO = months_before(NOW, 6)  # 2025-12-15 16:00 UTC


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr("webapp.groups.health_views.utcnow", lambda: NOW)


@pytest.fixture
def staff_client(signed_in_client, session):
    staff = create_user(roles=[Role.STAFF])
    session.commit()
    return signed_in_client(staff)


def attend(event, *, checked_in: int, not_checked_in: int = 0, cancelled: int = 0):
    """Registrations for `event`: some confirmed and checked in, some confirmed only, some cancelled."""
    for n in range(checked_in + not_checked_in + cancelled):
        status = RegistrationStatus.CANCELLED if n >= checked_in + not_checked_in else RegistrationStatus.CONFIRMED
        event_user = create_user()
        db.session.add(Registration(event_id=event.id, user_id=event_user.id, status=status, queue_number=n + 1,
                                    checked_in_at=event.starts_at if n < checked_in else None))


def follow(group, count: int):
    for _ in range(count):
        db.session.add(GroupFollow(group_id=group.id, user_id=create_user().id))


def rows(html: str) -> dict[str, dict[str, str]]:
    """The table's rows by group name, each as its cells by column header (without the sort marks)."""
    table = by_id(html, "health-rows").find("table")
    if table is None:
        return {}
    found = {}
    for row in table.select("tbody tr"):
        cells = {header.rstrip(" ▲▼"): value for header, value in cells_by_column(row).items()}
        found[next(row.th.stripped_strings)] = cells
    return found


def names(html: str) -> list[str]:
    table = by_id(html, "health-rows").find("table")
    return row_headers(table) if table else []


def world(session):
    """A busy group, a group that never met, and two groups on either side of the six-month line."""
    busy = create_group(slug="biblio", name="Bibliothèque Club", organizers=["Ana", "Bo"])
    held = create_event(busy, title="Spring meetup", starts_at=NOW - timedelta(days=60))
    attend(held, checked_in=2, not_checked_in=1, cancelled=1)
    old = create_event(busy, title="Long ago", starts_at=NOW - timedelta(days=400))
    attend(old, checked_in=5)  # over a year ago: neither an event nor attendance of the last 12 months
    cancelled = create_event(busy, title="Called off", starts_at=NOW - timedelta(days=10),
                             status=EventStatus.CANCELLED)
    attend(cancelled, checked_in=3)  # checked in before it was cancelled: still not held
    create_event(busy, title="Draft past", starts_at=NOW - timedelta(days=5), status=EventStatus.DRAFT)
    create_event(busy, title="Cancelled soon", starts_at=NOW + timedelta(days=2), status=EventStatus.CANCELLED)
    create_event(busy, title="Draft soon", starts_at=NOW + timedelta(days=1), status=EventStatus.DRAFT)
    create_event(busy, slug="summer-social", title="Summer social", starts_at=NOW + timedelta(days=10))
    create_event(busy, title="Autumn social", starts_at=NOW + timedelta(days=90))
    follow(busy, 3)

    never = create_group(slug="never", name="Never Met", organizers=["Cy"])
    create_event(never, title="First ever", starts_at=NOW + timedelta(days=3))
    follow(never, 1)

    edge = create_group(slug="edge", name="Edge Case Readers", organizers=["Di", "Ed", "Fa"])
    create_event(edge, title="Exactly six months ago", starts_at=SIX_MONTHS_AGO)
    past_edge = create_group(slug="past-edge", name="Past The Edge", organizers=["Gu"])
    create_event(past_edge, title="Six months and a second ago", starts_at=SIX_MONTHS_AGO - timedelta(seconds=1))
    follow(past_edge, 2)
    session.commit()


def test_each_group_shows_its_last_and_next_event_people_and_the_last_twelve_months(staff_client, session):
    world(session)
    html = staff_client.get("/staff/groups").get_data(as_text=True)

    busy = rows(html)["Bibliothèque Club"]
    assert busy["Last event held"] == "Apr 16, 2026"  # the Spring meetup; the cancelled one and the draft don't count
    assert busy["Next event"] == "Summer social Jun 25, 2026"  # not the cancelled event or the draft before it
    assert busy["Organizers"] == "2 organizers of Bibliothèque Club"
    assert busy["Followers"] == "3"
    assert busy["Events held (12 months)"] == "1"
    assert busy["Attendance (12 months)"] == "2"  # checked in; not the unchecked, cancelled or year-old ones
    assert busy["Dormant"] == "No"

    never = rows(html)["Never Met"]
    assert never["Last event held"] == "Never"
    assert never["Next event"] == "First ever Jun 18, 2026"
    assert never["Events held (12 months)"] == "0"
    assert never["Dormant"] == "Dormant"  # never held anything, even with an event coming

    soup = parse(html)
    assert text(soup.find("a", attrs={"href": "/groups/biblio/organizers"})) == "2 organizers of Bibliothèque Club"
    assert soup.find("a", attrs={"href": "/events/summer-social"}) is not None
    assert soup.find("a", attrs={"href": "/groups/biblio"}) is not None
    assert "checked in" in text(by_id(html, "health-note"))


def test_dormant_means_nothing_held_in_six_months_counting_an_event_exactly_six_months_ago(staff_client, session):
    world(session)
    found = rows(staff_client.get("/staff/groups").get_data(as_text=True))
    assert found["Edge Case Readers"]["Dormant"] == "No"
    assert found["Past The Edge"]["Dormant"] == "Dormant"


@pytest.mark.parametrize(("moment", "months", "expected"), [
    (datetime(2026, 8, 31, 9, 30, tzinfo=UTC), 6, datetime(2026, 2, 28, 9, 30, tzinfo=UTC)),  # no 31 February
    (datetime(2028, 8, 31, tzinfo=UTC), 6, datetime(2028, 2, 29, tzinfo=UTC)),  # a leap year
    (datetime(2026, 3, 15, tzinfo=UTC), 12, datetime(2025, 3, 15, tzinfo=UTC)),
    (datetime(2026, 1, 10, tzinfo=UTC), 1, datetime(2025, 12, 10, tzinfo=UTC)),  # across the new year
])
def test_months_are_calendar_months(moment, months, expected):
    assert months_before(moment, months) == expected


def test_the_dormant_period_is_a_setting(staff_client, session, app):
    world(session)
    app.config["GROUP_DORMANT_MONTHS"] = 1
    html = staff_client.get("/staff/groups").get_data(as_text=True)
    assert rows(html)["Bibliothèque Club"]["Dormant"] == "Dormant"  # last held two months ago
    assert "last 1 month," in text(parse(html).find(class_="lead"))


B, E, N, P = "Bibliothèque Club", "Edge Case Readers", "Never Met", "Past The Edge"
# Each column's order ascending and descending. Groups with no such date stay last either way;
# equal values fall back to the name, ascending, either way.
EXPECTED_ORDER = {
    "name": ([B, E, N, P], [P, N, E, B]),
    "last": ([P, E, B, N], [B, E, P, N]),  # Never Met never held anything
    "next": ([N, B, E, P], [B, N, E, P]),  # Edge and Past have nothing coming
    "organizers": ([N, P, B, E], [E, B, N, P]),  # 1, 1, 2, 3
    "followers": ([E, N, P, B], [B, P, N, E]),  # 0, 1, 2, 3
    "events": ([N, B, E, P], [B, E, P, N]),  # 0, 1, 1, 1
    "attendance": ([E, N, P, B], [B, E, N, P]),  # 0, 0, 0, 2
    "dormant": ([B, E, N, P], [N, P, B, E]),
}


@pytest.mark.parametrize("column", list(EXPECTED_ORDER))
def test_every_column_sorts_both_ways_and_says_so_in_aria_sort(staff_client, session, column):
    world(session)
    ascending = staff_client.get(f"/staff/groups?sort={column}").get_data(as_text=True)
    descending = staff_client.get(f"/staff/groups?sort={column}&order=desc").get_data(as_text=True)

    assert (names(ascending), names(descending)) == EXPECTED_ORDER[column]
    sorted_header = parse(ascending).select("#health-rows th[aria-sort]")
    assert len(sorted_header) == 1 and sorted_header[0]["aria-sort"] == "ascending"
    assert sorted_header[0].find("a")["id"] == f"sort-{column}"
    assert parse(descending).select_one("#health-rows th[aria-sort]")["aria-sort"] == "descending"
    # The sorted column's link asks for the other direction; the others for themselves, ascending.
    assert "order=desc" in by_id(ascending, f"sort-{column}")["href"]
    assert "order=desc" not in by_id(descending, f"sort-{column}")["href"]


def test_filters_show_dormant_or_active_groups_and_search_by_name(staff_client, session):
    world(session)
    assert names(staff_client.get("/staff/groups?show=dormant").get_data(as_text=True)) == [
        "Never Met", "Past The Edge"]
    assert names(staff_client.get("/staff/groups?show=active").get_data(as_text=True)) == [
        "Bibliothèque Club", "Edge Case Readers"]
    searched = staff_client.get("/staff/groups?q=EDGE&sort=followers&order=desc").get_data(as_text=True)
    assert names(searched) == ["Past The Edge", "Edge Case Readers"]
    assert text(by_id(searched, "health-count")) == "2 groups match · name contains “EDGE”"
    # The filters keep the sort (hidden fields of the form) and the sort links keep the filters.
    soup = parse(searched)
    assert soup.select_one('input[name="sort"][form="health-filters"]')["value"] == "followers"
    assert soup.select_one('input[name="order"][form="health-filters"]')["value"] == "desc"
    assert by_id(searched, "sort-name")["href"] == "/staff/groups?q=EDGE"  # name, ascending: the defaults
    assert by_id(searched, "sort-followers")["href"] == "/staff/groups?sort=followers&q=EDGE"
    assert by_id(searched, "health-search")["value"] == "EDGE"
    # Wildcards mean themselves.
    nothing = staff_client.get("/staff/groups?q=%25").get_data(as_text=True)
    assert names(nothing) == [] and "No group matches these filters." in nothing


def test_htmx_gets_the_results_block_alone_and_the_address_to_show(staff_client, session):
    world(session)
    response = staff_client.get("/staff/groups?show=dormant&sort=last",
                                headers={"HX-Request": "true", "HX-Trigger": "health-show"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="health-rows"')
    assert "<h1" not in html and "health-filters\" class" not in html
    assert names(html) == ["Past The Edge", "Never Met"]
    assert response.headers["HX-Push-Url"] == "/staff/groups?sort=last&show=dormant"
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"
    typed = staff_client.get("/staff/groups?q=edge", headers={"HX-Request": "true", "HX-Trigger": "health-search"})
    assert typed.headers["HX-Replace-Url"] == "/staff/groups?q=edge" and "HX-Push-Url" not in typed.headers


def test_the_csv_has_exactly_the_rows_shown_in_their_order(staff_client, session):
    world(session)
    response = staff_client.get("/staff/groups.csv?show=dormant&sort=followers&order=desc")
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="group-health.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff")  # so a spreadsheet reads it as UTF-8
    table = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert table[0] == ["Group", "Group page", "Last event held", "Next event", "Next event title", "Next event page",
                        "Organizers", "Organizers page", "Followers", "Events held (12 months)",
                        "Attendance (12 months)", "Dormant"]
    assert [row[0] for row in table[1:]] == ["Past The Edge", "Never Met"]
    assert table[2] == ["Never Met", "http://meetups.test/groups/never", "", "2026-06-18", "First ever",
                        table[2][5], "1", "http://meetups.test/groups/never/organizers", "1", "0", "0", "Yes"]
    assert table[2][5].startswith("http://meetups.test/events/")
    everyone = list(csv.reader(io.StringIO(staff_client.get("/staff/groups.csv").get_data().decode("utf-8-sig"))))
    by_name = {row[0]: row for row in everyone[1:]}
    assert by_name["Bibliothèque Club"][2:5] == ["2026-04-16", "2026-06-25", "Summer social"]
    assert by_name["Bibliothèque Club"][6:] == ["2", "http://meetups.test/groups/biblio/organizers", "3", "1", "2",
                                                "No"]


def test_csv_cells_that_would_start_a_formula_are_quoted_and_commas_and_quotes_escaped(staff_client, session):
    create_group(slug="formula", name='=HYPERLINK("http://evil.example","click")')
    create_group(slug="plus", name="+1 Readers, \"quoted\"")
    create_group(slug="at", name="@home")
    create_group(slug="minus", name="-minus")
    session.commit()
    body = staff_client.get("/staff/groups.csv").get_data().decode("utf-8-sig")
    names_in_csv = [row[0] for row in csv.reader(io.StringIO(body))][1:]
    assert set(names_in_csv) == {"'=HYPERLINK(\"http://evil.example\",\"click\")", "'+1 Readers, \"quoted\"",
                                 "'@home", "'-minus"}
    assert '"\'+1 Readers, ""quoted"""' in body
    # The page itself escapes the same names.
    html = staff_client.get("/staff/groups").get_data(as_text=True)
    assert "=HYPERLINK(&#34;http://evil.example&#34;,&#34;click&#34;)" in html or \
        "=HYPERLINK(&quot;http://evil.example&quot;" in html


@pytest.mark.parametrize("query", [
    "sort=nope&order=sideways&show=everything", "sort=name;DROP TABLE groups", "sort=&order=&show=",
    "sort=__class__", "q=" + "x" * 1500, "q=%ff%fe", "q=<script>alert(1)</script>", "sort=events&sort=last",
    "q=Bibliothèque", "show=dormant&show=active",
])
def test_garbage_in_the_url_falls_back_to_the_defaults_without_an_error(staff_client, session, query):
    world(session)
    response = staff_client.get(f"/staff/groups?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert staff_client.get(f"/staff/groups.csv?{query}").status_code == 200


def test_garbage_sort_falls_back_to_the_name_ascending(staff_client, session):
    world(session)
    html = staff_client.get("/staff/groups?sort=nope&order=sideways").get_data(as_text=True)
    assert names(html) == EXPECTED_ORDER["name"][0]
    assert parse(html).select_one("#health-rows th[aria-sort]")["aria-sort"] == "ascending"
    searched = staff_client.get("/staff/groups?q=Biblioth%C3%A8que").get_data(as_text=True)
    assert names(searched) == ["Bibliothèque Club"]


def test_a_nul_byte_is_refused_before_the_page_runs(staff_client, session):
    assert staff_client.get("/staff/groups?q=a%00b").status_code == 400
    assert staff_client.get("/staff/groups.csv?sort=%00").status_code == 400


def test_the_number_of_queries_does_not_grow_with_groups_and_events(staff_client, session):
    world(session)
    staff_client.get("/staff/groups")  # warm up: the session's user and roles
    with count_queries() as few:
        staff_client.get("/staff/groups?sort=attendance")
    for _ in range(6):
        group = create_group(organizers=["A", "B"])
        for days in (-30, -200, 5):
            attend(create_event(group, starts_at=NOW + timedelta(days=days)), checked_in=2, not_checked_in=1)
        follow(group, 2)
    session.commit()
    with count_queries() as many:
        html = staff_client.get("/staff/groups?sort=attendance").get_data(as_text=True)
    assert len(names(html)) == 10
    assert len(many) == len(few)
    with count_queries() as csv_queries:
        staff_client.get("/staff/groups.csv")
    assert len(csv_queries) <= len(few)  # the page also asks whether to show "My groups"


@pytest.mark.parametrize("roles", [[Role.STAFF], [Role.ADMIN]])
def test_staff_and_admins_see_the_page_and_the_navigation_links_it(signed_in_client, session, roles):
    user = create_user(roles=roles)
    session.commit()
    client = signed_in_client(user)
    response = client.get("/staff/groups")
    assert response.status_code == 200
    nav = parse(client.get("/groups").get_data(as_text=True)).find("nav", attrs={"aria-label": "Main"})
    assert nav.find("a", string="Group health")["href"] == "/staff/groups"
    current = parse(response.get_data(as_text=True)).find("nav", attrs={"aria-label": "Main"})
    assert [text(a) for a in current.select('a[aria-current="page"]')] == ["Group health"]


@pytest.mark.parametrize("roles", [[], [Role.REVIEWER]])
def test_members_who_are_not_staff_get_a_404_and_no_link(signed_in_client, session, roles):
    group = create_group()
    member = organizer_of(group, roles=roles)  # organizing a group does not make one staff
    session.commit()
    client = signed_in_client(member)
    assert client.get("/staff/groups").status_code == 404
    assert client.get("/staff/groups.csv").status_code == 404
    assert "Group health" not in client.get("/groups").get_data(as_text=True)


def test_signed_out_visitors_are_asked_to_sign_in(client, session):
    response = client.get("/staff/groups?show=dormant")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/staff/groups?show%3Ddormant")
    assert client.get("/staff/groups.csv").status_code == 302
