"""What views check before they call a service: who the member is, whether they organize the group
or are program staff, and whether they are over a rate limit.

Services never read request globals; views ask here and pass the member on as the actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from webapp.accounts.models import Role
from webapp.db import db
from webapp.events.services import get_event_by_slug
from webapp.groups.services import get_group_by_slug, is_group_organizer
from webapp.refusals import Refusal
from webapp.throttle import over_limit


def current_member():
    """The signed-in member itself (not Flask-Login's proxy): what services take as their actor."""
    return current_user._get_current_object()


# --- program staff -------------------------------------------------------------------------------

def is_staff(user) -> bool:
    """Program staff: the staff role, or admin (an admin may do whatever staff may)."""
    return bool(getattr(user, "is_authenticated", False)) and (
        user.has_role(Role.STAFF) or user.has_role(Role.ADMIN))


def require_staff(*, sign_in_first: bool = True) -> None:
    """Staff pages. Members who are not staff get the same 404 as a typo: nobody else learns what the
    page holds. Signed out, a page (GET) asks to sign in first; with `sign_in_first=False` (the
    outbox) it is a 404 too, so the page's very existence stays unknown."""
    if not current_user.is_authenticated:
        if sign_in_first and request.method == "GET":
            abort(redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?"))))
        abort(404)
    if not is_staff(current_user):
        abort(404)


# --- organizers ----------------------------------------------------------------------------------

def require_organizer(group) -> None:
    """Signed out: sign in first (a page) or 403 (a form post). Signed in but not theirs: 403."""
    if not current_user.is_authenticated:
        if request.method == "GET":
            abort(redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?"))))
        abort(403)
    if not is_group_organizer(current_user, group):
        abort(403)


def _organizers_only(find, group_of, *, staff_may_look: bool = False):
    def decorate(view):
        @wraps(view)
        def guarded(slug: str, **kwargs):
            found = find(slug)
            if found is None:
                abort(404)
            if not (staff_may_look and request.method == "GET" and is_staff(current_user)):
                require_organizer(group_of(found))
            return view(found, slug=slug, **kwargs)

        return guarded

    return decorate


# Views for one group's organizers (and admins): the group or event of the URL's slug comes first
# (drafts included: they are the organizers' own), 404 when there is none, sign in or 403 otherwise.
group_organizers_only = _organizers_only(lambda slug: get_group_by_slug(db.session, slug), lambda group: group)
# Program staff may also read such a page (GET), to reach the people who run the group; changing
# anything stays the organizers' (the view shows staff no buttons).
group_organizers_or_staff_looking = _organizers_only(lambda slug: get_group_by_slug(db.session, slug),
                                                     lambda group: group, staff_may_look=True)
event_organizers_only = _organizers_only(lambda slug: get_event_by_slug(db.session, slug, include_drafts=True),
                                         lambda event: event.group)


# --- rate limits -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    """A cap on an action that sends mail: its config setting ("5 per hour"), its counters' scope,
    and what a member over it is told."""

    setting: str
    scope: str
    message: str


REGISTRATION_CHANGES = Limit(
    "REGISTRATION_LIMIT_PER_MEMBER", "registration",
    "You’ve changed your registrations many times in a short while. Please wait a few minutes and try again.")
EVENT_MESSAGES = Limit(
    "EVENT_MESSAGE_LIMIT_PER_SENDER", "event-message",
    "You’ve sent several messages in the last hour. To keep everyone’s inbox calm, please wait a while "
    "before sending another. Your message is still here; nothing was sent.")
FOLLOWER_MESSAGES = Limit(
    "FOLLOWER_MESSAGE_LIMIT_PER_SENDER", "follower-message",
    "You’ve written to followers several times today. To keep their inboxes calm, please wait "
    "before sending another. Your message is still here; nothing was sent.")
GROUP_INVITATIONS = Limit(
    "GROUP_INVITE_LIMIT", "group-invitation",
    "You’ve sent several invitations in a short time. Nothing was sent this time; "
    "please wait a little while and try again.")
PROPOSAL_SUBMISSIONS = Limit(
    "PROPOSAL_SUBMIT_LIMIT", "proposal-submit",
    "You’ve sent several proposals in a short time. Please try again in a little while.")
# Sign-in links have their own pair of limits (per client, per address): accounts/throttle.py.


def check_limit(limit: Limit, key, *, count: bool = True) -> None:
    """Refuse (a 429 Refusal with the limit's message) when `key` is over `limit`; else count one more.

    Views call it before the service runs, so a refused action writes and sends nothing. With
    `count=False` it only looks: the caller counts with `count_towards` once the action went through
    (an action the service refuses sends nothing, so it uses up nothing).
    """
    if over_limit(limit.setting, limit.scope, key, peek=not count):
        raise Refusal(limit.message, 429)


def count_towards(limit: Limit, key) -> None:
    """Count an action that `check_limit(..., count=False)` let through.

    Two at the same moment may both have been let through; the next one is refused.
    """
    over_limit(limit.setting, limit.scope, key)
