"""Follow and unfollow a group (its page and its events' pages), the account page's mail choice,
and the unsubscribe link every mail to a follower carries."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, make_response, redirect, request, url_for
from flask_login import current_user, login_required

from webapp.accounts.services import safe_next_url
from webapp.db import db, utcnow
from webapp.extensions import csrf
from webapp.follows import services
from webapp.follows.models import FOLLOW_MAIL_LABELS, FollowMail
from webapp.follows.tokens import read_unsubscribe_token
from webapp.groups.models import Group
from webapp.groups.services import get_group_by_slug
from webapp.guards import current_member, is_group_organizer
from webapp.rendering import form_status, go_to, no_store, render, wants_fragment

bp = Blueprint("follows", __name__)

ID_MAX = 2**31 - 1  # an id column's range: a larger id in a token or an intent finds nothing


@dataclass(frozen=True)
class FollowState:
    """What the Follow button shows for one group and the member looking at it."""

    group: Group
    following: bool
    count: int
    # The page the button is on, where a form post without JavaScript comes back to.
    back_to: str


def follow_state(group: Group, back_to: str | None = None) -> FollowState:
    user_id = current_user.id if current_user.is_authenticated else None
    count, following = services.follow_counts(db.session, group.id, user_id)
    return FollowState(group=group, following=following, count=count,
                       back_to=safe_next_url(back_to) or url_for("groups.detail", slug=group.slug))


@bp.app_context_processor
def _follow_helpers():
    """For the group and event pages and the account page, which follows adds to without their
    views knowing about it."""
    def group_followers(group, organizing=None):
        # The follower list is for the group's organizers only: everyone else gets none.
        if organizing is None:
            organizing = is_group_organizer(current_user, group)
        return services.followers_of(db.session, group.id) if organizing else None

    def follow_mail_choice():
        return services.follow_mail_choice(db.session, current_user.id)

    return dict(follow_state=lambda group: follow_state(group, request.path), group_followers=group_followers,
                follow_mail_choice=follow_mail_choice, follow_mail_labels=FOLLOW_MAIL_LABELS)


def _group_or_404(slug: str) -> Group:
    group = get_group_by_slug(db.session, slug)
    if group is None:
        abort(404)
    return group


def _answer(group: Group, *, status: int = 200):
    """htmx: the button swapped in place; without JavaScript: back to the page it was on."""
    back_to = request.form.get("next")
    if wants_fragment():
        return no_store(render("follows/button.html", "follow_button", follow=follow_state(group, back_to),
                               status=status))
    return redirect(safe_next_url(back_to) or url_for("groups.detail", slug=group.slug), code=303)


@bp.post("/groups/<slug>/follow")
def follow(slug: str):
    group = _group_or_404(slug)
    if not current_user.is_authenticated:
        # Signed out: sign in first; the link's request keeps "follow this group" and does it.
        back_to = safe_next_url(request.form.get("next")) or url_for("groups.detail", slug=slug)
        return go_to(url_for("accounts.sign_in", next=back_to, intent=f"follow:{group.id}"))
    services.follow_group(db.session, group.id, member=current_member(), now=utcnow())
    db.session.commit()
    return _answer(group)


@bp.post("/groups/<slug>/unfollow")
@login_required
def unfollow(slug: str):
    group = _group_or_404(slug)
    services.unfollow_group(db.session, group.id, current_user.id)
    db.session.commit()
    return _answer(group)


# --- the sign-in intent: Follow pressed while signed out ------------------------------------------

def _intent_group(argument: str) -> Group | None:
    if not (argument.isascii() and argument.isdigit() and 0 < int(argument or "0") <= ID_MAX):
        return None
    return db.session.get(Group, int(argument))


def follow_after_sign_in(member, argument: str, *, now, note: str | None = None) -> None:
    """Follow pressed while signed out: done once the emailed sign-in link is used."""
    group = _intent_group(argument)
    if group is not None:
        services.follow_group(db.session, group.id, member=member, now=now)


def describe_follow_intent(argument: str) -> str | None:
    group = _intent_group(argument)
    return f"follow {group.name}" if group is not None else None


# --- the account page's choice -----------------------------------------------------------------------

@bp.post("/account/follow-mail")
@login_required
def choose_mail():
    choice = services.parse_follow_mail(request.form.get("follow_mail"))
    if choice is None:
        return no_store(render("follows/mail_choice.html", "follow_mail_form", status=form_status(422),
                               chosen=None, error="Please choose one of the four."))
    services.set_follow_mail_choice(db.session, current_member(), choice, now=utcnow())
    db.session.commit()
    if not wants_fragment():
        return redirect(url_for("accounts.account", done="follow-mail") + "#follow-mail-form", code=303)
    return no_store(render("follows/mail_choice.html", "follow_mail_form", chosen=choice, saved=True))


# --- unsubscribing from a mail -----------------------------------------------------------------------

def _unsubscribe_target(token: str) -> tuple[Group | None, int]:
    """The group and member of an unsubscribe link; no group for a digest's link."""
    found = read_unsubscribe_token(token)
    if found is None or not all(0 < n <= ID_MAX for n in found if n is not None):
        abort(404)
    group_id, user_id = found
    group = db.session.get(Group, group_id) if group_id is not None else None
    if group_id is not None and group is None:
        abort(404)
    return group, user_id


def _unsubscribe_page(token: str, group: Group | None, user_id: int, *, done: bool = False):
    following = (services.is_following(db.session, group.id, user_id) if group is not None
                 else services.follow_mail_choice(db.session, user_id) != FollowMail.NONE)
    return no_store(render("follows/unsubscribe.html", group=group, token=token, following=following, done=done))


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    # Mail scanners open links to check them: the GET only asks; the button's POST unfollows.
    group, user_id = _unsubscribe_target(token)
    return _unsubscribe_page(token, group, user_id)


# Exempt from CSRF on purpose: the token in the URL is itself the proof (signed, for one member and
# one group), and RFC 8058 mail clients POST "List-Unsubscribe=One-Click" to this URL from the
# inbox, with no page and so no CSRF token. All a forged request could do is stop this one mail.
@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe_confirmed(token: str):
    group, user_id = _unsubscribe_target(token)
    if group is not None:
        services.unfollow_group(db.session, group.id, user_id)
    else:
        services.stop_follow_mail(db.session, user_id, now=utcnow())
    db.session.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        # A mail client's one-click POST: it reads only the status.
        return no_store(make_response("Unsubscribed.", 200, {"Content-Type": "text/plain; charset=utf-8"}))
    return _unsubscribe_page(token, group, user_id, done=True)
