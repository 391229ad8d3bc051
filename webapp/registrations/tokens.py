"""Signed, expiring links that let a member manage a registration from a mail, without signing in."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from webapp.registrations.models import Registration
from webapp.urls import absolute_url

MAX_AGE_SECONDS = 90 * 24 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="manage-registration")


def manage_token(registration: Registration) -> str:
    # Bound to the generation, like the join link: once this registration is cancelled, its link
    # cannot cancel the member's next registration for the event (a forwarded mail stays harmless).
    return _serializer().dumps(
        {"r": registration.id, "u": registration.user_id, "g": registration.generation}
    )


def read_manage_token(token: str) -> tuple[int, int, int] | None:
    """(registration id, user id, generation), or None for a forged or expired token.

    Links mailed before the generation was in them count as the first generation's.
    """
    try:
        data = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int):
        return None
    generation = data.get("g", 1)
    if not isinstance(generation, int) or not isinstance(data.get("u"), int):
        return None
    return data["r"], data["u"], generation


def _join_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="join-meeting")


def join_token(registration: Registration) -> str:
    # The generation is in the token: cancelling and registering again makes a new link, and the
    # old one (perhaps forwarded) stays dead.
    return _join_serializer().dumps({"r": registration.id, "g": registration.generation})


def join_url(registration: Registration) -> str:
    return absolute_url("reminders.join", token=join_token(registration))


def read_join_token(token: str) -> tuple[int, int] | None:
    try:
        data = _join_serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int) or not isinstance(data.get("g"), int):
        return None
    return data["r"], data["g"]


def _still_coming_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="still-coming")


def still_coming_token(registration: Registration) -> str:
    # Bound to the generation like the manage link: it answers for this registration only.
    return _still_coming_serializer().dumps(
        {"r": registration.id, "u": registration.user_id, "g": registration.generation}
    )


def read_still_coming_token(token: str) -> tuple[int, int, int] | None:
    """(registration id, user id, generation), or None for a forged or expired token."""
    try:
        data = _still_coming_serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("r", "u", "g")):
        return None
    return data["r"], data["u"], data["g"]
