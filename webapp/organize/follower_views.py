"""The organize blueprint's "Write to followers" page: a dormant group's organizers tell its followers
it is meeting again (webapp.organize.messaging.send_to_followers), through the same limits and
double-submit protection as messages to attendees."""

from __future__ import annotations

import re
import uuid

from flask import abort, request, url_for

from webapp.db import db, utcnow
from webapp.groups.models import Group
from webapp.groups.services import get_group_by_slug
from webapp.guards import FOLLOWER_MESSAGES, check_limit, count_towards, current_member, group_organizers_only
from webapp.organize.attendee_forms import FollowersMessageForm
from webapp.organize.blueprint import bp
from webapp.organize.messaging import (
    followers_message_problem,
    group_messages,
    message_sent_before,
    nobody_to_write_to,
    readers_of,
    send_to_followers,
)
from webapp.organize.models import GroupMessage
from webapp.organize.services import OrganizeError
from webapp.refusals import Refusal, place_on_form
from webapp.rendering import form_status, go_to, render
from webapp.rendering import no_store as _private

_CLIENT_KEY = re.compile(r"[0-9a-f]{32}")


def _page(group: Group, form: FollowersMessageForm, *, status: int = 200, notice: str | None = None,
          sent: GroupMessage | None = None):
    """The page; for htmx, the form block alone (with a 200, so htmx swaps in the messages)."""
    me = current_member()
    readers = readers_of(db.session, group.id, me.id)
    return _private(render(
        "organize/write_to_followers.html", "followers_message_form", status=form_status(status), group=group,
        form=form, readers=len(readers), problem=followers_message_problem(db.session, group, utcnow()),
        nobody=None if readers else nobody_to_write_to(db.session, group, me.id),
        messages=group_messages(db.session, group.id), notice=notice, sent=sent))


def _blank_form() -> FollowersMessageForm:
    form = FollowersMessageForm(formdata=None)
    form.client_key.data = uuid.uuid4().hex
    return form


@bp.route("/groups/<slug>/followers/message", methods=["GET", "POST"])
@group_organizers_only
def write_to_followers(group: Group, slug: str):
    if request.method == "GET":
        sent_id = request.args.get("sent", "")
        sent = db.session.get(GroupMessage, int(sent_id)) if sent_id.isdigit() and len(sent_id) < 10 else None
        return _page(group, _blank_form(), sent=sent if sent and sent.group_id == group.id else None)
    form = FollowersMessageForm()
    if not _CLIENT_KEY.fullmatch(form.client_key.data or ""):
        abort(400)
    if not form.validate():
        return _page(group, form, status=422)
    me = current_member()
    again = message_sent_before(db.session, GroupMessage, form.client_key.data, group_id=group.id) is not None
    try:
        if not again:  # sending the same message again sends nothing, so it is not counted
            check_limit(FOLLOWER_MESSAGES, me.id, count=False)
    except Refusal as refusal:
        return _page(group, form, status=refusal.status, notice=refusal.message)
    try:
        result = send_to_followers(db.session, group.id, sender=me, subject=form.subject.data, body=form.body.data,
                                   client_key=form.client_key.data, now=utcnow())
    except OrganizeError as error:
        db.session.rollback()
        return _page(get_group_by_slug(db.session, slug), form, status=error.status,
                     notice=place_on_form(form, error))
    db.session.commit()
    if result.created:
        # Counted once it went out: a refused message (nobody to send to, an event coming) uses up nothing.
        count_towards(FOLLOWER_MESSAGES, me.id)
    return go_to(url_for("organize.write_to_followers", slug=slug, sent=result.message.id, _anchor="sent"))
