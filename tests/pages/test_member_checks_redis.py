"""Members' session checks kept per process (with Redis, as in production), good until the members'
version changes: any sign-out, session ended, role or organizer place anywhere bumps it.

What must hold: a copied cookie after sign-out, in this process or another, never gets a member's
page once the sign-out's answer is out; a role or an organizer place shows on the next page; a check
is never kept past the session's own end (SESSION_MAX_DAYS) or, if a bump was lost, past
PAGECACHE_SECONDS.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import redis

from tests.conftest import csrf_token_for, sign_in_as
from tests.factories import create_event, create_group, create_user
from tests.pages.test_pagecache_redis import (  # noqa: F401 (app_overrides: Redis on, emptied)
    app_overrides,
    changed_then_restored_from_an_older_snapshot,
    wait_for_the_push,
)
from tests.support.queries import count_queries
from webapp.db import db, utcnow
from webapp.pagecache import MEMBERS_KEY

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


@pytest.fixture
def group(session):
    group = create_group(slug="ai-club", name="AI Club")
    create_event(group, slug="hack-night", title="Hack Night")
    session.commit()
    return group


def signed_in(app, user):
    return sign_in_as(app.test_client(), user)


def is_member_page(response) -> bool:
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    return "My account" in html


def copy_of(app, browser):
    copy = app.test_client()
    copy.set_cookie("session", browser.get_cookie("session").value)
    return copy


def kept_and_fast(app, browser, path="/events"):
    """View `path` until its page, menu and check are kept; then the next view asks no database."""
    for _ in range(3):
        assert is_member_page(browser.get(path))
    with count_queries() as statements:
        assert is_member_page(browser.get(path))
    return statements


def test_a_members_repeat_page_asks_no_database(app, group):
    browser = signed_in(app, create_user())
    assert kept_and_fast(app, browser) == []
    assert kept_and_fast(app, browser, "/events/hack-night") == []


def test_a_copied_cookie_after_sign_out_here_is_refused_at_once(app, group):
    browser = signed_in(app, create_user())
    copy = copy_of(app, browser)
    assert kept_and_fast(app, copy) == []
    assert kept_and_fast(app, copy, "/events/hack-night") == []
    assert browser.post("/sign-out", data={"csrf_token": csrf_token_for(browser)}).status_code in (200, 303)
    assert not is_member_page(copy.get("/events"))
    assert not is_member_page(copy_of(app, browser).get("/events/hack-night"))


def test_a_sign_out_in_another_process_is_refused_once_its_push_arrived(app, group, redis_url):
    browser = signed_in(app, create_user())
    assert kept_and_fast(app, browser) == []
    # Another process signs this browser out: its commit, then its bump (what _bump_after_commit does).
    with db.engine.begin() as connection:
        connection.execute(db.text("UPDATE user_sessions SET ended_at = CURRENT_TIMESTAMP"))
    redis.Redis.from_url(redis_url).incr(MEMBERS_KEY)
    wait_for_the_push(app, MEMBERS_KEY)
    assert not is_member_page(browser.get("/events"))


def test_a_role_given_in_another_process_shows_once_its_push_arrived(app, group, redis_url):
    member = create_user()
    browser = signed_in(app, member)
    assert kept_and_fast(app, browser) == []
    assert "Group health" not in browser.get("/events").get_data(as_text=True)
    with db.engine.begin() as connection:
        connection.execute(db.text("INSERT INTO user_roles (user_id, role, created_at) "
                                   "VALUES (:id, 'staff', CURRENT_TIMESTAMP)"), {"id": member.id})
    redis.Redis.from_url(redis_url).incr(MEMBERS_KEY)
    wait_for_the_push(app, MEMBERS_KEY)
    db.session.expire_all()  # the test's session is the app's (one app context): forget what it loaded
    assert "Group health" in browser.get("/events").get_data(as_text=True)


def test_an_organizer_place_given_here_shows_on_the_next_page(app, session, group):
    member = create_user(email="new.organizer@example.org")
    browser, other = signed_in(app, member), signed_in(app, create_user())
    assert kept_and_fast(app, browser) == []
    assert "My groups" not in browser.get("/events").get_data(as_text=True)
    from webapp.groups.models import GroupOrganizer

    session.add(GroupOrganizer(group_id=group.id, email="new.organizer@example.org", name="New Organizer"))
    session.commit()
    assert "My groups" not in other.get("/events").get_data(as_text=True)  # keeps the plain menu again
    for _ in range(3):
        assert "My groups" in browser.get("/events").get_data(as_text=True)


def test_the_sessions_own_end_is_kept_with_it(app, group):
    browser = signed_in(app, create_user())
    # A session a second from its SESSION_MAX_DAYS: kept, it still ends on time, with no bump.
    lifetime = timedelta(days=app.config["SESSION_MAX_DAYS"])
    opened = utcnow() - lifetime + timedelta(seconds=1)
    with db.engine.begin() as connection:
        connection.execute(db.text("UPDATE user_sessions SET created_at = :opened"),
                           {"opened": opened.replace(tzinfo=None)})
    assert kept_and_fast(app, browser) == []
    time.sleep(max(0.0, (opened + lifetime - utcnow()).total_seconds()) + 0.05)
    assert not is_member_page(browser.get("/events"))


def test_a_lost_bump_is_bounded_by_pagecache_seconds(app, group):
    browser = signed_in(app, create_user())
    assert kept_and_fast(app, browser) == []
    checks = app.extensions["pagecache_checks"]
    # Ended by hand, with no bump (as if Redis had been unreachable from the process that ended it).
    with db.engine.begin() as connection:
        connection.execute(db.text("UPDATE user_sessions SET ended_at = CURRENT_TIMESTAMP"))
    clock = checks.clock
    checks.clock = lambda: clock() + app.config["PAGECACHE_SECONDS"]
    assert not is_member_page(browser.get("/events"))


def test_without_redis_every_fast_answer_checks_the_database(app, group):
    app.config["REDIS_URL"] = None
    browser = signed_in(app, create_user())
    statements = kept_and_fast(app, browser)
    assert len(statements) == 2  # the content version and the session check
    assert len(app.extensions["pagecache_checks"]) == 0


def test_a_redis_restored_from_an_older_snapshot_keeps_nothing(app, group, redis_url):
    browser = signed_in(app, create_user())
    assert kept_and_fast(app, copy_of(app, browser)) == []
    # Signed out elsewhere, and the bump lost with a Redis that came back from an older snapshot.
    changed_then_restored_from_an_older_snapshot(
        redis_url, MEMBERS_KEY, "UPDATE user_sessions SET ended_at = CURRENT_TIMESTAMP")
    for _ in range(3):  # each time the cookie as it was (a copy), not the one Flask signs out
        assert not is_member_page(copy_of(app, browser).get("/events"))
