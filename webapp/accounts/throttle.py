"""How many sign-in links one address, and one client, may ask for: Flask-Limiter's counters.

The view asks before it sends, so a refusal re-renders the form with a kind message instead of
an error page. Limits come from the app config (SIGN_IN_LIMIT_PER_ADDRESS, _PER_CLIENT), e.g.
"3 per 15 minutes". Counters live in Redis when REDIS_URL is set, in memory otherwise.
"""

from __future__ import annotations

import logging

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import parse

log = logging.getLogger(__name__)


def sign_in_link_refused(email: str) -> str | None:
    """Count one more link for this client and this address.

    Returns None when the link may be sent, else which limit was reached: "client" or "address".
    """
    from webapp import limiter

    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return None
    per_client = parse(current_app.config["SIGN_IN_LIMIT_PER_CLIENT"])
    per_address = parse(current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"])
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    try:
        strategy = limiter.limiter
        # The client first: someone over their own limit must not use up a stranger's address.
        if not strategy.hit(per_client, prefix, "sign-in-client", get_remote_address()):
            return "client"
        if not strategy.hit(per_address, prefix, "sign-in-address", email):
            return "address"
    except Exception:  # the counters' storage is down: letting members sign in matters more
        log.warning("sign-in rate limit storage unavailable; allowing the request", exc_info=True)
    return None
