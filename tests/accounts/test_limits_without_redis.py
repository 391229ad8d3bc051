"""While the limits' Redis is down, sign-in links are still limited, never unlimited: per
address by counting the address's recent requests in the database (which every web process
shares), per client and for every other limit by counting in the process until Redis is back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.accounts.test_views import POLITE, ask_for_link, ask_past_the_limit
from tests.conftest import free_port, make_test_app
from tests.support.outbox import mails
from webapp.accounts.models import SignInRequest
from webapp.db import db, utcnow
from webapp.throttle import over_limit

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


def unreachable_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


@pytest.fixture
def app_overrides():
    return {"RATELIMIT_STORAGE_URI": unreachable_redis(), "RATELIMIT_STORAGE_OPTIONS":
            {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}


def test_links_per_address_are_counted_in_the_database(app, client, session):
    refused = ask_past_the_limit(app, client, "SIGN_IN_LIMIT_PER_ADDRESS", "2 per 15 minutes",
                                 ["ada@example.org", "ada@example.org"], then="ADA@example.org")

    assert refused.status_code == 429 and POLITE in refused.get_data(as_text=True)
    assert len(mails(session)) == 2
    assert ask_for_link(client, "grace@example.org").status_code == 200


def test_another_web_process_sees_the_same_count(app, client, session, migrated, tmp_path):
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "1 per 15 minutes"
    assert ask_for_link(client, "ada@example.org").status_code == 200
    db.session.remove()

    other = make_test_app(migrated, tmp_path, RATELIMIT_STORAGE_URI=unreachable_redis(),
                          SIGN_IN_LIMIT_PER_ADDRESS="1 per 15 minutes", MAIL_FILE_DIR=str(tmp_path))
    with other.app_context():
        assert ask_for_link(other.test_client(), "ada@example.org").status_code == 429
        db.session.remove()
        db.engine.dispose()


def test_only_requests_inside_the_window_count(app, client, session):
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "1 per 15 minutes"
    assert ask_for_link(client, "ada@example.org").status_code == 200
    # That link was asked for 16 minutes ago: it no longer counts.
    session.query(SignInRequest).update({"created_at": utcnow() - timedelta(minutes=16)})
    session.commit()

    assert ask_for_link(client, "ada@example.org").status_code == 200


def test_links_per_client_are_still_limited(app, client, session):
    refused = ask_past_the_limit(app, client, "SIGN_IN_LIMIT_PER_CLIENT", "2 per hour",
                                 ["one@example.org", "two@example.org"], then="three@example.org")

    assert refused.status_code == 429
    assert len(mails(session)) == 2


def test_every_other_limit_counts_in_the_process(app):
    app.config["REGISTRATION_LIMIT_PER_MEMBER"] = "2 per hour"
    with app.test_request_context():
        results = [over_limit("REGISTRATION_LIMIT_PER_MEMBER", "registration", 7) for _ in range(3)]
        other_member = over_limit("REGISTRATION_LIMIT_PER_MEMBER", "registration", 8)
    assert results == [False, False, True]
    assert other_member is False


def test_looking_at_a_limit_while_redis_is_down_asks_the_process_counters_and_counts_nothing(app):
    app.config["GROUP_INVITE_LIMIT"] = "1 per hour"
    with app.test_request_context():
        looks = [over_limit("GROUP_INVITE_LIMIT", "group-invitation", 7, peek=True) for _ in range(3)]
        over_limit("GROUP_INVITE_LIMIT", "group-invitation", 7)
        after = over_limit("GROUP_INVITE_LIMIT", "group-invitation", 7, peek=True)
    assert looks == [False, False, False] and after is True
