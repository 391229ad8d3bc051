"""HTTPS behind the proxy (HSTS, X-Forwarded-*) and debug mode kept off public addresses."""

from __future__ import annotations

import pytest

from tests.conftest import make_test_app
from webapp import create_app
from webapp.security import HSTS, UnsafeSettings, is_local_url


def https_app(migrated, tmp_path, **settings):
    return make_test_app(migrated, tmp_path, SITE_URL="https://meetups.metro.org", PROXY_FIX_HOPS=1, **settings)


def test_hsts_is_sent_when_the_proxy_says_the_request_came_over_https(migrated, tmp_path):
    client = https_app(migrated, tmp_path).test_client()
    response = client.get("/about", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"] == HSTS


def test_no_hsts_over_plain_http(migrated, tmp_path):
    client = https_app(migrated, tmp_path).test_client()
    assert "Strict-Transport-Security" not in client.get("/about").headers


def test_no_hsts_for_a_site_that_is_not_https(migrated, tmp_path):
    client = make_test_app(migrated, tmp_path, SITE_URL="http://localhost:5000", PROXY_FIX_HOPS=1).test_client()
    response = client.get("/about", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_without_a_proxy_forwarded_headers_are_not_believed(migrated, tmp_path):
    client = make_test_app(migrated, tmp_path, SITE_URL="https://meetups.metro.org").test_client()
    response = client.get("/about", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers


def test_behind_the_proxy_each_client_is_limited_by_its_own_address(migrated, tmp_path):
    """The sign-in limit per client counts the address the proxy saw, not the proxy's own."""
    from flask import g, request_started

    from tests.accounts.test_views import ask_for_link

    app = https_app(migrated, tmp_path, SIGN_IN_LIMIT_PER_CLIENT="1 per hour")
    # Each request its own `g`, as in production (see the fresh_request_globals fixture).
    request_started.connect(lambda sender, **extra: g.__dict__.clear(), app, weak=False)
    with app.app_context():
        first = app.test_client()
        first.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.1"
        second = app.test_client()
        second.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.2"
        assert ask_for_link(first, "one@example.org").status_code == 200
        assert ask_for_link(first, "two@example.org").status_code == 429
        assert ask_for_link(second, "three@example.org").status_code == 200
        from tests.conftest import _empty_all_tables
        from webapp.db import db

        db.session.remove()
        _empty_all_tables("postgres" if migrated.startswith("postgres") else "sqlite")


@pytest.mark.parametrize("site_url", ["https://meetups.metro.org", "http://8.8.8.8:5000",
                                      "http://meetups.example.org"])
def test_debug_mode_refuses_to_start_for_a_public_site(site_url, tmp_path):
    settings = {"DEBUG": True, "SITE_URL": site_url, "INSTANCE_PATH": str(tmp_path),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    with pytest.raises(UnsafeSettings, match="FLASK_DEBUG is on but SITE_URL"):
        create_app(settings)
    # Even with a real key: /dev/mail would still show every member's sign-in links.
    with pytest.raises(UnsafeSettings):
        create_app({**settings, "SECRET_KEY": "a-real-secret"})


@pytest.mark.parametrize("site_url", ["http://localhost:5000", "http://127.0.0.1:5000", "http://[::1]:5000",
                                      "http://meetups.localhost", "http://192.168.1.20:5000"])
def test_debug_mode_starts_for_a_local_site(site_url, tmp_path):
    app = create_app({"DEBUG": True, "SITE_URL": site_url, "INSTANCE_PATH": str(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert app.debug and app.config["SECRET_KEY"] == "dev-only-not-secret"


def test_the_development_key_is_never_used_outside_debug(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(UnsafeSettings, match="SECRET_KEY must be set"):
        create_app({"DEBUG": False, "SITE_URL": "http://localhost:5000", "INSTANCE_PATH": str(tmp_path)})


def test_what_counts_as_local():
    assert is_local_url("http://localhost:5000") and is_local_url("http://10.0.0.5")
    assert not is_local_url("https://meetups.metro.org") and not is_local_url("http://8.8.8.8")
    assert not is_local_url("http://localhost.example.org")


def debug_app(tmp_path, site_url="http://localhost:5000"):
    return create_app({"DEBUG": True, "SITE_URL": site_url, "INSTANCE_PATH": str(tmp_path),
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"})


def test_in_debug_another_name_for_this_machine_goes_to_the_site_address(tmp_path):
    """Mailed links use SITE_URL; a session started at 127.0.0.1 would not be seen at localhost."""
    client = debug_app(tmp_path).test_client()
    response = client.get("/events?q=knit", base_url="http://127.0.0.1:5000")
    assert response.status_code == 307
    assert response.headers["Location"] == "http://localhost:5000/events?q=knit"


def test_in_debug_the_site_address_itself_and_posts_are_left_alone(tmp_path):
    client = debug_app(tmp_path).test_client()
    assert client.get("/about", base_url="http://localhost:5000").status_code == 200
    # A form posted at the other name is not bounced (a redirect would lose it); CSRF decides.
    assert client.post("/sign-in", base_url="http://127.0.0.1:5000").status_code != 307


def test_outside_debug_hosts_are_never_redirected(migrated, tmp_path):
    client = make_test_app(migrated, tmp_path, SITE_URL="http://localhost:5000").test_client()
    assert client.get("/about", base_url="http://127.0.0.1:5000").status_code == 200


def test_in_debug_a_site_url_on_another_port_sends_nobody_away(tmp_path):
    client = debug_app(tmp_path, site_url="http://localhost").test_client()
    assert client.get("/about", base_url="http://127.0.0.1:5000").status_code == 200
