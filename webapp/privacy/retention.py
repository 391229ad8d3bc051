"""How long the site keeps what it knows about members: one table, read by the settings
(webapp/config.py), the sweeps that erase (webapp/privacy/sweeps.py), the privacy page and the
README's table (a test compares them), so none of them can promise what another does not do.

Plain data on purpose: config.py imports it before any model exists.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Retention:
    setting: str       # the environment variable and app setting
    default: int
    unit: str          # "days" or "hours"
    what: str          # what is kept, in a member's words
    counted_from: str  # when the time starts
    afterwards: str    # what is left once it is erased

    def period(self, value: int | None = None) -> str:
        value = self.default if value is None else value
        unit = self.unit[:-1] if value == 1 else self.unit
        return f"{value} {unit}"


RETENTION: tuple[Retention, ...] = (
    Retention(
        "ACCESSIBILITY_NEEDS_RETENTION_DAYS", 30, "days",
        "Accessibility needs given when registering (and a Register for all's copy, kept for the sessions made later)",
        "after the event ends (the series copy: after the series' last session, or after cancelling the series)",
        "only that needs were given, for the organizers' attendance figures",
    ),
    Retention(
        "SIGN_IN_NOTE_HOURS", 24, "hours",
        "Needs and a name typed with Register before signing in",
        "after the sign-in link expired unused (a used link hands them over at once)",
        "nothing",
    ),
    Retention(
        "SIGN_IN_REQUEST_RETENTION_DAYS", 7, "days",
        "Sign-in links mailed: the address, when, and where to go next (the link's secret only as a hash)",
        "after the link was asked for",
        "nothing",
    ),
    Retention(
        "ENDED_SESSION_RETENTION_DAYS", 30, "days",
        "Signed-in browsers: a hash of each browser's key and when it signed in and out",
        "after the session ended (signing out, or SESSION_MAX_DAYS after signing in)",
        "nothing",
    ),
    Retention(
        "JOIN_VISIT_RETENTION_DAYS", 90, "days",
        "Uses of a personal join link: when, and whether it let the member through "
        "(no IP address or browser details are stored)",
        "after the event ends",
        "the organizers' check-in mark, if they made one",
    ),
    Retention(
        "MAIL_BODY_RETENTION_DAYS", 30, "days",
        "The text of each mail the site sent to a member",
        "after it was sent (or dropped, or given up on)",
        "its status row for the outbox page: kind, recipient, subject, times and state",
    ),
    Retention(
        "INVITATION_RETENTION_DAYS", 30, "days",
        "Invitations to co-organize a group that were never accepted: the address and name",
        "after they expired or were withdrawn",
        "nothing (an approved proposal's invitations stay with the proposal)",
    ),
)

BY_SETTING = {rule.setting: rule for rule in RETENTION}
