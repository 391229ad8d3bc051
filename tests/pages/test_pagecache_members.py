"""Members' pages from the page cache: one shared copy per page, each member's own parts rendered per request.

What must hold: every member's page is byte for byte the page they get with the cache off (but for
the CSRF token, which is signed with the time), whoever's request made the shared copy; no member's
personal part ever reaches another member or a visitor; a change shows on the very next request.
"""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token_for, sign_in_as
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.html import csrf_token_in
from tests.support.queries import count_queries
from webapp.accounts.models import Role
from webapp.db import db

pytestmark = pytest.mark.usefixtures("fresh_request_globals")

PAGES = ["/", "/events", "/events?q=Hack", "/events/hack-night", "/events/open-night", "/groups", "/groups/ai-club",
         "/about", "/events/no-such-event"]


def normalized(response) -> str:
    html = response.get_data(as_text=True)
    return html.replace(csrf_token_in(html), "TOKEN") if '"X-CSRFToken": "' in html else html


@pytest.fixture
def cast(app, session):
    """An organizer, a confirmed member who shows their name, one on the waitlist, a follower,
    a reviewer who is staff, and a member with nothing: each with a browser of their own."""
    group = create_group(slug="ai-club", name="AI Club")
    create_event(group, slug="hack-night", title="Hack Night", capacity=1)
    create_event(group, slug="open-night", title="Open Night")
    people = {
        "organizer": organizer_of(group, display_name="Olga Organizer"),
        "confirmed": create_user(display_name="Cora Confirmed"),
        "waitlisted": create_user(display_name="Walt Waitlisted"),
        "follower": create_user(display_name="Fay Follower"),
        "reviewer": create_user(display_name="Rita Reviewer", roles=[Role.REVIEWER, Role.STAFF]),
        "plain": create_user(display_name="Pat Plain"),
    }
    session.commit()
    clients = {name: sign_in_as(app.test_client(), user) for name, user in people.items()}
    for name in ("confirmed", "waitlisted"):
        client = clients[name]
        response = client.post("/events/hack-night/register",
                               data={"csrf_token": csrf_token_for(client), "show_name": "1"})
        assert response.status_code == 303
    follower = clients["follower"]
    assert follower.post("/groups/ai-club/follow", data={"csrf_token": csrf_token_for(follower)}).status_code in (
        200, 303)
    return clients


def hits(app) -> int:
    return app.extensions["pagecache"].hits


@pytest.mark.parametrize("first", ["organizer", "plain", "reviewer"])
def test_every_member_gets_their_own_page_whoever_made_the_shared_copy(app, cast, first):
    order = [first] + [name for name in cast if name != first]
    cached = {}
    for path in PAGES:
        for name in order:
            cached[path, name] = cast[name].get(path)
    assert hits(app) >= len(PAGES) * (len(order) - 2)  # all but the first member's (and a 404's) are hits
    app.config["PAGECACHE_ENABLED"] = False
    for path in PAGES:
        for name in order:
            uncached = cast[name].get(path)
            assert cached[path, name].status_code == uncached.status_code, (path, name)
            assert normalized(cached[path, name]) == normalized(uncached), (path, name)
            assert "\x00" not in cached[path, name].get_data(as_text=True)


def test_personal_parts_stay_with_their_member(app, cast, client):
    organizer_page = cast["organizer"].get("/events/hack-night").get_data(as_text=True)
    assert "Edit event" in organizer_page and "Attendees" in organizer_page
    plain_page = cast["plain"].get("/events/hack-night").get_data(as_text=True)
    assert hits(app) >= 1
    assert "Edit event" not in plain_page and "You’re registered" not in plain_page
    assert "Join the waitlist" in plain_page
    confirmed = cast["confirmed"].get("/events/hack-night").get_data(as_text=True)
    assert "You’re registered" in confirmed
    waiting = cast["waitlisted"].get("/events/hack-night").get_data(as_text=True)
    assert "number 1 in line" in waiting
    # Members see the names shown on the Going list; a visitor never does, nor a member's menu.
    assert "Cora Confirmed" in plain_page
    visitor = client.get("/events/hack-night").get_data(as_text=True)
    assert "Cora Confirmed" not in visitor and "My account" not in visitor and "Sign in" in visitor
    reviewer = cast["reviewer"].get("/events").get_data(as_text=True)
    assert "Group health" in reviewer and "Review" in reviewer
    assert "Group health" not in cast["plain"].get("/events").get_data(as_text=True)
    assert "Following ✓" in cast["follower"].get("/groups/ai-club").get_data(as_text=True)
    assert "Following ✓" not in cast["plain"].get("/groups/ai-club").get_data(as_text=True)


def test_a_members_change_shows_on_their_very_next_request_and_on_everyone_elses(app, cast):
    plain = cast["plain"]
    assert "2 followers" not in plain.get("/groups/ai-club").get_data(as_text=True)
    assert plain.post("/groups/ai-club/follow", data={"csrf_token": csrf_token_for(plain)}).status_code in (200, 303)
    page = plain.get("/groups/ai-club").get_data(as_text=True)
    assert "Following ✓" in page and "2 followers" in page
    assert "2 followers" in cast["organizer"].get("/groups/ai-club").get_data(as_text=True)
    # The confirmed member cancels: the waitlisted one has the seat on their very next page.
    confirmed = cast["confirmed"]
    confirmed.get("/events/hack-night")
    registration_id = db.session.execute(db.text(
        "SELECT r.id FROM registrations r JOIN users u ON u.id = r.user_id WHERE u.display_name = 'Cora Confirmed'"
    )).scalar_one()
    response = confirmed.post(f"/registrations/{registration_id}/cancel",
                              data={"csrf_token": csrf_token_for(confirmed)})
    assert response.status_code in (200, 303)
    assert "You’re registered" in cast["waitlisted"].get("/events/hack-night").get_data(as_text=True)


def test_a_copied_cookie_after_sign_out_gets_the_visitors_page(app, cast):
    member = cast["plain"]
    assert "My account" in member.get("/events").get_data(as_text=True)
    cookie = member.get_cookie("session").value
    assert member.post("/sign-out", data={"csrf_token": csrf_token_for(member)}).status_code in (200, 303)
    copy = app.test_client()
    copy.set_cookie("session", cookie)
    page = copy.get("/events").get_data(as_text=True)
    assert "My account" not in page and "Sign in" in page


def test_a_members_hit_renders_only_their_parts(app, cast):
    """The shared copy's queries (the events, the groups) are not run again for a member."""
    member = cast["plain"]
    cast["organizer"].get("/events")
    with count_queries() as statements:
        assert member.get("/events").status_code == 200
    assert not any("FROM events" in statement for statement in statements), statements


def test_a_draft_preview_is_never_shared(app, session, cast):
    group = db.session.execute(db.text("SELECT id FROM groups WHERE slug = 'ai-club'")).scalar_one()
    from webapp.groups.models import Group

    create_event(db.session.get(Group, group), slug="secret-draft", title="Secret Draft", status="draft")
    session.commit()
    assert "Secret Draft" in cast["organizer"].get("/events/secret-draft").get_data(as_text=True)
    assert cast["plain"].get("/events/secret-draft").status_code == 404
    assert cast["organizer"].get("/events/secret-draft").headers["Cache-Control"] == "no-store"
