from datetime import timedelta

import pytest

from tests.factories import create_event, create_group
from tests.support.html import csrf_token_in
from webapp.db import utcnow


def test_home_shows_next_events_with_group_time_format_and_seats(client, session):
    group = create_group(name="Prison Library Support Network", slug="plsn")
    create_event(group, title="Book club", capacity=20, confirmed_count=5)
    create_event(title="Community chat", is_online=False, venue_name="METRO")
    create_event(title="Full workshop", capacity=3, confirmed_count=3)
    session.commit()

    html = client.get("/").get_data(as_text=True)

    assert "Book club" in html and "Prison Library Support Network" in html
    assert "15 of 20 seats left" in html
    assert "In person" in html and "Online" in html
    assert "Full · waitlist open" in html
    assert " EST" in html or " EDT" in html


def test_home_shows_at_most_six_events_soonest_first(client, session):
    for day in range(1, 9):
        create_event(title=f"Gathering {day}", starts_at=utcnow() + timedelta(days=day))
    session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "Gathering 6" in html and "Gathering 7" not in html
    assert html.index("Gathering 1") < html.index("Gathering 6")


def test_about_page_tells_what_metro_is(client):
    response = client.get("/about")
    assert response.status_code == 200
    assert "1965" in response.get_data(as_text=True)


def test_unknown_page_is_a_styled_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "We couldn’t find that page" in html and 'class="site-header"' in html


def test_unexpected_error_is_a_styled_500(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def explode():
        raise RuntimeError("boom")

    app.add_url_rule("/explode", "explode", explode)
    response = client.get("/explode")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)
    assert "boom" not in response.get_data(as_text=True)


def test_healthz_checks_the_database(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_hello_view_exists_only_for_the_benchmark(app, client):
    assert client.get("/hello").status_code == 404
    app.config["BENCH_HELLO"] = True
    assert client.get("/hello").data == b"Hello"


@pytest.mark.parametrize("path", ["/", "/events", "/groups", "/about", "/nope"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_pages_load_no_third_party_resources(client, session):
    create_event()
    session.commit()
    for path in ("/", "/events", "/groups", "/about"):
        html = client.get(path).get_data(as_text=True)
        assert 'src="http' not in html and "<link rel=\"stylesheet\" href=\"http" not in html
        assert "<script>" not in html and " style=" not in html


def test_htmx_is_configured_to_need_no_eval_or_inline_styles(client):
    html = client.get("/").get_data(as_text=True)
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_session_cookie_is_httponly_and_lax(client):
    client.get("/")  # the CSRF token puts something in the session
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only and cookie.same_site == "Lax"


def test_session_cookie_is_secure_in_production(monkeypatch):
    from webapp.config import load_settings

    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    assert load_settings()["SESSION_COOKIE_SECURE"] is True
    assert load_settings({"DEBUG": True})["SESSION_COOKIE_SECURE"] is False


def test_secret_key_is_required_outside_debug(monkeypatch):
    from webapp import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DEBUG": False, "TESTING": False, "SECRET_KEY": None})


def test_state_changes_without_csrf_token_are_refused_and_change_nothing(app, client):
    from pathlib import Path

    mail_dir = Path(app.config["MAIL_FILE_DIR"])
    mail_dir.mkdir(parents=True, exist_ok=True)
    (mail_dir / "20260101T000000.eml").write_bytes(b"Subject: kept\r\n\r\nbody")

    refused = client.post("/dev/mail/clear")
    assert refused.status_code == 400
    assert "nothing was changed" in refused.get_data(as_text=True)
    assert list(mail_dir.glob("*.eml"))

    page = client.get("/dev/mail").get_data(as_text=True)
    token = csrf_token_in(page)
    accepted = client.post("/dev/mail/clear", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert accepted.status_code == 303
    assert not list(mail_dir.glob("*.eml"))
