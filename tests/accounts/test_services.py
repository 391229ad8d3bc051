"""Passwordless sign-in, profiles and roles, through the services (explicit clock)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import create_user
from webapp.accounts import services
from webapp.accounts.models import Role, SignInRequest, User
from webapp.accounts.services import LinkProblem, SignedIn, SignInFailed
from webapp.outbox.models import OutboxMail

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def link_in(mail: OutboxMail) -> str:
    return re.search(r"http://meetups\.test/sign-in/(\S+)", mail.body_text).group(1)


def ask(session, email="Ada@Example.org ", *, next_url="/events", intent=None, now=NOW) -> str:
    """Ask for a link and return the token from the mail, as a member would find it."""
    request = services.request_sign_in(session, email, next_url=next_url, intent=intent, now=now)
    mail = session.scalar(select(OutboxMail).where(OutboxMail.dedup_key == f"sign-in:{request.id}"))
    return link_in(mail)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_requesting_a_link_queues_one_mail_with_the_link_and_creates_no_account(session):
    request = services.request_sign_in(
        session, "  Ada@Example.ORG ", next_url="/events/book-club", intent="register:42", now=NOW
    )

    assert request.email == "ada@example.org"
    assert request.expires_at == NOW + timedelta(minutes=15)
    assert request.used_at is None and request.intent == "register:42"
    mail = session.scalar(select(OutboxMail))
    assert mail.kind == "sign_in" and mail.dedup_key == f"sign-in:{request.id}"
    assert mail.recipient == "ada@example.org"
    token = link_in(mail)
    assert f"http://meetups.test/sign-in/{token}" in mail.body_html
    assert "15 minutes" in mail.body_text
    assert count(session, User) == 0


def test_only_a_hash_of_the_secret_is_stored(session):
    token = ask(session)
    request = session.scalar(select(SignInRequest))
    assert len(request.token_hash) == 64
    assert request.token_hash not in token


def test_first_use_of_a_link_creates_the_account_and_returns_next_and_intent(session):
    token = ask(session, intent="register:42")

    result = services.complete_sign_in(session, token, now=NOW + timedelta(minutes=5))

    assert isinstance(result, SignedIn) and result.ok
    assert result.user.email == "ada@example.org" and result.user.needs_profile
    assert result.is_new_user and result.next_url == "/events" and result.intent == "register:42"
    assert result.user.last_signed_in_at == NOW + timedelta(minutes=5)
    assert session.scalar(select(SignInRequest)).used_at == NOW + timedelta(minutes=5)


def test_a_known_member_signs_in_to_their_existing_account(session):
    member = create_user(email="ada@example.org", display_name="Ada")
    result = services.complete_sign_in(session, ask(session, "ADA@example.org"), now=NOW)
    assert result.user is member and not result.is_new_user and not result.user.needs_profile
    assert count(session, User) == 1


def test_a_link_works_once(session):
    token = ask(session)
    assert services.complete_sign_in(session, token, now=NOW).ok

    again = services.complete_sign_in(session, token, now=NOW + timedelta(minutes=1))

    assert isinstance(again, SignInFailed) and again.problem is LinkProblem.USED
    assert "already been used" in again.message


def test_two_tabs_using_one_link_sign_in_only_once(app, session):
    token = ask(session)
    session.commit()
    other_tab = Session(app.extensions["sqlalchemy"].engine)
    try:
        # The second tab has checked the link and is about to use it when the first one wins.
        assert isinstance(services.check_sign_in_link(other_tab, token, now=NOW), SignInRequest)
        assert services.complete_sign_in(session, token, now=NOW).ok
        session.commit()

        late = services.complete_sign_in(other_tab, token, now=NOW)

        assert isinstance(late, SignInFailed) and late.problem is LinkProblem.USED
        other_tab.rollback()
    finally:
        other_tab.close()
    assert count(session, User) == 1


def test_an_expired_link_fails_and_changes_nothing(session):
    token = ask(session)

    result = services.complete_sign_in(session, token, now=NOW + timedelta(minutes=15))

    assert isinstance(result, SignInFailed) and result.problem is LinkProblem.EXPIRED
    assert "expired" in result.message and result.request.email == "ada@example.org"
    assert session.scalar(select(SignInRequest)).used_at is None
    assert count(session, User) == 0


def test_the_link_lifetime_is_a_setting(app, session):
    app.config["SIGN_IN_LINK_MINUTES"] = 60
    token = ask(session)
    assert services.complete_sign_in(session, token, now=NOW + timedelta(minutes=59)).ok


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),  # signature
        lambda token: token.split(".")[0] + "x." + ".".join(token.split(".")[1:]),  # payload
        lambda token: "nonsense",
        lambda token: "",
    ],
)
def test_a_forged_or_damaged_link_fails(session, mangle):
    token = ask(session)
    result = services.complete_sign_in(session, mangle(token), now=NOW)
    assert isinstance(result, SignInFailed) and result.problem is LinkProblem.INVALID
    assert result.request is None
    assert count(session, User) == 0


def test_a_validly_signed_link_with_the_wrong_secret_fails(session):
    ask(session)
    request = session.scalar(select(SignInRequest))
    forged = services._serializer().dumps({"id": request.id, "secret": "guessed"})
    result = services.complete_sign_in(session, forged, now=NOW)
    assert isinstance(result, SignInFailed) and result.problem is LinkProblem.INVALID


def test_a_link_signed_with_another_key_fails(app, session):
    from itsdangerous import URLSafeTimedSerializer

    ask(session)
    request = session.scalar(select(SignInRequest))
    forged = URLSafeTimedSerializer("not-our-key", salt="sign-in").dumps(
        {"id": request.id, "secret": "x"}
    )
    assert services.complete_sign_in(session, forged, now=NOW).problem is LinkProblem.INVALID


@pytest.mark.parametrize(
    "next_url, kept",
    [
        ("/events/book-club?x=1", "/events/book-club?x=1"),
        ("//evil.example", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
        ("javascript:alert(1)", None),
        ("events", None),
        ("/sign-in", None),
        ("/ok\r\nSet-Cookie: x", None),
        ("", None),
        (None, None),
    ],
)
def test_only_local_paths_are_kept_as_the_next_page(session, next_url, kept):
    request = services.request_sign_in(
        session, "a@example.org", next_url=next_url, intent=None, now=NOW
    )
    assert request.next_url == kept


def test_without_a_next_page_sign_in_returns_home(session):
    token = ask(session, next_url=None)
    assert services.complete_sign_in(session, token, now=NOW).next_url == "/"


@pytest.mark.parametrize(
    "email", ["", "   ", "ada", "ada@", "@example.org", "ada@example", "a b@example.org"]
)
def test_requesting_a_link_for_a_malformed_address_is_refused(session, email):
    with pytest.raises(ValueError):
        services.request_sign_in(session, email, next_url=None, intent=None, now=NOW)


def test_updating_the_profile_strips_and_empties_optional_fields(session):
    member = create_user(display_name=None)
    services.update_profile(
        session, member, display_name="  Ada Lovelace ", institution="  ", pronouns=" she/her "
    )
    assert (member.display_name, member.institution, member.pronouns) == (
        "Ada Lovelace", None, "she/her",
    )
    assert not member.needs_profile


def test_granting_a_role_creates_the_account_if_needed_and_is_idempotent(session):
    assert services.grant_role(session, "Grace@Example.org", Role.STAFF, now=NOW) is True
    assert services.grant_role(session, "grace@example.org", Role.STAFF, now=NOW) is False
    grace = services.find_user(session, "grace@example.org")
    assert grace.has_role(Role.STAFF) and not grace.has_role(Role.ADMIN)
    assert grace.display_name is None


def test_revoking_a_role(session):
    create_user(email="grace@example.org", roles=[Role.STAFF, Role.REVIEWER])
    assert services.revoke_role(session, "grace@example.org", Role.STAFF) is True
    assert services.revoke_role(session, "grace@example.org", Role.STAFF) is False
    assert services.revoke_role(session, "nobody@example.org", Role.STAFF) is False
    grace = services.find_user(session, "grace@example.org")
    assert [r.role for r in grace.roles] == [Role.REVIEWER]


def test_the_database_keeps_emails_unique_and_present(session):
    from sqlalchemy.exc import IntegrityError

    create_user(email="ada@example.org")
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(User(email="ADA@example.org"))
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(User(email="  "))
