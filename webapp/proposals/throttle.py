"""How often one member may send a proposal to the reviewers (each sending mails every reviewer).

The same approach as accounts/throttle.py: Flask-Limiter's counters, asked by the view before it
acts, so a refusal re-renders the form with a kind message. PROPOSAL_SUBMIT_LIMIT, e.g. "5 per hour".
"""

from __future__ import annotations

import logging

from flask import current_app
from limits import parse

log = logging.getLogger(__name__)
DEFAULT_LIMIT = "6 per hour"


def submission_refused(user_id: int) -> bool:
    """Count one more submission for this member; True when they have sent too many lately."""
    from webapp import limiter

    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return False
    limit = parse(current_app.config.get("PROPOSAL_SUBMIT_LIMIT") or DEFAULT_LIMIT)
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "")
    try:
        return not limiter.limiter.hit(limit, prefix, "proposal-submit", str(user_id))
    except Exception:  # the counters' storage is down: a proposal reaching the reviewers matters more
        log.warning("proposal rate limit storage unavailable; allowing the submission", exc_info=True)
        return False
