"""Caps on actions that send mail, counted with Flask-Limiter's counters.

Views ask before they act, so a refusal re-renders the form with what was typed and a kind message
instead of an error page. Each limit is a config setting in Flask-Limiter's syntax ("5 per hour");
the counters live in Redis when REDIS_URL is set, in memory otherwise.
"""

from __future__ import annotations

import logging

from flask import current_app
from limits import parse

log = logging.getLogger(__name__)


def over_limit(setting: str, scope: str, key) -> bool:
    """Count one more action by `key` against the limit named by `setting`; True when past it."""
    from webapp import limiter

    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    limit = parse(current_app.config[setting])
    try:
        return not limiter.limiter.hit(limit, current_app.config.get("RATELIMIT_KEY_PREFIX", ""), scope, str(key))
    except Exception:  # the counters' storage is down: the member's action matters more than the cap
        log.warning("rate limit storage unavailable for %s; allowing it", scope, exc_info=True)
        return False
