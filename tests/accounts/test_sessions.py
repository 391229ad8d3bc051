"""Sessions end on the server: a copied session or remember-me cookie stops working after
"Sign out", after "Sign out everywhere", and 30 days after sign-in, whatever the cookie says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.accounts.test_views import ask_for_link, link_path, press_sign_in
from tests.conftest import csrf_token_for, post_form
from tests.factories import create_user
from tests.support.html import parse
from webapp.accounts.models import UserSession
from webapp.db import utcnow

pytestmark = pytest.mark.usefixtures("fresh_request_globals")

REMEMBER = "remember_token"


def sign_in_by_link(client, session, email="ada@example.org", remember=True):
    ask_for_link(client, email)
    response = press_sign_in(client, link_path(session), remember=remember)
    assert response.status_code == 303
    return client


def cookies_of(client) -> dict[str, str]:
    names = ("session", REMEMBER)
    return {name: client.get_cookie(name).value for name in names if client.get_cookie(name) is not None}


def replay(app, cookies: dict[str, str]):
    """Another browser (an attacker's) holding copies of these cookies."""
    thief = app.test_client()
    for name, value in cookies.items():
        thief.set_cookie(name, value)
    return thief


def is_signed_in(client) -> bool:
    response = client.get("/account")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def open_sessions(session) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.ended_at.is_(None))
    )


@pytest.fixture
def ada(session):
    user = create_user(email="ada@example.org", display_name="Ada")
    session.commit()
    return user


@pytest.fixture
def clock(monkeypatch):
    """Move the app's clock (the one edge we fake): `clock.advance(days=30)`."""

    class Clock:
        offset = timedelta()

        def advance(self, **delta):
            self.offset += timedelta(**delta)

    fake = Clock()
    import webapp.accounts.views as views

    monkeypatch.setattr(views, "utcnow", lambda: utcnow() + fake.offset)
    return fake


def test_the_session_id_names_the_member_and_a_server_side_session(app, client, session, ada):
    sign_in_by_link(client, session)
    with client.session_transaction() as flask_session:
        member, _, key = flask_session["_user_id"].partition(":")
    assert member == str(ada.id) and len(key) >= 40
    row = session.scalar(select(UserSession))
    assert row.user_id == ada.id and row.ended_at is None and key not in row.key_hash


@pytest.mark.parametrize("copied", ["session", REMEMBER, "both"])
def test_a_copied_cookie_stops_working_once_the_member_signs_out(app, client, session, ada, copied):
    sign_in_by_link(client, session)
    cookies = cookies_of(client)
    assert set(cookies) == {"session", REMEMBER}
    stolen = cookies if copied == "both" else {copied: cookies[copied]}
    assert is_signed_in(replay(app, stolen))  # the copy works while the session is open

    response = post_form(client, "/sign-out")
    assert response.status_code == 303
    assert not is_signed_in(client)
    assert not is_signed_in(replay(app, stolen))
    assert open_sessions(session) == 0


def test_signing_out_here_leaves_the_members_other_devices_signed_in(app, client, session, ada):
    phone = sign_in_by_link(app.test_client(), session)
    sign_in_by_link(client, session)
    post_form(client, "/sign-out")
    assert not is_signed_in(client)
    assert is_signed_in(phone)
    assert open_sessions(session) == 1


def test_the_account_page_offers_sign_out_everywhere_as_a_form_with_csrf(app, client, session, ada):
    sign_in_by_link(app.test_client(), session)
    sign_in_by_link(client, session)
    html = client.get("/account").get_data(as_text=True)
    form = parse(html).find("form", action="/account/sign-out-everywhere")
    assert form["method"] == "post"
    assert form.find("input", attrs={"name": "csrf_token"})
    button = form.find("button", string="Sign out everywhere")
    assert button["type"] == "submit" and button["class"] == ["button", "button-quiet"]
    assert "You’re signed in on 2 browsers or devices" in html


def test_sign_out_everywhere_ends_every_session_and_says_so(app, client, session, ada):
    other = create_user(email="grace@example.org", display_name="Grace")
    session.commit()
    graces = sign_in_by_link(app.test_client(), session, "grace@example.org")
    phone = sign_in_by_link(app.test_client(), session)
    sign_in_by_link(client, session)
    stolen = cookies_of(client)

    response = post_form(client, "/account/sign-out-everywhere")
    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in?signed_out=everywhere"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You’re signed out everywhere: on this device and on every other browser" in page
    assert not is_signed_in(client)
    assert not is_signed_in(phone)
    assert not is_signed_in(replay(app, stolen))
    assert not is_signed_in(replay(app, {REMEMBER: stolen[REMEMBER]}))
    assert is_signed_in(graces)  # another member is not affected
    assert open_sessions(session) == 1 and other.id


def test_sign_out_everywhere_needs_the_csrf_token(app, client, session, ada):
    sign_in_by_link(client, session)
    assert client.post("/account/sign-out-everywhere").status_code == 400
    assert is_signed_in(client)


def test_sign_out_everywhere_needs_a_signed_in_member(client):
    response = post_form(client, "/account/sign-out-everywhere")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_the_confirmation_is_not_shown_to_someone_still_signed_in(signed_in_client, ada):
    client = signed_in_client(ada)
    page = client.get("/sign-in?signed_out=everywhere").get_data(as_text=True)
    assert "signed out everywhere" not in page


@pytest.mark.parametrize("copied", ["session", REMEMBER])
def test_a_session_ends_30_days_after_sign_in_even_if_used_every_day(app, client, session, ada, clock, copied):
    sign_in_by_link(client, session)
    cookies = cookies_of(client)
    stolen = {copied: cookies[copied]}
    for _ in range(29):
        clock.advance(days=1)
        assert is_signed_in(client)
    clock.advance(hours=23, minutes=59)
    assert is_signed_in(replay(app, stolen))
    clock.advance(minutes=1)  # 30 days to the minute since the link was used
    assert not is_signed_in(client)
    assert not is_signed_in(replay(app, stolen))


@pytest.mark.parametrize(
    "session_id",
    ["abc:xyz", "abc", "42", "", ":", "1:", "1:nope", "١:x", "9" * 400 + ":x", "99999999999:x", "2147483648:x",
     "1:" + "x" * 5000],
)
def test_a_malformed_or_old_session_id_is_just_signed_out(app, client, session, ada, session_id):
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session_id
    assert client.get("/about").status_code == 200
    assert not is_signed_in(client)
    with client.session_transaction() as flask_session:
        assert "_user_id" not in flask_session  # forgotten: the browser is anonymous again


@pytest.mark.parametrize("value", ["garbage", "abc:xyz|deadbeef", "|", "1|", "1:abc|" + "0" * 128])
def test_a_malformed_remember_cookie_is_ignored_and_cleared(app, client, session, ada, value):
    client.set_cookie(REMEMBER, value)
    response = client.get("/about")
    assert response.status_code == 200
    assert any(c.startswith(f"{REMEMBER}=;") for c in response.headers.getlist("Set-Cookie"))
    assert not is_signed_in(client)


def test_a_remember_cookie_for_an_ended_session_is_cleared(app, client, session, ada):
    sign_in_by_link(client, session)
    stolen = cookies_of(client)[REMEMBER]
    post_form(client, "/sign-out")
    thief = replay(app, {REMEMBER: stolen})
    response = thief.get("/about")
    assert any(c.startswith(f"{REMEMBER}=;") for c in response.headers.getlist("Set-Cookie"))
    assert thief.get_cookie(REMEMBER) is None


def test_signing_out_when_already_signed_out_is_harmless(client):
    csrf_token_for(client)
    assert post_form(client, "/sign-out").status_code == 303


# --- One link, two clicks at the same moment --------------------------------------------------


@pytest.fixture
def app_overrides():
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 5, "max_overflow": 5, "pool_timeout": 30}}


def test_one_link_used_twice_at_the_same_moment_signs_in_once(app, session, db_kind, monkeypatch):
    """Both requests pass the read-only check before either claims the link; the conditional
    UPDATE (used_at IS NULL) lets exactly one through, on separate connections."""
    if db_kind != "postgres":
        pytest.skip("SQLite runs one writer at a time: the race needs PostgreSQL's row locks")
    import threading

    from webapp.accounts import services
    from webapp.accounts.models import User

    first = app.test_client()
    ask_for_link(first)
    path = link_path(session)
    second = app.test_client()
    forms = [{"csrf_token": csrf_token_for(c), "remember": "y"} for c in (first, second)]
    session.commit()
    session.remove()

    barrier = threading.Barrier(2)
    checked = services.check_sign_in_link

    def check_then_wait(*args, **kwargs):
        result = checked(*args, **kwargs)
        barrier.wait(timeout=20)  # both have seen an unused link before either claims it
        return result

    monkeypatch.setattr(services, "check_sign_in_link", check_then_wait)
    statuses: dict[int, int] = {}
    errors: list[BaseException] = []

    def press(index, client):
        try:
            statuses[index] = client.post(path, data=forms[index]).status_code
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=press, args=(i, c)) for i, c in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.undo()
    assert not errors, errors
    assert sorted(statuses.values()) == [303, 410]
    assert session.scalar(select(func.count()).select_from(User)) == 1
    assert session.scalar(select(func.count()).select_from(UserSession)) == 1
    assert [is_signed_in(first), is_signed_in(second)].count(True) == 1


# --- Pages for one member are never cached -----------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/about", "/events", "/account", "/my/events"])
def test_every_page_a_member_sees_is_no_store(signed_in_client, ada, path):
    response = signed_in_client(ada).get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_fragments_for_a_member_are_no_store_too(signed_in_client, ada):
    response = signed_in_client(ada).get("/account", headers={"HX-Request": "true"})
    assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_public_pages_are_still_cached_and_not_no_store(app, client, ada):
    cache = app.extensions["pagecache"]
    first = client.get("/about")
    assert "no-store" not in (first.headers.get("Cache-Control") or "")
    hits = cache.hits
    again = client.get("/about")
    assert again.status_code == 200 and cache.hits == hits + 1
    assert "no-store" not in (again.headers.get("Cache-Control") or "")


def test_static_files_stay_cacheable_for_members(signed_in_client, ada):
    response = signed_in_client(ada).get("/static/app.css")
    assert "no-store" not in (response.headers.get("Cache-Control") or "")
