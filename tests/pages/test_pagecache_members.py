"""Members' pages from the page cache: one shared copy per page, each member's own parts rendered per request.

What must hold: every member's page is byte for byte the page they get with the cache off (but for
the CSRF token, which is signed with the time), whoever's request made the shared copy; no member's
personal part ever reaches another member or a visitor; a change shows on the very next request.
"""

from __future__ import annotations

import re

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
    cached, again = {}, {}
    for path in PAGES:
        for name in order:
            cached[path, name] = cast[name].get(path)
    assert hits(app) >= len(PAGES) * (len(order) - 2)  # all but the first member's (and a 404's) are hits
    for path in PAGES:  # seen again: from what the first view kept, before Flask where it can be
        for name in order:
            again[path, name] = cast[name].get(path)
    app.config["PAGECACHE_ENABLED"] = False
    for path in PAGES:
        for name in order:
            uncached = cast[name].get(path)
            for response in (cached[path, name], again[path, name]):
                assert response.status_code == uncached.status_code, (path, name)
                assert normalized(response) == normalized(uncached), (path, name)
                assert "\x00" not in response.get_data(as_text=True)


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


MENU_ONLY_PAGES = ["/", "/events", "/events?q=Hack", "/groups", "/about"]


@pytest.fixture
def flask_requests(app):
    """How many requests reached Flask's own handling (its before-request hooks)."""
    seen = []
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: seen.append(1))
    yield seen
    app.before_request_funcs[None].pop(0)


def test_a_menu_only_page_is_answered_before_flask_once_a_member_of_that_kind_was_served(app, cast, flask_requests):
    for path in MENU_ONLY_PAGES:
        cast["plain"].get(path)  # Flask fills it: keeps the page, this kind of member's menu, the headers
        before = len(flask_requests)
        for name in ("confirmed", "waitlisted", "follower", "plain"):  # the same menu as the plain member's
            response = cast[name].get(path)
            assert response.status_code == 200 and "My account" in response.get_data(as_text=True)
        assert len(flask_requests) == before, path
        # Another kind of member (a reviewer's menu counts proposals) is Flask's the first time.
        cast["reviewer"].get(path)
        assert len(flask_requests) == before + 1, path


def test_a_members_fast_answer_has_the_headers_flask_gives_them(app, cast):
    member = cast["follower"]
    for path in MENU_ONLY_PAGES:
        cast["plain"].get(path)
        fast = member.get(path)
        app.config["PAGECACHE_ENABLED"] = False
        slow = member.get(path)
        app.config["PAGECACHE_ENABLED"] = True

        def comparable(response):
            return sorted((name, value) for name, value in response.headers.items()
                          if name not in ("Set-Cookie", "Content-Length"))
        assert comparable(fast) == comparable(slow), path
        assert fast.headers["Cache-Control"] == "no-store" and "Cookie" in fast.headers["Vary"]


def test_the_fast_answer_checks_the_session_every_time(app, cast, flask_requests):
    member = cast["plain"]
    cast["confirmed"].get("/events")
    assert "My account" in member.get("/events").get_data(as_text=True)
    cookie = member.get_cookie("session").value
    # Signed out everywhere from another browser: this browser's very next page is a visitor's.
    # (Not through the ORM session, whose raw SQL bumps the content version: the stored page stays valid.)
    with db.engine.begin() as connection:
        connection.execute(db.text("UPDATE user_sessions SET ended_at = CURRENT_TIMESTAMP"))
    page = member.get("/events")
    assert "My account" not in page.get_data(as_text=True) and "Sign in" in page.get_data(as_text=True)
    copy = app.test_client()
    copy.set_cookie("session", cookie)
    assert "My account" not in copy.get("/events").get_data(as_text=True)


def test_a_role_given_shows_in_the_menu_on_the_very_next_page(app, cast):
    member = cast["plain"]
    cast["confirmed"].get("/groups")
    assert "Group health" not in member.get("/groups").get_data(as_text=True)
    user_id = db.session.execute(db.text("SELECT id FROM users WHERE display_name = 'Pat Plain'")).scalar_one()
    from webapp.accounts.models import UserRole

    db.session.add(UserRole(user_id=user_id, role=Role.STAFF))
    db.session.commit()
    assert "Group health" in member.get("/groups").get_data(as_text=True)


def test_another_address_or_browser_is_flasks_to_mark_not_fresh(app, cast, flask_requests):
    cast["confirmed"].get("/about")
    member = cast["plain"]
    member.get("/about")
    before = len(flask_requests)
    response = member.get("/about", headers={"User-Agent": "Another browser/1.0"})
    assert "My account" in response.get_data(as_text=True)
    assert len(flask_requests) == before + 1  # Flask-Login's session protection had its say


@pytest.mark.parametrize("environ", [
    {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "Mozilla/5.0"},
    {"REMOTE_ADDR": "10.0.0.9"},
    {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": " 203.0.113.7 , 10.0.0.1", "HTTP_USER_AGENT": "x"},
    {"REMOTE_ADDR": "::1", "HTTP_USER_AGENT": "Navigateur é/1".encode().decode("latin-1")},
])
def test_the_session_identifier_is_flask_logins_own(app, environ):
    from flask_login.utils import _create_identifier

    from webapp.pagecache import flask_login_identifier

    with app.test_request_context("/", environ_base=environ):
        from flask import request

        request.environ.pop("HTTP_USER_AGENT", None) if "HTTP_USER_AGENT" not in environ else None
        assert flask_login_identifier(request.environ) == _create_identifier()


def test_a_members_own_parts_are_kept_for_their_next_view_but_never_an_organizers(app, cast, flask_requests):
    for path in ("/events/hack-night", "/groups/ai-club"):
        for name in ("confirmed", "organizer", "reviewer"):
            cast[name].get(path)
        before = len(flask_requests)
        assert "My account" in cast["confirmed"].get(path).get_data(as_text=True)
        assert len(flask_requests) == before, path  # the confirmed member's parts were kept
        cast["organizer"].get(path)
        cast["reviewer"].get(path)  # staff: what their parts show may change without a version bump
        assert len(flask_requests) == before + 2, path


def test_kept_parts_still_check_the_session_every_time(app, cast):
    member = cast["confirmed"]
    member.get("/events/hack-night")
    assert "You’re registered" in member.get("/events/hack-night").get_data(as_text=True)
    with db.engine.begin() as connection:  # ended elsewhere, without a version bump
        connection.execute(db.text("UPDATE user_sessions SET ended_at = CURRENT_TIMESTAMP"))
    page = member.get("/events/hack-night").get_data(as_text=True)
    assert "You’re registered" not in page and "Sign in" in page


def test_my_events_is_kept_for_its_member_alone_and_shows_their_changes_on_the_next_view(app, cast, flask_requests):
    confirmed, plain = cast["confirmed"], cast["plain"]
    first = confirmed.get("/my/events")
    assert "Hack Night" in first.get_data(as_text=True)
    before = len(flask_requests)
    again = confirmed.get("/my/events")
    assert len(flask_requests) == before  # this member's own copy, after the check of their session
    assert normalized(again) == normalized(first) and again.headers["Cache-Control"] == "no-store"
    assert "Hack Night" not in plain.get("/my/events").get_data(as_text=True)  # never another member's
    address = re.search(r"/my/calendar/[\w-]+\.ics", first.get_data(as_text=True)).group(0)
    assert confirmed.post("/account/calendar/reset", data={"csrf_token": csrf_token_for(confirmed)}).status_code == 303
    page = confirmed.get("/my/events").get_data(as_text=True)
    assert address not in page and re.search(r"/my/calendar/[\w-]+\.ics", page)
    kept = confirmed.get("/my/events")  # kept again, after the reset's new number
    app.config["PAGECACHE_ENABLED"] = False
    assert normalized(kept) == normalized(confirmed.get("/my/events"))


def test_a_copied_cookie_after_sign_out_never_gets_the_kept_my_events(app, cast):
    member = cast["confirmed"]
    member.get("/my/events")
    assert "Hack Night" in member.get("/my/events").get_data(as_text=True)
    cookie = member.get_cookie("session").value
    with db.engine.begin() as connection:  # signed out elsewhere, without a version bump
        connection.execute(db.text("UPDATE user_sessions SET ended_at = CURRENT_TIMESTAMP"))
    copy = app.test_client()
    copy.set_cookie("session", cookie)
    response = copy.get("/my/events")
    assert response.status_code in (302, 303) and "Hack Night" not in response.get_data(as_text=True)
