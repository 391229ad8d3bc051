"""Caps on actions that send mail, counted with Flask-Limiter's counters.

Views ask before they act, so a refusal re-renders the form with what was typed and a kind message
instead of an error page. Each limit is a config setting in Flask-Limiter's syntax ("5 per hour");
the counters live in Redis when REDIS_URL is set, in memory otherwise.

While Redis is down the limits still hold, less precisely: a caller that can count what was done
in the database (sign-in links per address) counts there, which every process shares; the others
count per process in memory until Redis answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from webapp.db import utcnow
from webapp.extensions import limiter

log = logging.getLogger(__name__)


def over_limit(setting: str, scope: str, key, *,
               count_since: Callable[[datetime], int] | None = None, peek: bool = False) -> bool:
    """Count one more action by `key` against the limit named by `setting`; True when past it.

    `count_since(moment)`, if given, counts the actions already done since `moment` from the
    database: the limit's fallback while the shared counters cannot be reached. With `peek`, only
    ask whether one more would be past the limit, counting nothing.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    limit = parse(current_app.config[setting])
    ask = (limit, current_app.config.get("RATELIMIT_KEY_PREFIX", ""), scope, str(key))
    try:
        return not (limiter.limiter.test(*ask) if peek else limiter.limiter.hit(*ask))
    except Exception:  # the counters' storage is down: count another way rather than not at all
        log.warning("rate limit storage unavailable for %s; counting without it", scope, exc_info=True)
    if count_since is not None:
        return count_since(utcnow() - timedelta(seconds=limit.get_expiry())) >= limit.amount
    counters = _process_counters()
    return not (counters.test(*ask) if peek else counters.hit(*ask))


def _process_counters() -> FixedWindowRateLimiter:
    """This process's own counters, used only while the shared ones are unreachable."""
    if "fallback_rate_limiter" not in current_app.extensions:
        current_app.extensions["fallback_rate_limiter"] = FixedWindowRateLimiter(MemoryStorage())
    return current_app.extensions["fallback_rate_limiter"]
