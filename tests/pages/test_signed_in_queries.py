"""The SQL a signed-in member's page costs, pinned: which statements, and that it does not grow with the data.

A member's page comes from the page cache's shared copy with only their own parts rendered
(webapp/pagecache.py), so once the copy exists a page asks only what is theirs. A new statement here
is a deliberate change: say why in the commit and update the list.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token_for, sign_in_as
from tests.factories import create_event, create_group, create_user
from tests.support.queries import count_queries
from webapp.db import db

pytestmark = pytest.mark.usefixtures("fresh_request_globals")

VERSION = "content_versions"  # the page cache's content version (in Redis in production: no SQL there)
MEMBER = "users+user_sessions"  # the member, their open session, roles and "organizes a group", at once

# A member's first view of a page another member's request already stored (their own parts rendered):
PINNED = {
    "/": [VERSION, MEMBER],
    "/events": [VERSION, MEMBER],
    "/groups": [VERSION, MEMBER],
    "/groups/ai-club": [VERSION, MEMBER, "groups", "group_organizers", "group_follows"],
    "/events/hack-night": [VERSION, MEMBER, "events+groups", "registrations", "users+shown", "group_organizers",
                           "group_follows", "slot_offers+slot_claims+users"],
    # Entirely the member's own: never from a shared copy, but kept for this member's next view.
    "/my/events": [VERSION, MEMBER, "private_calendars", "registrations+events+groups"],
}
# Seen again while nothing changed: the session's check alone (the page cache kept this member's
# parts with the stored page, or their My events whole; webapp.pagecache.ServeFromCache). With
# Redis, as in production, the check is kept too and a repeat view runs no statement at all
# (tests/pages/test_member_checks_redis.py).
AGAIN = {path: [VERSION, MEMBER] for path in PINNED}


def tables(statement: str) -> str:
    """A statement by the tables its outer query reads: FROM's table and the tables it joins (the
    roles join, which comes with the member, and subqueries left out)."""
    while (flat := re.sub(r"\([^()]*\)", "", statement)) != statement:
        statement = flat
    names = re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", statement)
    return "+".join(dict.fromkeys(name for name in names if name != "user_roles"))


def populate(groups: int, events: int, members: int) -> None:
    for _ in range(groups):
        group = create_group(organizers=["One", "Two"])
        for _ in range(events):
            create_event(group, capacity=3)
    for _ in range(members):
        create_user()
    db.session.commit()


@pytest.fixture
def member(app, session, signed_in_client):
    group = create_group(slug="ai-club", name="AI Club", organizers=["Ann Organizer"])
    create_event(group, slug="hack-night", title="Hack Night", capacity=5)
    create_event(group, slug="later-night", title="Later Night")
    session.commit()
    client = signed_in_client(create_user())
    db.session.commit()
    for path in ("/events/hack-night/register", "/events/later-night/register"):
        assert client.post(path, data={"csrf_token": csrf_token_for(client)}).status_code == 303
    assert client.post("/groups/ai-club/follow", data={"csrf_token": csrf_token_for(client)}).status_code in (200, 303)
    assert client.get("/my/events").status_code == 200  # the first visit makes the private calendar's address
    return client


@pytest.fixture
def another_member(app, member):
    return sign_in_as(app.test_client(), create_user())


def statements_of(member, another_member, path: str) -> tuple[list[str], list[str]]:
    """The member's statements for a first view of the page (another member's request stored it),
    and for a second view."""
    assert another_member.get(path).status_code == 200
    with count_queries() as first:
        assert member.get(path).status_code == 200
    with count_queries() as again:
        assert member.get(path).status_code == 200
    return [tables(statement) for statement in first], [tables(statement) for statement in again]


@pytest.mark.parametrize("path", list(PINNED))
def test_a_signed_in_members_page_runs_its_pinned_statements_and_no_more_with_more_data(member, another_member, path):
    first, again = statements_of(member, another_member, path)
    assert first == PINNED[path] and again == AGAIN[path], (first, again)
    populate(groups=6, events=5, members=20)
    first, again = statements_of(member, another_member, path)
    assert first == PINNED[path] and again == AGAIN[path], (first, again)
