"""Signing in by emailed link, over HTTP: ask, follow, confirm, name yourself, carry on."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import _empty_all_tables, csrf_token_for, make_test_app
from tests.factories import create_user
from tests.support.html import parse, text
from tests.support.outbox import mails
from webapp.accounts.models import SignInRequest, User
from webapp.db import db, utcnow

# Each request sees only its own client's session, as in production.
pytestmark = pytest.mark.usefixtures("fresh_request_globals")

POLITE = (
    "We’ve just sent a few links to this address. Please check your inbox (and spam folder), "
    "or try again in a few minutes."
)


def ask_for_link(client, email="ada@example.org", **fields):
    data = {"csrf_token": csrf_token_for(client), "email": email, **fields}
    return client.post("/sign-in", data=data)


def ask_past_the_limit(app, client, setting: str, limit: str, allowed: list[str], then: str):
    """With `setting` at `limit`, each of the `allowed` asks gets its link; returns the answer to `then`."""
    app.config[setting] = limit
    for email in allowed:
        assert ask_for_link(client, email).status_code == 200
    return ask_for_link(client, then)


def link_path(session) -> str:
    """The path of the newest link mailed, read from the outbox row (no worker needed)."""
    body = mails(session)[-1].body_text
    return re.search(r"http://meetups\.test(/sign-in/\S+)", body).group(1)


def press_sign_in(client, path, remember=True):
    data = {"csrf_token": csrf_token_for(client)}
    if remember:
        data["remember"] = "y"
    return client.post(path, data=data)


def set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def user_count(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


def main_nav(client, path="/about"):
    return parse(client.get(path).get_data(as_text=True)).find("nav", attrs={"aria-label": "Main"})


def nav(client, path="/about") -> str:
    return text(main_nav(client, path))


def test_sign_in_page_has_a_labelled_email_field_and_keeps_next_and_intent(client):
    html = client.get("/sign-in?next=/events/book-club&intent=register:42").get_data(as_text=True)
    assert '<label for="sign-in-email">Email address' in html
    assert 'id="sign-in-email" name="email"' in html and 'autocomplete="email"' in html
    assert '<input type="hidden" name="next" value="/events/book-club">' in html
    assert '<input type="hidden" name="intent" value="register:42">' in html
    assert 'id="sign-in-form"' in html


def test_sign_in_page_drops_a_next_that_leaves_the_site(client):
    html = client.get("/sign-in?next=//evil.example").get_data(as_text=True)
    assert 'name="next"' not in html and "evil.example" not in html


def test_asking_for_a_link_queues_the_mail_and_says_check_your_inbox(client, session):
    response = ask_for_link(client, "  Ada@Example.org ", next="/events", intent="register:42")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Check your inbox" in html and "ada@example.org" in html
    [mail] = mails(session)
    assert mail.kind == "sign_in" and mail.recipient == "ada@example.org"
    assert link_path(session).startswith("/sign-in/")
    request = session.scalar(select(SignInRequest))
    assert (request.next_url, request.intent) == ("/events", "register:42")
    assert user_count(session) == 0


def test_known_and_unknown_addresses_get_the_same_answer(app, session):
    create_user(email="known@example.org")
    session.commit()

    def answer(email):
        client = app.test_client()
        response = ask_for_link(client, email)
        html = response.get_data(as_text=True).replace(email, "EMAIL")
        return response.status_code, re.sub(r'"X-CSRFToken": "[^"]+"', "TOKEN", html)

    assert answer("known@example.org") == answer("stranger@example.org")
    assert len(mails(session)) == 2


@pytest.mark.parametrize("typed", ["ada@", "ada", "ada@example", "ada @example.org"])
def test_a_malformed_address_is_shown_again_with_a_message_next_to_it(client, session, typed):
    response = ask_for_link(client, typed)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'value="{typed}"' in html
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="sign-in-email-hint sign-in-email-error"' in html
    assert '<p class="field-error" id="sign-in-email-error">Enter an email address like' in html
    assert mails(session) == []


def test_an_empty_address_asks_for_one(client):
    html = ask_for_link(client, "").get_data(as_text=True)
    assert "Enter your email address." in html


def test_htmx_gets_just_the_form_block_back(client, session):
    headers = {"HX-Request": "true"}
    bad = client.post("/sign-in", data={"csrf_token": csrf_token_for(client), "email": "x"},
                      headers=headers)
    # htmx swaps only 2xx responses: the fragment carries the problem in its words.
    assert bad.status_code == 200 and "<html" not in bad.get_data(as_text=True)
    assert bad.get_data(as_text=True).lstrip().startswith('<form id="sign-in-form"')
    assert "HX-Request" in bad.headers["Vary"]

    good = client.post("/sign-in", data={"csrf_token": csrf_token_for(client),
                                         "email": "ada@example.org"}, headers=headers)
    html = good.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="sign-in-form"') and "Check your inbox" in html


def test_following_the_link_only_asks_to_confirm(client, session):
    ask_for_link(client)
    path = link_path(session)

    response = client.get(path)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "You’re signing in as <strong>ada@example.org</strong>" in html
    assert '<button type="submit" class="button">Sign in</button>' in html
    assert response.headers["Cache-Control"] == "no-store"
    # A mail scanner's GET changes nothing.
    assert session.scalar(select(SignInRequest)).used_at is None
    assert user_count(session) == 0
    assert "My account" not in nav(client)


def test_first_sign_in_goes_through_the_profile_then_on_to_next(client, session):
    ask_for_link(client, next="/events")
    path = link_path(session)

    signed_in = press_sign_in(client, path)

    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/account?welcome=1&next=/events"
    welcome = client.get(signed_in.headers["Location"]).get_data(as_text=True)
    assert "Welcome to METRO Meetups" in welcome and "My account" in welcome
    saved = client.post(signed_in.headers["Location"], data={
        "csrf_token": csrf_token_for(client), "display_name": " Ada Lovelace ",
        "institution": "Brooklyn Public Library", "pronouns": "she/her",
    })
    assert saved.status_code == 303 and saved.headers["Location"] == "/events"
    page = client.get("/events").get_data(as_text=True)
    assert "My account" in page and "Sign out" in page
    ada = session.scalar(select(User))
    assert (ada.email, ada.display_name, ada.institution, ada.pronouns) == (
        "ada@example.org", "Ada Lovelace", "Brooklyn Public Library", "she/her",
    )
    assert ada.last_signed_in_at is not None


def test_a_returning_member_goes_straight_to_next(client, session):
    create_user(email="ada@example.org", display_name="Ada")
    session.commit()
    ask_for_link(client, next="/groups")

    response = press_sign_in(client, link_path(session))

    assert response.status_code == 303 and response.headers["Location"] == "/groups"
    assert "My account" in nav(client)
    assert user_count(session) == 1


def test_keeping_the_member_signed_in_sets_a_30_day_httponly_lax_cookie(client, session):
    ask_for_link(client)
    response = press_sign_in(client, link_path(session), remember=True)
    cookie = next(c for c in set_cookies(response) if c.startswith("remember_token="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.application.config["REMEMBER_COOKIE_DURATION"] == timedelta(days=30)


def test_on_a_shared_computer_the_member_can_choose_not_to_be_remembered(client, session):
    ask_for_link(client)
    response = press_sign_in(client, link_path(session), remember=False)
    assert not [c for c in set_cookies(response) if c.startswith("remember_token=")]
    assert "My account" in nav(client)


def test_a_used_link_fails_clearly_and_offers_a_new_one(app, client, session):
    ask_for_link(client, next="/events")
    path = link_path(session)
    press_sign_in(client, path)

    other = app.test_client()
    for response in (other.get(path), press_sign_in(other, path)):
        assert response.status_code == 410
        html = response.get_data(as_text=True)
        assert "already been used" in html
        assert 'action="/sign-in"' in html and 'value="ada@example.org"' in html
        assert '<input type="hidden" name="next" value="/events">' in html
    assert "My account" not in nav(other)


def test_an_expired_link_fails_and_changes_nothing(client, session):
    ask_for_link(client)
    path = link_path(session)
    request = session.scalar(select(SignInRequest))
    request.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()

    for response in (client.get(path), press_sign_in(client, path)):
        assert response.status_code == 410
        assert "expired" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(SignInRequest)).used_at is None
    assert user_count(session) == 0
    assert "My account" not in nav(client)


def test_a_link_that_expired_by_the_setting_fails(app, client, session):
    app.config["SIGN_IN_LINK_MINUTES"] = 0
    ask_for_link(client)
    assert press_sign_in(client, link_path(session)).status_code == 410


@pytest.mark.parametrize("suffix", ["x", "AAAA"])
def test_a_forged_link_fails_and_changes_nothing(client, session, suffix):
    ask_for_link(client)
    path = link_path(session) + suffix

    for response in (client.get(path), press_sign_in(client, path)):
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "isn’t valid" in html and 'action="/sign-in"' in html
    assert user_count(session) == 0
    assert "My account" not in nav(client)


def test_signing_in_needs_the_csrf_token(client, session):
    ask_for_link(client)
    response = client.post(link_path(session), data={"remember": "y"})
    assert response.status_code == 400
    assert user_count(session) == 0


@pytest.mark.parametrize("next_url", ["//evil.example", "https://evil.example", "/\\evil.example"])
def test_next_cannot_send_anyone_to_another_site(client, session, next_url):
    create_user(email="ada@example.org", display_name="Ada")
    session.commit()
    ask_for_link(client, next=next_url)

    response = press_sign_in(client, link_path(session))

    assert response.headers["Location"] == "/"


def test_the_welcome_step_ignores_a_next_that_leaves_the_site(signed_in_client, session):
    ada = create_user(display_name=None)
    session.commit()
    client = signed_in_client(ada)
    response = client.post("/account?welcome=1&next=https://evil.example", data={
        "csrf_token": csrf_token_for(client), "display_name": "Ada"})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_signing_out_needs_the_csrf_token(signed_in_client, session):
    client = signed_in_client(create_user())
    session.commit()

    refused = client.post("/sign-out")

    assert refused.status_code == 400
    assert "My account" in nav(client)


def test_signing_out(signed_in_client, session):
    client = signed_in_client(create_user())
    session.commit()
    assert "My account" in nav(client)

    response = client.post("/sign-out", data={"csrf_token": csrf_token_for(client)})

    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "My account" not in nav(client) and "Sign in" in nav(client)


def test_the_nav_offers_sign_in_back_to_the_current_page(client):
    assert main_nav(client, "/events?q=book").find("a", string="Sign in")["href"] == "/sign-in?next=/events?q%3Dbook"
    assert main_nav(client, "/about").find("a", string="Sign in")["href"] == "/sign-in?next=/about"


def test_the_sign_out_button_is_a_small_form_with_the_csrf_token(signed_in_client, session):
    client = signed_in_client(create_user())
    session.commit()
    form = main_nav(client).find("form", action="/sign-out")
    assert form["class"] == ["nav-form"] and form["method"] == "post"
    assert form.find("input", attrs={"name": "csrf_token"})
    button = form.find("button", string="Sign out")
    assert button["type"] == "submit" and button["class"] == ["link-button"]


def test_the_account_page_needs_a_signed_in_member(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Faccount"


def test_the_account_page_shows_and_saves_the_profile(signed_in_client, session):
    ada = create_user(email="ada@example.org", display_name="Ada", pronouns="she/her")
    session.commit()
    client = signed_in_client(ada)

    page = client.get("/account")
    html = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert "ada@example.org" in html and 'value="Ada"' in html and 'value="she/her"' in html
    assert '<label for="display-name">Display name' in html

    saved = client.post("/account", data={
        "csrf_token": csrf_token_for(client), "display_name": "Ada L.", "institution": "",
        "pronouns": ""})
    assert saved.status_code == 200 and "Your profile is saved." in saved.get_data(as_text=True)
    session.expire_all()
    assert (ada.display_name, ada.institution, ada.pronouns) == ("Ada L.", None, None)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("display_name", "", "Please enter the name to show other members."),
        ("display_name", "   ", "Please enter the name to show other members."),
        ("display_name", "x" * 101, "Display name can be at most 100 characters (this has 101)."),
        ("display_name", "Ada\nLovelace", "control characters"),
        ("display_name", "Ada\u202eecalevol", "control characters"),
        ("institution", "x" * 201, "Institution can be at most 200 characters"),
        ("institution", "B\x85PL", "control characters"),
        ("pronouns", "x" * 51, "Pronouns can be at most 50 characters"),
        ("pronouns", "she\therself", "control characters"),
    ],
)
def test_profile_validation(signed_in_client, session, field, value, message):
    ada = create_user(display_name="Ada")
    session.commit()
    client = signed_in_client(ada)
    data = {"csrf_token": csrf_token_for(client), "display_name": "Ada", "institution": "",
            "pronouns": ""}
    data[field] = value

    response = client.post("/account", data=data)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    field_id = field.replace("_", "-")
    assert message in html
    assert f'aria-describedby="{field_id}-hint {field_id}-error"' in html
    assert 'aria-invalid="true"' in html
    session.expire_all()
    assert ada.display_name == "Ada"


def test_a_hundred_character_name_is_fine(signed_in_client, session):
    ada = create_user()
    session.commit()
    client = signed_in_client(ada)
    response = client.post("/account", data={"csrf_token": csrf_token_for(client),
                                             "display_name": "é" * 100})
    assert response.status_code == 200


def test_too_many_links_for_one_address_get_a_polite_429_and_no_mail(app, client, session):
    refused = ask_past_the_limit(app, client, "SIGN_IN_LIMIT_PER_ADDRESS", "2 per 15 minutes",
                                 ["ada@example.org", "ADA@example.org "], then="ada@example.org")

    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert POLITE in html and 'id="sign-in-form"' in html and 'value="ada@example.org"' in html
    assert 'class="site-header"' in html  # the page, not an error page
    assert len(mails(session)) == 2
    # Another address from the same client is still fine.
    assert ask_for_link(client, "grace@example.org").status_code == 200


def test_too_many_links_from_one_client_get_a_429_too(app, client, session):
    refused = ask_past_the_limit(app, client, "SIGN_IN_LIMIT_PER_CLIENT", "2 per hour",
                                 ["one@example.org", "two@example.org"], then="three@example.org")

    assert refused.status_code == 429
    assert "try again in a little while" in refused.get_data(as_text=True)
    assert len(mails(session)) == 2


def test_malformed_addresses_do_not_count_against_the_limit(app, client, session):
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "1 per 15 minutes"
    ask_for_link(client, "ada@")
    assert ask_for_link(client, "ada@example.org").status_code == 200


def test_the_pending_intent_is_handed_to_its_domain_once_signed_in(app, client, session):
    calls = []
    app.extensions["sign_in_intents"] = {
        "wave": lambda user, argument, *, now, note=None: calls.append((user.email, argument, now)),
    }
    ask_for_link(client, next="/events", intent="wave:42")
    press_sign_in(client, link_path(session))
    assert [(email, argument) for email, argument, _ in calls] == [("ada@example.org", "42")]

    ask_for_link(client, intent="unknown:1")  # nobody handles it: signing in still works
    assert press_sign_in(client, link_path(session)).status_code == 303


def test_the_limits_are_counted_in_redis_when_there_is_one(redis_url, migrated, tmp_path, db_kind):
    """Several web processes share one count: a second app sees the first one's links."""
    settings = dict(
        REDIS_URL=redis_url, RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        SIGN_IN_LIMIT_PER_ADDRESS="1 per 15 minutes", MAIL_FILE_DIR=str(tmp_path),
    )
    first = make_test_app(migrated, tmp_path, **settings)
    assert first.config["RATELIMIT_STORAGE_URI"] == redis_url
    try:
        with first.app_context():
            assert ask_for_link(first.test_client(), "ada@example.org").status_code == 200
            db.session.remove()
        second = make_test_app(migrated, tmp_path, **settings)  # starts with its own counters
        with second.app_context():
            assert ask_for_link(second.test_client(), "ada@example.org").status_code == 429
            db.session.remove()
    finally:
        with first.app_context():
            _empty_all_tables(db_kind)
            db.engine.dispose()


def test_the_remember_cookie_is_secure_whenever_the_session_cookie_is():
    from webapp.config import load_settings

    assert load_settings({"DEBUG": False})["REMEMBER_COOKIE_SECURE"] is True
    assert load_settings({"DEBUG": True})["REMEMBER_COOKIE_SECURE"] is False
    assert load_settings({"REDIS_URL": None})["RATELIMIT_STORAGE_URI"] == "memory://"


def test_pressing_sign_in_twice_just_carries_on(client, session):
    create_user(email="ada@example.org", display_name="Ada")
    session.commit()
    ask_for_link(client, next="/groups")
    path = link_path(session)
    press_sign_in(client, path)

    for again in (press_sign_in(client, path), client.get(path)):
        assert again.status_code == 303 and again.headers["Location"] == "/groups"
