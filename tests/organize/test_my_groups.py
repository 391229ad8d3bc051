"""'My groups': the groups a member organizes, with drafts and the next event; and the navigation that
leads there and to 'My events' (issue 18)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.html import parse, text
from webapp.accounts.models import Role
from webapp.db import db, utcnow
from webapp.events.models import EventStatus
from webapp.groups.models import GroupOrganizer
from webapp.organize.services import groups_at_a_glance

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


def nav_links(html: str) -> list[str]:
    nav = parse(html).find("nav", attrs={"aria-label": "Main"})
    return [text(link) for link in nav.find_all(["a", "button"])]


@pytest.fixture
def world(session):
    metadata = create_group(slug="metadata", name="Metadata Practitioners")
    zines = create_group(slug="zines", name="Zine Librarians")
    elsewhere = create_group(slug="elsewhere", name="Somebody Else’s Group")
    olga = organizer_of(metadata, email="olga@example.org")
    # Invited at her address and not signed in since: she organizes zines all the same.
    zines.organizers.append(GroupOrganizer(name="Olga", email="OLGA@example.org", position=5))
    now = utcnow()
    later = create_event(metadata, slug="later", title="Later Meetup", starts_at=now + timedelta(days=20))
    create_event(metadata, slug="sooner", title="Sooner Meetup", starts_at=now + timedelta(days=3))
    create_event(metadata, slug="draft-1", status=EventStatus.DRAFT, starts_at=now + timedelta(days=1))
    create_event(metadata, slug="draft-2", status=EventStatus.DRAFT, starts_at=now + timedelta(days=2))
    create_event(metadata, slug="gone", status=EventStatus.CANCELLED, starts_at=now + timedelta(days=2))
    create_event(metadata, slug="over", starts_at=now - timedelta(days=2))
    create_event(elsewhere, slug="theirs", status=EventStatus.DRAFT)
    db.session.commit()
    return dict(olga=olga, metadata=metadata, zines=zines, later=later,
                member=create_user(email="member@example.org"),
                admin=create_user(email="admin@example.org", roles=[Role.ADMIN]))


def test_groups_at_a_glance_counts_drafts_and_finds_the_next_published_event(world, session):
    glances = groups_at_a_glance(session, world["olga"], now=utcnow())
    assert [g.group.name for g in glances] == ["Metadata Practitioners", "Zine Librarians"]
    metadata, zines = glances
    assert metadata.drafts_count == 2 and metadata.next_event.slug == "sooner"
    assert zines.drafts_count == 0 and zines.next_event is None


def test_an_admin_sees_only_the_groups_they_run_themselves(world, session):
    assert groups_at_a_glance(session, world["admin"], now=utcnow()) == []


def test_my_groups_page_links_to_each_group_its_drafts_the_next_events_attendees_and_new_event(
        signed_in_client, world):
    html = signed_in_client(world["olga"]).get("/my/groups").get_data(as_text=True)
    page = parse(html)
    hrefs = {a["href"] for a in page.find("main").find_all("a")}
    assert {"/groups/metadata", "/groups/metadata/drafts", "/events/sooner", "/events/sooner/attendees",
            "/groups/metadata/events/new", "/groups/zines", "/groups/zines/events/new"} <= hrefs
    assert "/groups/zines/drafts" not in hrefs and "/groups/elsewhere" not in hrefs
    body = text(page.find("main"))
    assert "2 drafts" in body and "No drafts" in body and "None scheduled" in body


def test_my_groups_for_someone_who_organizes_nothing_says_how_groups_start(signed_in_client, world):
    html = signed_in_client(world["member"]).get("/my/groups").get_data(as_text=True)
    assert "You don’t organize a group yet." in html and 'href="/guidelines"' in html


def test_my_groups_asks_a_visitor_to_sign_in(client, world):
    response = client.get("/my/groups")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_navigation_offers_my_events_to_members_and_my_groups_to_organizers(client, signed_in_client, world):
    signed_out = nav_links(client.get("/events").get_data(as_text=True))
    assert "My events" not in signed_out and "My groups" not in signed_out and "Sign in" in signed_out
    member = nav_links(signed_in_client(world["member"]).get("/events").get_data(as_text=True))
    assert "My events" in member and "My groups" not in member
    organizer = nav_links(signed_in_client(world["olga"]).get("/events").get_data(as_text=True))
    assert organizer.index("My events") < organizer.index("My groups") < organizer.index("My account")


def test_the_navigation_folds_behind_a_menu_button_that_needs_no_script(client, world):
    nav = parse(client.get("/").get_data(as_text=True)).find("nav", attrs={"aria-label": "Main"})
    menu = nav.find("details", class_="nav-menu")
    assert menu is not None and text(menu.find("summary")) == "Menu"
    assert menu.find("ul", class_="nav-list") is not None
