"""How many sign-in links one address, and one client, may ask for: Flask-Limiter's counters.

The view asks before it sends, so a refusal re-renders the form with a kind message instead of
an error page. Limits come from the app config (SIGN_IN_LIMIT_PER_ADDRESS, _PER_CLIENT), e.g.
"3 per 15 minutes". Counters live in Redis when REDIS_URL is set, in memory otherwise; while
Redis is down, links per address are counted from the sign-in requests in the database.
"""

from __future__ import annotations

from flask_limiter.util import get_remote_address
from sqlalchemy import func, select

from webapp.accounts.models import SignInRequest
from webapp.db import db
from webapp.throttle import over_limit


def sign_in_link_refused(email: str) -> str | None:
    """Count one more link for this client and this address.

    Returns None when the link may be sent, else which limit was reached: "client" or "address".
    """
    # The client first: someone over their own limit must not use up a stranger's address.
    if over_limit("SIGN_IN_LIMIT_PER_CLIENT", "sign-in-client", get_remote_address()):
        return "client"
    if over_limit("SIGN_IN_LIMIT_PER_ADDRESS", "sign-in-address", email,
                  count_since=lambda moment: links_sent_since(email, moment)):
        return "address"
    return None


def links_sent_since(email: str, moment) -> int:
    """Sign-in links mailed to `email` since `moment` (every process sees the same rows)."""
    return db.session.scalar(
        select(func.count()).select_from(SignInRequest)
        .where(SignInRequest.email == email, SignInRequest.created_at >= moment)
    )
