"""Signed, expiring links that let a member manage a registration from a mail, without signing in."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from webapp.registrations.models import Registration

MAX_AGE_SECONDS = 90 * 24 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="manage-registration")


def manage_token(registration: Registration) -> str:
    return _serializer().dumps({"r": registration.id, "u": registration.user_id})


def read_manage_token(token: str) -> tuple[int, int] | None:
    """(registration id, user id), or None for a forged or expired token."""
    try:
        data = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int):
        return None
    return data["r"], data.get("u")
