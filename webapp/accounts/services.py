"""Passwordless sign-in, profiles and roles.

A sign-in link carries a signed request id and a random secret; the database keeps only a
SHA-256 of the secret. A link works once, for SIGN_IN_LINK_MINUTES, and the account is made
when a link is first used, so asking for a link reveals nothing about who has an account.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from webapp.accounts.models import (
    DISPLAY_NAME_MAX,
    EMAIL_MAX,
    INTENT_MAX,
    NEXT_URL_MAX,
    Role,
    SignInRequest,
    User,
    UserRole,
    UserSession,
    normalize_email,
)
from webapp.groups.models import GroupOrganizer
from webapp.outbox.templated import queue_templated_mail

DEFAULT_NEXT_URL = "/"
# What a member may type with an intent (a registration's accessibility needs); the intent's own
# domain may allow less and says so on its form.
INTENT_NOTE_MAX = 1000
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
# Bidirectional overrides and isolates can make a name display as something else.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# --- Small rules shared by forms, services and the CLI -------------------------------------------


def has_control_characters(value: str) -> bool:
    """Line breaks, tabs, NULs, bidi overrides: nothing a name or address should contain."""
    return any(
        unicodedata.category(ch) in {"Cc", "Zl", "Zp"} or ch in _BIDI_CONTROLS for ch in value
    )


def email_problem(value: str | None) -> str | None:
    """Why this is not an email address we can send to, or None when it looks fine."""
    email = normalize_email(value or "")
    if not email:
        return "Enter your email address."
    if len(email) > EMAIL_MAX or has_control_characters(email) or not _EMAIL_SHAPE.fullmatch(email):
        return "Enter an email address like name@example.org."
    # International addresses are welcome (josé@exämple.org: the outbox sends them, RFC 6531),
    # but a domain that has no IDNA form could never be mailed.
    try:
        email.rpartition("@")[2].encode("idna")
    except UnicodeError:
        return "Enter an email address like name@example.org."
    return None


def safe_next_url(value: str | None) -> str | None:
    """`value` when it is a path on this site, otherwise None: we never send anyone elsewhere."""
    if not value or len(value) > NEXT_URL_MAX:
        return None
    # "//host" and "/\host" are other sites to a browser; a scheme or host makes it absolute.
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if has_control_characters(value) or any(ch.isspace() for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    # Coming back to the sign-in pages after signing in would only go round in circles.
    if parts.path.startswith(("/sign-in", "/sign-out")):
        return None
    return value


def clean_intent(value: str | None) -> str | None:
    """The pending action as given, or None when it is missing or not a short plain string."""
    if not value or len(value) > INTENT_MAX or has_control_characters(value):
        return None
    return value


def display_name_problem(value: str | None) -> str | None:
    """Why this cannot be a display name, or None when it can (blank is fine: it is optional here)."""
    name = (value or "").strip()
    if len(name) > DISPLAY_NAME_MAX:
        # Worded as webapp.validators.too_long_message words it (which imports this module).
        return f"Your name can be at most {DISPLAY_NAME_MAX:,} characters (this has {len(name):,})."
    if has_control_characters(name):
        return "Please remove line breaks and other special control characters."
    return None


def describe_intent(intent: str | None) -> str | None:
    """What following the link will finish, in words ("finish registering for Book Club"), or None.

    Other domains register describers in app.extensions["sign_in_intent_descriptions"], one per
    intent kind, as they register the handlers: accounts knows no event or group.
    """
    kind, _, argument = (intent or "").partition(":")
    describer = current_app.extensions.get("sign_in_intent_descriptions", {}).get(kind)
    return describer(argument) if describer is not None else None


# --- Requesting and using a sign-in link ---------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="sign-in")


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_lifetime() -> timedelta:
    return timedelta(minutes=current_app.config["SIGN_IN_LINK_MINUTES"])


def forget_unused_intent_notes(session: Session, *, now: datetime) -> int:
    """Erase what was typed with a register intent (accessibility needs, a name) from sign-in
    requests whose link expired SIGN_IN_NOTE_HOURS ago unused; a used link erased it already.

    Needs are health information: kept only while the member may still come back for them (an
    expired link's page offers a new one with the needs filled in). Returns how many were erased.
    """
    cutoff = now - timedelta(hours=current_app.config["SIGN_IN_NOTE_HOURS"])
    erased = session.execute(
        update(SignInRequest)
        .where(SignInRequest.expires_at < cutoff,
               (SignInRequest.intent_note.is_not(None)) | (SignInRequest.display_name.is_not(None)))
        .values(intent_note=None, display_name=None)
    )
    return erased.rowcount or 0


def request_sign_in(
    session: Session,
    email: str,
    *,
    next_url: str | None,
    intent: str | None,
    intent_note: str | None = None,
    display_name: str | None = None,
    now: datetime,
) -> SignInRequest:
    """Record a sign-in request and queue the mail with its link. Creates no account.

    `intent_note` (what was typed with the intent) and `display_name` are kept with the request,
    on the server, so they survive the link being opened in another browser.
    """
    email = normalize_email(email)
    if problem := email_problem(email):
        raise ValueError(problem)
    if problem := display_name_problem(display_name):
        raise ValueError(problem)
    intent = clean_intent(intent)
    intent_note = (intent_note or "").strip()[:INTENT_NOTE_MAX] if intent else ""
    secret = secrets.token_urlsafe(32)
    sign_in_request = SignInRequest(
        email=email,
        token_hash=_hash_secret(secret),
        next_url=safe_next_url(next_url),
        intent=intent,
        intent_note=intent_note or None,
        display_name=(display_name or "").strip() or None,
        created_at=now,
        expires_at=now + link_lifetime(),
    )
    session.add(sign_in_request)
    session.flush()
    token = _serializer().dumps({"id": sign_in_request.id, "secret": secret})
    context = dict(
        link=f"{current_app.config['SITE_URL']}/sign-in/{token}",
        minutes=current_app.config["SIGN_IN_LINK_MINUTES"],
        site_name=current_app.config["SITE_NAME"],
        purpose=describe_intent(intent),
        name=sign_in_request.display_name,
    )
    queue_templated_mail(
        session,
        kind="sign_in",
        to=email,
        context=context,
        dedup_key=f"sign-in:{sign_in_request.id}",
        now=now,
    )
    return sign_in_request


class LinkProblem(StrEnum):
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"


_PROBLEM_MESSAGES = {
    LinkProblem.INVALID: (
        "This sign-in link isn’t valid. It may have been copied only in part. "
        "You can ask for a new one below."
    ),
    LinkProblem.EXPIRED: (
        "This sign-in link has expired: links work for a short time only, to keep your account "
        "safe. You can ask for a new one below."
    ),
    LinkProblem.USED: (
        "This sign-in link has already been used: each link works once. "
        "You can ask for a new one below."
    ),
}


@dataclass(frozen=True)
class SignInFailed:
    """A link that cannot sign anyone in, and why, in words for the member."""

    problem: LinkProblem
    # Known only when the link was genuine (expired or used): lets the page offer a new link.
    request: SignInRequest | None = None
    ok = False

    @property
    def message(self) -> str:
        return _PROBLEM_MESSAGES[self.problem]


@dataclass(frozen=True)
class SignedIn:
    """A completed sign-in: who, where to go next, and the pending action to pick up, if any."""

    user: User
    next_url: str
    intent: str | None
    is_new_user: bool
    # What was typed with the intent, for its handler (the request row no longer keeps it).
    intent_note: str | None = None
    ok = True


def check_sign_in_link(
    session: Session, token: str, *, now: datetime
) -> SignInRequest | SignInFailed:
    """The request behind a link that can still be used, without using it."""
    try:
        payload, signed_at = _serializer().loads(token, return_timestamp=True)
    except BadSignature:
        return SignInFailed(LinkProblem.INVALID)
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("id"), int)
        and isinstance(payload.get("secret"), str)
    ):
        return SignInFailed(LinkProblem.INVALID)
    sign_in_request = session.get(SignInRequest, payload["id"])
    if sign_in_request is None or not hmac.compare_digest(
        sign_in_request.token_hash, _hash_secret(payload["secret"])
    ):
        return SignInFailed(LinkProblem.INVALID)
    if sign_in_request.used_at is not None:
        return SignInFailed(LinkProblem.USED, sign_in_request)
    if now >= sign_in_request.expires_at or now - signed_at > link_lifetime():
        return SignInFailed(LinkProblem.EXPIRED, sign_in_request)
    return sign_in_request


def complete_sign_in(session: Session, token: str, *, now: datetime) -> SignedIn | SignInFailed:
    """Use a sign-in link: mark it used, make the account on first sign-in, return who it is."""
    checked = check_sign_in_link(session, token, now=now)
    if isinstance(checked, SignInFailed):
        return checked
    # Only the first of two tabs (or two clicks) gets past this conditional update.
    claimed = session.execute(
        update(SignInRequest)
        .where(SignInRequest.id == checked.id, SignInRequest.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        return SignInFailed(LinkProblem.USED, checked)
    user, is_new_user = _get_or_create_user(session, checked.email, now=now)
    user.last_signed_in_at = now
    # The name from the form only names someone who has none yet: it never renames a member.
    if checked.display_name and user.display_name is None:
        user.display_name = checked.display_name
    intent_note = checked.intent_note
    # Health information is kept no longer than needed: the handler gets it from here on.
    checked.intent_note = None
    session.flush()
    return SignedIn(
        user=user,
        next_url=checked.next_url or DEFAULT_NEXT_URL,
        intent=checked.intent,
        is_new_user=is_new_user,
        intent_note=intent_note,
    )


def _get_or_create_user(session: Session, email: str, *, now: datetime) -> tuple[User, bool]:
    email = normalize_email(email)
    user = find_user(session, email)
    if user is not None:
        return user, False
    try:
        # Two first sign-ins for one address at the same moment: one insert wins, the other reads.
        with session.begin_nested():
            user = User(email=email, created_at=now)
            session.add(user)
    except IntegrityError:
        user = find_user(session, email)
        if user is None:
            raise
        return user, False
    return user, True


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


# --- Signed-in sessions --------------------------------------------------------------------------


def session_lifetime() -> timedelta:
    return timedelta(days=current_app.config["SESSION_MAX_DAYS"])


def start_session(session: Session, user: User, *, now: datetime) -> str:
    """Open a session for `user` (one browser) and set the key Flask-Login will keep for it."""
    key = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, key_hash=_hash_secret(key), created_at=now))
    session.flush()
    user.session_key = key
    return key


def _session_parts(user_id: str | None) -> tuple[int, str] | None:
    """The member id and session key of the id Flask-Login keeps ("<user id>:<session key>"), or None.

    Anything else (an old id without a key, "abc:xyz", an id past the column's range) is nobody,
    and needs no query to say so.
    """
    member, _, key = (user_id or "").partition(":")
    if not (member.isascii() and member.isdigit() and len(member) <= 10 and key) or len(key) > 100:
        return None
    if int(member) > 2**31 - 1:
        return None
    return int(member), key


def _open_session_parameters(member: int, key: str, now: datetime) -> dict:
    return {"member": member, "key_hash": _hash_secret(key), "opened_after": now - session_lifetime()}


def _is_open_session():
    """The rule for a signed-in browser: its session row, not ended, opened less than SESSION_MAX_DAYS ago."""
    return (
        User.id == bindparam("member"),
        UserSession.key_hash == bindparam("key_hash"),
        UserSession.ended_at.is_(None),
        UserSession.created_at > bindparam("opened_after"),
    )


def _organizes():
    return exists().where(or_(GroupOrganizer.user_id == User.id, func.lower(GroupOrganizer.email) == User.email))


def load_user(session: Session, user_id: str, *, now: datetime) -> User | None:
    """The member behind the id Flask-Login keeps, if that session is open (else nobody)."""
    parts = _session_parts(user_id)
    if parts is None:
        return None
    member, key = parts
    # One statement for everything every page asks of its member: the row, the roles, and whether
    # they organize a group (the menu's "My groups"), so a member's page costs one round trip here.
    row = session.execute(_signed_in_member(), _open_session_parameters(member, key, now)).unique().first()
    if row is None:
        return None
    user, organizes = row
    user.session_key = key
    user.organizes_a_group = bool(organizes)
    return user


@functools.cache
def _signed_in_member():
    """Built once, on first use: at import the other models' mappers may not be configured yet."""
    return (
        select(User, _organizes().label("organizes"))
        .join(UserSession, UserSession.user_id == User.id)
        .options(joinedload(User.roles))
        .where(*_is_open_session())
    )


@dataclass(frozen=True)
class MenuFacts:
    """What the site's menu shows differently from one signed-in member to the next."""

    reviews: bool  # "Review (N)"
    staff: bool  # "Group health"
    organizes: bool  # "My groups"

    @classmethod
    def from_roles(cls, roles, organizes: bool) -> MenuFacts:
        roles = set(roles)
        return cls(reviews=Role.REVIEWER in roles, staff=bool(roles & {Role.STAFF, Role.ADMIN}),
                   organizes=bool(organizes))

    @classmethod
    def of(cls, user: User, organizes: bool) -> MenuFacts:
        return cls.from_roles((granted.role for granted in user.roles), organizes)


class OpenSession(NamedTuple):
    facts: MenuFacts
    open_until: datetime  # SESSION_MAX_DAYS after sign-in: no later request can find it open


def menu_facts_if_signed_in(connection, user_id: str | None, *, now: datetime) -> OpenSession | None:
    """load_user's check without loading the member: their menu's facts if the session is open, else None.

    One Core statement on a plain connection (the page cache answers members' stored pages with it,
    before Flask runs): the same rule for an open session as load_user, so a copied cookie after
    sign-out is refused here exactly as there.
    """
    parts = _session_parts(user_id)
    if parts is None:
        return None
    rows = connection.execute(_menu_facts_statement(), _open_session_parameters(*parts, now)).all()
    if not rows:
        return None
    facts = MenuFacts.from_roles((role for role, _, _ in rows if role is not None), rows[0][1])
    return OpenSession(facts, rows[0][2] + session_lifetime())


@functools.cache
def _menu_facts_statement():
    return (
        select(UserRole.role, _organizes().label("organizes"), UserSession.created_at)
        .select_from(User)
        .join(UserSession, UserSession.user_id == User.id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(*_is_open_session())
    )


def end_session(session: Session, user: User, *, now: datetime) -> None:
    """Sign out this browser: its session and remember-me cookie stop working, even if copied."""
    if user.session_key is None:
        return
    session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.key_hash == _hash_secret(user.session_key),
            UserSession.ended_at.is_(None),
        )
        .values(ended_at=now)
    )


def end_all_sessions(session: Session, user: User, *, now: datetime) -> int:
    """Sign out everywhere: every open session of this member ends. Returns how many there were."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return result.rowcount


def open_session_count(session: Session, user: User, *, now: datetime) -> int:
    return session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.ended_at.is_(None),
            UserSession.created_at > now - session_lifetime(),
        )
    )


# --- Profile and roles ---------------------------------------------------------------------------


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def update_profile(
    session: Session,
    user: User,
    *,
    display_name: str,
    institution: str | None,
    pronouns: str | None,
) -> User:
    """Save the member's name and optional details (the form has checked lengths and characters)."""
    display_name = (display_name or "").strip()
    if not display_name:
        raise ValueError("a display name is required")
    user.display_name = display_name
    user.institution = _optional(institution)
    user.pronouns = _optional(pronouns)
    session.flush()
    return user


def grant_role(session: Session, email: str, role: Role, *, now: datetime) -> bool:
    """Give `role` to the account for `email`, making the account if needed; False if it had it."""
    if problem := email_problem(email):
        raise ValueError(problem)
    user, _ = _get_or_create_user(session, email, now=now)
    if user.has_role(role):
        return False
    user.roles.append(UserRole(role=role, created_at=now))
    session.flush()
    return True


def revoke_role(session: Session, email: str, role: Role) -> bool:
    """Take `role` away from the account for `email`; False if it did not have it."""
    user = find_user(session, email)
    if user is None:
        return False
    granted = next((r for r in user.roles if r.role == role), None)
    if granted is None:
        return False
    user.roles.remove(granted)
    session.flush()
    return True
