"""How often one organizer may message an event's attendees (each message mails all of them).

The same approach as accounts/throttle.py: Flask-Limiter's counters, asked by the view before it
sends, so a refusal re-renders the form (with what was typed) and a kind message.
EVENT_MESSAGE_LIMIT_PER_SENDER, e.g. "5 per hour".
"""

from __future__ import annotations

import logging

from flask import current_app
from limits import parse

log = logging.getLogger(__name__)
DEFAULT_LIMIT = "5 per hour"


def message_refused(user_id: int) -> bool:
    """Count one more message from this organizer; True when they have sent too many lately."""
    from webapp import limiter

    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    limit = parse(current_app.config.get("EVENT_MESSAGE_LIMIT_PER_SENDER") or DEFAULT_LIMIT)
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    try:
        return not limiter.limiter.hit(limit, prefix, "event-message", str(user_id))
    except Exception:  # the counters' storage is down: an organizer's message matters more
        log.warning("event message rate limit storage unavailable; allowing the message", exc_info=True)
        return False
