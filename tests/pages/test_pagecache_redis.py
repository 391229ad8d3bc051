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


def wait_for_the_push(app, key=REDIS_KEY):
    """Until Redis's "invalidate" for `key` reached the app's tracking connection: a test that
    changes the key itself reads it microseconds later; a browser's next request comes long after."""
    tracked = app.extensions["pagecache_tracked_version"]
    for _ in range(200):
        with tracked._lock:
            while tracked._connection.can_read(timeout=0.005):
                tracked._connection.read_response(push_request=True)
        if not tracked.knows(key):
            return
    raise AssertionError("no invalidation arrived")


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
    wait_for_the_push(client.application)
    hits = hit_count(client)
    client.get("/events/hack-night")
    assert hit_count(client) == hits  # nothing is served under a number that did not exist
    after = int(store.get(REDIS_KEY))
    assert after != before


def get_calls(store) -> int:
    return store.info("commandstats").get("cmdstat_get", {}).get("calls", 0)


def test_the_version_is_read_from_redis_only_when_it_changed(app, redis_url):
    from webapp.pagecache import TrackedVersion

    store = redis.Redis.from_url(redis_url)
    store.set(REDIS_KEY, 41)
    tracked = TrackedVersion(redis_url)
    before = get_calls(store)
    assert [tracked.read() for _ in range(5)] == [41] * 5
    assert get_calls(store) == before + 1
    store.incr(REDIS_KEY)  # another process's bump
    tracked._connection.can_read(timeout=0.5)
    assert tracked.read() == 42
    store.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")  # Redis dropped us
    with pytest.raises(redis.ConnectionError):
        tracked.read()  # the caller serves uncached, as when Redis is down
    store.incr(REDIS_KEY)
    assert tracked.read() == 43  # a new connection, tracked again
    store.incr(REDIS_KEY)
    tracked._connection.can_read(timeout=0.5)
    assert tracked.read() == 44
    store.flushdb()
    tracked._connection.can_read(timeout=0.5)
    assert tracked.read() is None


def test_another_processs_change_shows_once_its_push_arrived(app, session, client, event, redis_url):
    for _ in range(3):
        assert "Hack Night" in client.get("/events/hack-night").get_data(as_text=True)
    with db.engine.begin() as connection:  # another process: its commit and its bump
        connection.execute(db.text("UPDATE events SET title = 'Hack Night, elsewhere' WHERE slug = 'hack-night'"))
    redis.Redis.from_url(redis_url).incr(REDIS_KEY)
    wait_for_the_push(client.application)
    session.expire_all()  # the test's session is the app's (one app context): forget what it loaded
    assert "Hack Night, elsewhere" in client.get("/events/hack-night").get_data(as_text=True)


def changed_then_restored_from_an_older_snapshot(redis_url, key: str, change: str) -> None:
    """Another process commits `change` (SQL), and Redis goes down before its bump is saved: it comes
    back from a snapshot with the number `key` had, which is what was kept under."""
    store = redis.Redis.from_url(redis_url)
    number = store.get(key)
    with db.engine.begin() as connection:
        connection.execute(db.text(change))
    store.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    store.set(key, number)


def test_a_redis_restored_from_an_older_snapshot_serves_nothing_kept_before(client, session, event, redis_url):
    for _ in range(3):
        assert "Hack Night" in client.get("/events/hack-night").get_data(as_text=True)
    changed_then_restored_from_an_older_snapshot(
        redis_url, REDIS_KEY, "UPDATE events SET title = 'Hack Night, elsewhere' WHERE slug = 'hack-night'")
    session.expire_all()  # the test's session is the app's (one app context): forget what it loaded
    for _ in range(3):
        assert "Hack Night, elsewhere" in client.get("/events/hack-night").get_data(as_text=True)
