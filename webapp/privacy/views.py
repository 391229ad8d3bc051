"""A member's own data: the "Your data" page and the same as a JSON download."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, current_app, request
from flask_login import current_user, login_required, logout_user

from webapp.db import db, utcnow
from webapp.guards import current_member
from webapp.privacy import deletion
from webapp.privacy.export import member_data
from webapp.rendering import no_store, render
from webapp.throttle import over_limit

bp = Blueprint("privacy", __name__)

# The page's sections, in order, with their headings (the JSON uses the same keys).
SECTIONS = (
    ("profile", "Your profile"), ("registrations", "Your registrations"), ("series", "Series you registered for"),
    ("slot_claims", "Talks and slots you claimed"), ("follows", "Groups you follow"),
    ("proposals", "Your proposals for new groups"), ("named_on_proposals", "Proposals that name you as a co-organizer"),
    ("organizer_of", "Groups you organize"), ("invitations", "Invitations to co-organize"),
    ("messages_sent", "Messages you sent as an organizer"), ("calendar", "Your private calendar"),
    ("signed_in", "Browsers you signed in on"), ("sign_in_links", "Sign-in links we mailed you"),
    ("mails", "Mails we sent you"),
)


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not exportable: {type(value).__name__}")


@bp.get("/account/data")
@login_required
def your_data():
    return no_store(render("privacy/your_data.html", data=member_data(db.session, current_member(), now=utcnow()),
                           sections=SECTIONS))


@bp.get("/account/data.json")
@login_required
def your_data_download():
    data = member_data(db.session, current_member(), now=utcnow())
    response = current_app.response_class(json.dumps(data, default=_plain, ensure_ascii=False, indent=2),
                                          mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="metro-meetups-my-data.json"'
    return no_store(response)


# --- deleting one's account ----------------------------------------------------------------------

TOO_MANY_LINKS = "We mailed you several links already. Please use the newest, or try again in an hour."


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete_account_request():
    """What deleting does, and a button that mails the link that does it (the mailbox decides)."""
    member = current_member()
    blocking = deletion.groups_left_without_organizer(db.session, member)
    if request.method == "GET":
        return no_store(render("privacy/delete_account.html", blocking=blocking))
    if over_limit("ACCOUNT_DELETION_LIMIT", "account-deletion", member.id):
        return no_store(render("privacy/delete_account.html", blocking=blocking, status=429, error=TOO_MANY_LINKS))
    try:
        deletion.request_deletion(db.session, member, now=utcnow())
    except deletion.DeletionRefused as refused:
        db.session.rollback()
        return no_store(render("privacy/delete_account.html", blocking=refused.groups, status=409))
    db.session.commit()
    return no_store(render("privacy/delete_account.html", blocking=[], sent=True))


@bp.route("/account/delete/<token>", methods=["GET", "POST"])
def confirm_deletion(token: str):
    # Mail scanners open links to check them: the GET only asks; the button's POST deletes.
    try:
        member = deletion.member_for_link(db.session, token)
    except deletion.DeletionRefused as refused:
        return no_store(render("privacy/confirm_deletion.html", problem=refused.message, status=410))
    if request.method == "GET":
        return no_store(render("privacy/confirm_deletion.html", email=member.email,
                               blocking=deletion.groups_left_without_organizer(db.session, member)))
    own_browser = current_user.is_authenticated and current_user.id == member.id
    try:
        done = deletion.delete_account(db.session, member, now=utcnow())
    except deletion.DeletionRefused as refused:
        db.session.rollback()
        return no_store(render("privacy/confirm_deletion.html", email=member.email, blocking=refused.groups,
                               status=409))
    db.session.commit()
    if own_browser:
        logout_user()  # its cookie is dead anyway (every session row is gone): forget it here too
    return no_store(render("privacy/confirm_deletion.html", deleted=done))
