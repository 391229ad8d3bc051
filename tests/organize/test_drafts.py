"""Drafts: new events are drafts that only the group's organizers (and admins) see, with a preview
and a Publish button; everyone else finds them nowhere until they are published."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import create_cast, create_event, create_group
from tests.organize.test_views import (
    all_mails,
    edit_form,
    event_form,
    fresh_event,
    local_input,
    post,
)
from webapp.db import utcnow
from webapp.events import changes as event_changes
from webapp.events.models import Event, EventStatus
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.reminders import services as reminders

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
SECRET = "Zanzibar Cataloguing Secrets"


@pytest.fixture
def world(session):
    group = create_group(slug="metadata", name="Metadata Practitioners")
    other = create_group(slug="archives")
    draft = create_event(group, slug="zanzibar", title=SECRET, status=EventStatus.DRAFT, capacity=10,
                         description="Draft description about Zanzibar.")
    published = create_event(group, slug="round-table", title="Round-table", capacity=2)
    people = create_cast(group, other)
    session.commit()
    return dict(group=group, draft=draft, published=published, **people)


def sign_out(client):
    """The same test client, anonymous again (signed_in_client signs this one client in)."""
    with client.session_transaction() as flask_session:
        flask_session.clear()
    return client


def count_events(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(Event.id)))


# --- creating saves a draft --------------------------------------------------------------------------

def test_a_new_event_is_a_draft_and_save_and_preview_shows_its_preview(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = post(client, "/groups/metadata/events/new", event_form(then="preview"))
    assert response.status_code == 303 and response.location.endswith("/events/linked-data-round-table")
    assert fresh_event(session, "linked-data-round-table").status == EventStatus.DRAFT
    preview = client.get("/events/linked-data-round-table")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and preview.headers["Cache-Control"] == "no-store"
    assert "Draft — only organizers can see this." in html
    assert 'action="/events/linked-data-round-table/publish"' in html
    assert 'href="/events/linked-data-round-table/edit"' in html
    # As members will see it: the description, the facts; but no Register button yet.
    assert "<strong>linked data</strong>" in html and "Members register here once the event is published" in html
    assert ">Register<" not in html
    assert all_mails(session) == []


def test_save_draft_returns_to_the_form_saying_so(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = post(client, "/groups/metadata/events/new", event_form(then="draft"))
    assert response.status_code == 303
    assert response.location.endswith("/events/linked-data-round-table/edit?done=saved")
    page = client.get(response.location).get_data(as_text=True)
    assert "Draft saved." in page and "Save and preview" in page and "Save draft" in page
    assert fresh_event(session, "linked-data-round-table").status == EventStatus.DRAFT


def test_the_new_event_form_offers_both_saves_and_points_to_the_drafts(signed_in_client, world):
    page = signed_in_client(world["organizer"]).get("/groups/metadata/events/new").get_data(as_text=True)
    assert 'name="then" value="preview"' in page and 'name="then" value="draft"' in page
    assert "has 1 unpublished draft" in page and 'href="/groups/metadata/drafts"' in page


def test_organizers_find_their_drafts_again(signed_in_client, world, session):
    create_event(create_group(slug="elsewhere"), slug="not-ours", title="Another Group's Draft",
                 status=EventStatus.DRAFT)
    session.commit()
    response = signed_in_client(world["organizer"]).get("/groups/metadata/drafts")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert SECRET in html and 'href="/events/zanzibar"' in html and 'href="/events/zanzibar/edit"' in html
    assert "Round-table" not in html and "Another Group" not in html


# --- publishing --------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_publishing_makes_the_event_public(signed_in_client, client, world, session, who):
    response = post(signed_in_client(world[who]), "/events/zanzibar/publish")
    assert response.status_code == 303 and response.location.endswith("/events/zanzibar?done=published")
    event = fresh_event(session, "zanzibar")
    assert event.status == EventStatus.SCHEDULED and event.sequence == 0
    page = signed_in_client(world[who]).get(response.location).get_data(as_text=True)
    assert "Published. Members can now find this event and register." in page and "Draft —" not in page
    sign_out(client)
    public = client.get("/events/zanzibar")
    assert public.status_code == 200 and "Cache-Control" not in public.headers
    assert SECRET in client.get("/events").get_data(as_text=True)
    assert all_mails(session) == []


def test_publishing_twice_is_harmless(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    post(client, "/events/zanzibar/publish")
    assert post(client, "/events/zanzibar/publish").status_code == 303
    assert fresh_event(session, "zanzibar").status == EventStatus.SCHEDULED


def test_a_draft_whose_time_has_passed_is_not_published(signed_in_client, world, session):
    draft = world["draft"]
    draft.starts_at, draft.ends_at = utcnow() - timedelta(hours=2), utcnow() - timedelta(hours=1)
    session.commit()
    response = post(signed_in_client(world["organizer"]), "/events/zanzibar/publish")
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "start time has passed" in html and "Draft —" in html
    assert fresh_event(session, "zanzibar").status == EventStatus.DRAFT


def test_a_cancelled_event_is_not_published(signed_in_client, world, session):
    world["published"].status = EventStatus.CANCELLED
    session.commit()
    assert post(signed_in_client(world["organizer"]), "/events/round-table/publish").status_code == 409
    assert fresh_event(session, "round-table").status == EventStatus.CANCELLED


def test_publishing_needs_the_csrf_token(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    client.application.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/events/zanzibar/publish").status_code == 400
    assert fresh_event(session, "zanzibar").status == EventStatus.DRAFT


def test_published_events_offer_no_way_back_to_draft(signed_in_client, world):
    html = signed_in_client(world["organizer"]).get("/events/round-table").get_data(as_text=True)
    assert "/publish" not in html and "Draft" not in html


# --- who may do what -------------------------------------------------------------------------------

DRAFT_PAGES = ["/events/zanzibar/edit", "/events/zanzibar/cancel-event", "/groups/metadata/drafts"]
DRAFT_POSTS = [
    ("/events/zanzibar/publish", {}),
    ("/events/zanzibar/edit", event_form(title="Hijacked")),
    ("/events/zanzibar/cancel-event", {}),
]


def assert_draft_untouched(session):
    event = fresh_event(session, "zanzibar")
    assert event is not None and event.status == EventStatus.DRAFT and event.title == SECRET
    assert all_mails(session) == []


def test_signed_out_visitors_get_404_for_the_draft_and_sign_in_for_organizer_pages(client, world):
    assert client.get("/events/zanzibar").status_code == 404
    for url in DRAFT_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.location


@pytest.mark.parametrize("url,data", DRAFT_POSTS)
def test_signed_out_posts_change_nothing(client, world, session, url, data):
    assert post(client, url, data).status_code == 403
    assert_draft_untouched(session)


@pytest.mark.parametrize("who", ["member", "other_organizer"])
@pytest.mark.parametrize("url,data", DRAFT_POSTS)
def test_members_and_other_groups_organizers_change_nothing(signed_in_client, world, session, who, url, data):
    assert post(signed_in_client(world[who]), url, data).status_code == 403
    assert_draft_untouched(session)


# Members and other groups' organizers do not see the draft (not even that it exists); its own
# organizers and admins see every draft page.
@pytest.mark.parametrize("who,event_page,draft_pages", [
    ("member", 404, 403), ("other_organizer", 404, 403), ("organizer", 200, 200), ("admin", 200, 200)])
def test_only_the_groups_organizers_and_admins_see_the_draft(signed_in_client, world, who, event_page, draft_pages):
    client = signed_in_client(world[who])
    assert client.get("/events/zanzibar").status_code == event_page
    for url in DRAFT_PAGES:
        assert client.get(url).status_code == draft_pages, url


def test_drafts_of_unknown_group_is_404(signed_in_client, world):
    assert signed_in_client(world["admin"]).get("/groups/nope/drafts").status_code == 404


# --- editing and deleting a draft ----------------------------------------------------------------------

def test_editing_a_draft_saves_everything_and_mails_nobody(signed_in_client, world, session):
    draft = world["draft"]
    new_start = draft.starts_at + timedelta(days=3)
    response = post(signed_in_client(world["organizer"]), "/events/zanzibar/edit", edit_form(
        draft, title="Zanzibar, renamed", capacity="5", starts_at=local_input(new_start),
        ends_at=local_input(new_start + timedelta(hours=1)),
        meeting_format="in_person", venue_name="Queens Central Library", then="preview"))
    assert response.status_code == 303 and response.location.endswith("/events/zanzibar")
    event = fresh_event(session, "zanzibar")
    assert (event.title, event.capacity, event.venue_name, event.status, event.sequence) == (
        "Zanzibar, renamed", 5, "Queens Central Library", EventStatus.DRAFT, 0)
    assert event.starts_at == new_start.replace(second=0, microsecond=0)
    assert all_mails(session) == []


def test_a_draft_must_start_in_the_future(signed_in_client, world, session):
    past = utcnow() - timedelta(days=1)
    response = post(signed_in_client(world["organizer"]), "/events/zanzibar/edit", edit_form(
        world["draft"], starts_at=local_input(past), ends_at=local_input(past + timedelta(hours=1))))
    assert response.status_code == 422 and "must start in the future" in response.get_data(as_text=True)
    assert fresh_event(session, "zanzibar").starts_at > utcnow()


def test_a_draft_is_deleted_not_cancelled(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    page = client.get("/events/zanzibar/cancel-event").get_data(as_text=True)
    assert "Delete the draft" in page and "tell attendees" not in page
    before = count_events(session)
    response = post(client, "/events/zanzibar/cancel-event")
    assert response.status_code == 303 and response.location.endswith("/groups/metadata/drafts")
    assert count_events(session) == before - 1 and fresh_event(session, "zanzibar") is None
    assert post(client, "/events/zanzibar/cancel-event").status_code == 404


def test_the_cancel_service_refuses_a_draft_so_it_never_turns_public(session, world):
    with pytest.raises(event_changes.EventChangeError):
        event_changes.cancel_event(session, world["draft"].id, now=utcnow())
    session.rollback()
    assert fresh_event(session, "zanzibar").status == EventStatus.DRAFT


# --- invisible everywhere else -------------------------------------------------------------------------

PUBLIC_PAGES = ["/", "/events", "/events?q=Cataloguing", "/events?group=metadata", "/events?format=online",
                "/events?when=past", "/groups", "/groups/metadata", "/about"]


def walk(client, pages) -> dict[str, str]:
    return {url: client.get(url).get_data(as_text=True) for url in pages}


@pytest.mark.parametrize("who", ["anonymous", "member", "other_organizer"])
def test_the_draft_appears_on_no_public_page(client, signed_in_client, world, session, who):
    visitor = client if who == "anonymous" else signed_in_client(world[who])
    pages = PUBLIC_PAGES + (["/my/events"] if who != "anonymous" else [])
    for _ in range(2):  # the second time, anonymous pages may come from the page cache
        for url, html in walk(visitor, pages).items():
            assert SECRET not in html and "zanzibar" not in html.lower(), url
            assert "Round-table" in html or url in ("/about", "/events?when=past", "/groups", "/my/events",
                                                     "/events?q=Cataloguing"), url
    assert visitor.get("/events/zanzibar").status_code == 404
    assert visitor.get("/events/zanzibar/calendar.ics").status_code == 404


def test_the_group_directory_does_not_count_drafts(client, world):
    html = client.get("/groups").get_data(as_text=True)
    metadata_card = html.split("Metadata Practitioners")[1][:600]
    assert "1 upcoming event " in metadata_card and "2 upcoming" not in metadata_card


def test_nobody_can_register_for_a_draft(signed_in_client, client, world, session):
    member = signed_in_client(world["member"])
    assert post(member, "/events/zanzibar/register").status_code == 404
    assert session.scalar(select(func.count(Registration.id))) == 0


def test_signing_in_to_register_for_a_draft_registers_nobody(session, world, app):
    from webapp.registrations.views import register_after_sign_in

    with app.test_request_context():
        register_after_sign_in(world["member"], str(world["draft"].id), now=utcnow())
    assert session.scalar(select(func.count(Registration.id))) == 0


def test_the_reminder_sweep_skips_drafts(session, world):
    draft = world["draft"]
    draft.starts_at, draft.ends_at = utcnow() + timedelta(hours=2), utcnow() + timedelta(hours=3)
    # A registration cannot reach a draft through the site; planted here to show the sweep checks too.
    session.add(Registration(event_id=draft.id, user_id=world["member"].id, status=RegistrationStatus.CONFIRMED,
                             created_at=utcnow() - timedelta(days=2), confirmed_at=utcnow() - timedelta(days=2)))
    session.commit()
    assert reminders.queue_due_reminders(session, now=utcnow()) == []


def test_an_organizers_preview_never_reaches_the_page_cache(client, signed_in_client, world, monkeypatch):
    cache = client.application.extensions["pagecache"]
    assert client.get("/events/zanzibar").status_code == 404
    assert client.get("/events/zanzibar").status_code == 404  # a 404 is not kept either
    assert signed_in_client(world["organizer"]).get("/events/zanzibar").status_code == 200
    assert sign_out(client).get("/events/zanzibar").status_code == 404
    # Even a preview rendered for a request the cache counts as anonymous is not kept: no-store.
    monkeypatch.setattr("webapp.events.views.is_group_organizer", lambda user, group: True)
    stored = len(cache)
    preview = client.get("/events/zanzibar")
    assert preview.status_code == 200 and preview.headers["Cache-Control"] == "no-store"
    assert len(cache) == stored
    monkeypatch.undo()
    assert client.get("/events/zanzibar").status_code == 404


def test_publishing_shows_at_once_on_cached_public_pages(client, signed_in_client, world, session):
    assert SECRET not in client.get("/events").get_data(as_text=True)
    assert SECRET not in client.get("/events").get_data(as_text=True)  # now from the cache
    post(signed_in_client(world["organizer"]), "/events/zanzibar/publish")
    assert SECRET in sign_out(client).get("/events").get_data(as_text=True)
