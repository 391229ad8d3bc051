"""The page cache: anonymous public pages from memory, yet every change shows on the very next request."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from tests.conftest import csrf_token_for
from tests.factories import create_event, create_group, create_user
from tests.support.html import csrf_token_in
from tests.support.queries import count_queries
from webapp.db import db
from webapp.events.models import Event
from webapp.pagecache import CSRF_PLACEHOLDER, ContentVersion
from webapp.requests import NUL_MESSAGE

pytestmark = pytest.mark.usefixtures("fresh_request_globals")




class Served:
    """What one request ran: its SQL statements, and whether the page came from the cache."""

    def __init__(self, statements: list[str], from_cache: bool):
        self.statements = statements
        self.from_cache = from_cache


def is_hit(served: Served) -> bool:
    if served.from_cache:
        # A hit runs exactly one statement: the content version read.
        assert len(served.statements) == 1 and "content_versions" in served.statements[0], served.statements
    return served.from_cache


def get(client, path, **headers):
    cache = client.application.extensions["pagecache"]
    hits = cache.hits
    with count_queries() as statements:
        response = client.get(path, headers=headers)
    return response, Served(statements, cache.hits > hits)


def without_token(response) -> str:
    """The page with its CSRF token blanked: the signed token carries a timestamp, so it changes by the second."""
    html = response.get_data(as_text=True)
    return html.replace(csrf_token_in(html), "TOKEN") if '"X-CSRFToken": "' in html else html


@pytest.fixture
def event(session):
    event = create_event(create_group(slug="ai-club", name="AI Club"), slug="hack-night", title="Hack Night",
                         capacity=5)
    session.commit()
    return event


@pytest.mark.parametrize("path", ["/", "/events", "/events?q=Hack", "/events/hack-night", "/groups",
                                  "/groups/ai-club", "/about"])
def test_second_anonymous_view_is_served_from_the_cache(client, event, path):
    first, first_served = get(client, path)
    second, second_served = get(client, path)
    assert first.status_code == second.status_code == 200
    assert not is_hit(first_served)
    assert is_hit(second_served), second_served.statements
    assert without_token(second) == without_token(first)


def test_a_hit_has_the_same_headers_as_a_miss(client, event):
    first, _ = get(client, "/events/hack-night")
    second, served = get(client, "/events/hack-night")
    assert is_hit(served)
    ignored = {"Set-Cookie", "Date"}
    assert {k: v for k, v in second.headers if k not in ignored} == {
        k: v for k, v in first.headers if k not in ignored
    }
    assert "Content-Security-Policy" in second.headers
    assert {"HX-Request", "Cookie"} <= set(second.vary)


def test_edit_committed_through_the_orm_shows_on_the_very_next_request(client, session, event):
    get(client, "/events/hack-night")
    event.title = "Hack Night, renamed"
    session.commit()
    for path in ("/events/hack-night", "/events", "/"):
        response, served = get(client, path)
        assert "Hack Night, renamed" in response.get_data(as_text=True), path
        assert not is_hit(served)


def test_bulk_update_and_raw_sql_through_the_session_show_on_the_very_next_request(client, session, event):
    get(client, "/events/hack-night")
    session.execute(update(Event).where(Event.id == event.id).values(title="Bulk Night"))
    session.commit()
    assert "Bulk Night" in client.get("/events/hack-night").get_data(as_text=True)
    session.execute(text("UPDATE events SET title = 'Raw Night' WHERE id = :id"), {"id": event.id})
    session.commit()
    assert "Raw Night" in client.get("/events/hack-night").get_data(as_text=True)


def test_private_rows_leave_cached_pages_valid(client, session, event):
    from webapp.accounts.models import SignInRequest

    get(client, "/events/hack-night")
    session.execute(update(SignInRequest).values(used_at=None))
    session.commit()
    _, served = get(client, "/events/hack-night")
    assert is_hit(served)


def test_registration_changes_the_seats_an_anonymous_visitor_sees_next(app, signed_in_client, event):
    visitor = app.test_client()
    assert "5 of 5 seats left" in visitor.get("/events/hack-night").get_data(as_text=True)
    assert "5 of 5 seats left" in visitor.get("/events/hack-night").get_data(as_text=True)  # cached

    member = signed_in_client(create_user())
    db.session.commit()
    data = {"csrf_token": csrf_token_for(member)}
    assert member.post("/events/hack-night/register", data=data).status_code == 303

    assert "4 of 5 seats left" in visitor.get("/events/hack-night").get_data(as_text=True)
    assert "4 of 5 seats left" in visitor.get("/events").get_data(as_text=True)


def test_each_anonymous_visitor_gets_and_can_use_their_own_csrf_token(app, event):
    first, second = app.test_client(), app.test_client()
    first_page = first.get("/events/hack-night").get_data(as_text=True)
    response, served = get(second, "/events/hack-night")
    second_page = response.get_data(as_text=True)
    assert is_hit(served)
    first_token, second_token = csrf_token_in(first_page), csrf_token_in(second_page)
    assert first_token != second_token
    assert CSRF_PLACEHOLDER not in second_page
    assert second_page.count(second_token) == first_page.count(first_token) >= 2  # hx-headers and the form
    for client, token in ((first, first_token), (second, second_token)):
        response = client.post("/events/hack-night/register", data={"csrf_token": token})
        assert response.status_code == 303, response.get_data(as_text=True)
        assert response.headers["Location"].startswith("/sign-in")
    # Someone else's token is refused.
    third = app.test_client()
    third.get("/events/hack-night")
    assert third.post("/events/hack-night/register", data={"csrf_token": first_token}).status_code == 400


def test_signed_in_members_never_get_a_visitors_copy(client, signed_in_client, event):
    get(client, "/events/hack-night")
    get(client, "/events/hack-night")  # cached for anonymous visitors now
    member = signed_in_client(create_user())
    db.session.commit()
    response, served = get(member, "/events/hack-night")
    html = response.get_data(as_text=True)
    assert "My account" in html and "Sign in" not in html
    assert not served.from_cache  # the members' copy is made now (tests/pages/test_pagecache_members.py)
    response, served = get(member, "/events/hack-night")
    assert served.from_cache and "My account" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"  # the member's page, with their parts, is theirs


def test_remember_me_cookie_is_treated_as_a_member(client, event):
    get(client, "/events/hack-night")
    client.set_cookie("remember_token", "anything")
    _, served = get(client, "/events/hack-night")
    assert not is_hit(served)


def test_htmx_fragment_and_full_page_are_cached_separately(client, event):
    page, _ = get(client, "/events?q=Hack")
    fragment, _ = get(client, "/events?q=Hack", **{"HX-Request": "true"})
    assert "<html" in page.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    assert fragment.headers["HX-Push-Url"] == "/events?q=Hack"
    page_again, page_served = get(client, "/events?q=Hack")
    fragment_again, fragment_served = get(client, "/events?q=Hack", **{"HX-Request": "true"})
    assert is_hit(page_served) and is_hit(fragment_served)
    assert without_token(page_again) == without_token(page)
    assert without_token(fragment_again) == without_token(fragment)
    assert fragment_again.headers["HX-Push-Url"] == "/events?q=Hack"
    # A boosted link or a history restore needs the whole page: not the fragment's entry.
    boosted, _ = get(client, "/events?q=Hack", **{"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


def test_an_entry_expires_after_pagecache_seconds(app, client, event):
    now = [1000.0]
    app.extensions["pagecache"].clock = lambda: now[0]
    get(client, "/groups")
    now[0] += app.config["PAGECACHE_SECONDS"] - 1
    _, served = get(client, "/groups")
    assert is_hit(served)
    now[0] += 1
    _, served = get(client, "/groups")
    assert not is_hit(served)


def test_not_found_pages_are_not_cached(client, event):
    get(client, "/events/no-such-event")
    response, served = get(client, "/events/no-such-event")
    assert response.status_code == 404
    assert not is_hit(served)


def test_cache_can_be_turned_off(app, client, event):
    app.config["PAGECACHE_ENABLED"] = False
    get(client, "/about")
    _, served = get(client, "/about")
    assert served.statements == [] and not served.from_cache


def test_a_missing_version_row_means_no_cache_until_the_next_change(client, session, event):
    with db.engine.begin() as connection:
        connection.execute(ContentVersion.__table__.delete())
    get(client, "/about")
    _, served = get(client, "/about")
    assert not is_hit(served)
    event.title = "Hack Night, again"
    session.commit()  # the bump puts the row back
    assert session.scalar(select(ContentVersion.n)) == 1
    get(client, "/about")
    _, served = get(client, "/about")
    assert is_hit(served)


def test_version_goes_up_after_the_outer_commit_not_at_a_savepoint(session, event):
    def version():
        with db.engine.connect() as connection:
            return connection.scalar(select(ContentVersion.n))

    before = version()
    with session.begin_nested():
        event.title = "Inside a savepoint"
    assert version() == before  # nothing is committed yet: a reader must not see a new number
    session.commit()
    assert version() == before + 1
    event.title = "Rolled back"
    session.flush()
    session.rollback()
    session.commit()
    assert version() == before + 1


def test_a_bad_character_in_an_htmx_header_is_refused_even_when_the_page_is_stored(client, event):
    get(client, "/events/hack-night")
    _, served = get(client, "/events/hack-night")
    assert is_hit(served)
    headers = {"HX-Request": "true", "HX-Boosted": "true"}
    get(client, "/events/hack-night", **headers)
    _, served = get(client, "/events/hack-night", **headers)
    assert is_hit(served)  # the boosted page is stored too
    refused = client.get("/events/hack-night", headers={**headers, "HX-Current-URL": "/events?\x00"})
    assert NUL_MESSAGE in refused.get_data(as_text=True)
    assert "Hack Night" not in refused.get_data(as_text=True)


def test_a_cookie_that_is_not_ours_is_a_new_visitor_with_a_token_that_works(app, event):
    app.test_client().get("/events/hack-night")  # stored
    visitor = app.test_client()
    visitor.set_cookie("session", "not-a-signed-cookie")
    response, served = get(visitor, "/events/hack-night")
    assert response.status_code == 200 and is_hit(served)
    token = csrf_token_in(response.get_data(as_text=True))
    posted = visitor.post("/events/hack-night/register", data={"csrf_token": token})
    assert posted.status_code == 303 and posted.headers["Location"].startswith("/sign-in")
