"""The Zoom client against the fake Zoom over real HTTP: the token, and what each failure means."""

from __future__ import annotations

import time

import pytest

from webapp.zoom.client import ZoomClient, ZoomError, is_configured


def test_without_the_three_credentials_zoom_is_not_configured(app):
    assert not is_configured(app.config)
    with pytest.raises(ZoomError):
        ZoomClient()


def test_the_token_is_fetched_once_and_cached_until_it_expires(app, fake_zoom):
    client = ZoomClient()
    client.create_meeting({"topic": "One", "type": 2})
    ZoomClient().create_meeting({"topic": "Two", "type": 2})  # another client in the same process
    assert fake_zoom.token_requests == 1
    assert fake_zoom.meeting_creates() == 2


def test_the_token_is_shared_through_redis_when_the_site_has_one(app, fake_zoom, redis_url):
    app.config["REDIS_URL"] = redis_url
    first = ZoomClient()
    first.forget_token()
    first.create_meeting({"topic": "One", "type": 2})
    from webapp.zoom import client as module

    module._memory_tokens.clear()  # another process: nothing in its memory, the token in Redis
    ZoomClient().create_meeting({"topic": "Two", "type": 2})
    assert fake_zoom.token_requests == 1
    first.forget_token()


def test_a_token_zoom_no_longer_takes_is_renewed_once(app, fake_zoom):
    client = ZoomClient()
    client.create_meeting({"topic": "One", "type": 2})
    fake_zoom.tokens.clear()  # Zoom revoked it
    client.create_meeting({"topic": "Two", "type": 2})
    assert fake_zoom.token_requests == 2 and fake_zoom.meeting_creates() == 2


def test_wrong_credentials_are_a_failure_that_retrying_cannot_mend(app, fake_zoom):
    app.config["ZOOM_CLIENT_SECRET"] = "wrong"
    with pytest.raises(ZoomError) as raised:
        ZoomClient().create_meeting({"topic": "One"})
    assert not raised.value.retryable and raised.value.status == 400
    assert "Invalid client_id" in str(raised.value)


def test_a_500_is_retryable(app, fake_zoom):
    fake_zoom.fail_next(1)
    with pytest.raises(ZoomError) as raised:
        ZoomClient().create_meeting({"topic": "One"})
    assert raised.value.retryable and raised.value.status == 500
    assert fake_zoom.meeting_creates() == 0


def test_a_429_is_retryable_after_zooms_retry_after_and_nothing_sleeps(app, fake_zoom):
    fake_zoom.rate_limit_next(1, retry_after=30)
    started = time.monotonic()
    with pytest.raises(ZoomError) as raised:
        ZoomClient().create_meeting({"topic": "One"})
    assert time.monotonic() - started < 5  # the caller schedules the retry; the client never waits it out
    assert raised.value.retryable and raised.value.status == 429 and raised.value.retry_after == 30


def test_a_slow_zoom_is_a_retryable_timeout(app, fake_zoom):
    app.config["ZOOM_TIMEOUT_SECONDS"] = 0.5
    fake_zoom.delay = 2
    with pytest.raises(ZoomError) as raised:
        ZoomClient().create_meeting({"topic": "One"})
    assert raised.value.retryable and raised.value.status is None


def test_zoom_unreachable_is_retryable(app, fake_zoom):
    client = ZoomClient()
    client.token()
    fake_zoom.stop()
    with pytest.raises(ZoomError) as raised:
        client.create_meeting({"topic": "One"})
    assert raised.value.retryable


def test_another_4xx_is_not_retryable(app, fake_zoom):
    with pytest.raises(ZoomError) as raised:
        ZoomClient().update_meeting("999", {"topic": "Nobody's"})
    assert raised.value.status == 404 and not raised.value.retryable


def test_deleting_a_meeting_zoom_no_longer_has_is_done(app, fake_zoom):
    client = ZoomClient()
    meeting_id = str(client.create_meeting({"topic": "One"})["id"])
    client.delete_meeting(meeting_id)
    client.delete_meeting(meeting_id)  # again: a 404, which means it is gone
    assert meeting_id not in fake_zoom.meetings


def test_a_registrant_that_already_exists_is_looked_up_not_an_error(app, fake_zoom):
    client = ZoomClient()
    meeting_id = str(client.create_meeting({"topic": "One"})["id"])
    first = client.add_registrant(meeting_id, email="ada@example.org", first_name="Ada")
    again = client.add_registrant(meeting_id, email="ada@example.org", first_name="Ada")
    assert again == first and len(fake_zoom.approved(meeting_id)) == 1


def test_a_cancelled_registrants_join_url_is_refused_by_the_fake(app, fake_zoom):
    import urllib.error
    import urllib.request

    client = ZoomClient()
    meeting_id = str(client.create_meeting({"topic": "One"})["id"])
    registrant = client.add_registrant(meeting_id, email="ada@example.org", first_name="Ada")
    assert urllib.request.urlopen(registrant.join_url).status == 200
    client.cancel_registrant(meeting_id, registrant_id=registrant.id, email="ada@example.org")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(registrant.join_url)
    assert refused.value.code == 403


def test_an_address_cancelled_before_and_registered_again_is_approved_again(app, fake_zoom):
    import urllib.error
    import urllib.request

    fake_zoom.keep_cancelled = True  # Zoom keeps the cancelled registrant and refuses a second one
    client = ZoomClient()
    meeting_id = str(client.create_meeting({"topic": "One"})["id"])
    first = client.add_registrant(meeting_id, email="ada@example.org", first_name="Ada")
    client.cancel_registrant(meeting_id, registrant_id=first.id, email="ada@example.org")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(first.join_url)
    again = client.add_registrant(meeting_id, email="ada@example.org", first_name="Ada")
    assert again.id == first.id and urllib.request.urlopen(again.join_url).status == 200
