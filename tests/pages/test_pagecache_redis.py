"""The page cache with Redis holding the content version, as in production."""

from __future__ import annotations

import pytest
import redis

from tests.conftest import csrf_token_for
from tests.factories import create_event, create_group, create_user
from tests.support.queries import count_queries
from webapp.db import db
from webapp.pagecache import REDIS_KEY

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


@pytest.fixture
def app_overrides(redis_url):
    redis.Redis.from_url(redis_url).flushdb()
    return {"REDIS_URL": redis_url}


@pytest.fixture
def event(session):
    event = create_event(create_group(slug="ai-club"), slug="hack-night", title="Hack Night", capacity=5)
    session.commit()
    return event


def hit_count(client) -> int:
    return client.application.extensions["pagecache"].hits


def test_a_hit_touches_no_database(client, event):
    client.get("/events/hack-night")  # the version does not exist yet: uncached
    client.get("/events/hack-night")  # stored
    hits = hit_count(client)
    with count_queries() as statements:
        response = client.get("/events/hack-night")
    assert response.status_code == 200 and hit_count(client) == hits + 1
    assert statements == []


def test_edits_and_registrations_show_on_the_very_next_request(app, session, signed_in_client, event):
    visitor = app.test_client()
    for _ in range(3):
        assert "5 of 5 seats left" in visitor.get("/events/hack-night").get_data(as_text=True)
    event.title = "Hack Night, renamed"
    session.commit()
    assert "Hack Night, renamed" in visitor.get("/events/hack-night").get_data(as_text=True)

    member = signed_in_client(create_user())
    db.session.commit()
    assert member.post("/events/hack-night/register", data={"csrf_token": csrf_token_for(member)}).status_code == 303
    assert "4 of 5 seats left" in visitor.get("/events/hack-night").get_data(as_text=True)


def test_a_lost_version_starts_again_far_from_the_old_numbers(client, session, event, redis_url):
    store = redis.Redis.from_url(redis_url)
    client.get("/events/hack-night")
    client.get("/events/hack-night")
    before = int(store.get(REDIS_KEY))
    store.delete(REDIS_KEY)  # Redis restarted without its data
    hits = hit_count(client)
    client.get("/events/hack-night")
    assert hit_count(client) == hits  # nothing is served under a number that did not exist
    after = int(store.get(REDIS_KEY))
    assert after != before
