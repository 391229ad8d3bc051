"""The signed link in every mail to a follower that unfollows the group without signing in."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from webapp.urls import absolute_url


def _serializer() -> URLSafeSerializer:
    # No expiry: an unsubscribe link in an old mail must still work (RFC 8058 asks for it), and
    # all it can do is stop mail to this member about this group.
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unfollow-group")


def unsubscribe_token(group_id: int, user_id: int) -> str:
    return _serializer().dumps({"g": group_id, "u": user_id})


def unsubscribe_url(group_id: int, user_id: int) -> str:
    return absolute_url("follows.unsubscribe", token=unsubscribe_token(group_id, user_id))


def digest_unsubscribe_url(user_id: int) -> str:
    """A digest is about several groups: its one-click link stops the digests (the member's choice
    becomes "no mail") and leaves the groups followed."""
    return absolute_url("follows.unsubscribe", token=_serializer().dumps({"g": None, "u": user_id}))


def read_unsubscribe_token(token: str) -> tuple[int | None, int] | None:
    """(group id, user id), the group None for a digest's link; None for a forged or mangled token."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    group_id = data.get("g")
    if group_id is not None and not isinstance(group_id, int):
        return None
    return group_id, data["u"]
