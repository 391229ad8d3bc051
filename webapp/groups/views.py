"""The groups blueprint: the directory, each group's page, and its organizers running that page."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, request, url_for
from flask_login import current_user
from sqlalchemy import select

from webapp import pagecache
from webapp.accounts.models import normalize_email
from webapp.db import db, utcnow
from webapp.events.services import group_events
from webapp.groups import invitations, services
from webapp.groups.forms import GroupPageForm, InviteForm
from webapp.groups.invitations import INVITATION_DAYS
from webapp.groups.models import Group, GroupOrganizer
from webapp.groups.services import GroupError, is_group_organizer
from webapp.guards import (
    GROUP_INVITATIONS,
    check_limit,
    count_towards,
    current_member,
    group_organizers_only,
    group_organizers_or_staff_looking,
)
from webapp.refusals import Refusal, place_on_form
from webapp.rendering import form_status as _status
from webapp.rendering import go_to as _go_to
from webapp.rendering import no_store as _private
from webapp.rendering import render

bp = Blueprint("groups", __name__)
log = logging.getLogger(__name__)

DETAIL_NOTICES = {
    "saved": "The group page is saved.",
    "left": "You’ve left the group’s organizers.",
}
ORGANIZER_NOTICES = {
    "invited": "The invitation is on its way. It shows below until they accept it.",
    "withdrawn": "The invitation is withdrawn: its link no longer works.",
    "removed": "Removed from the group’s organizers.",
}


@bp.get("/groups")
def index():
    return render("groups/index.html", listings=services.list_groups(db.session, now=utcnow()))


@bp.get("/groups/<slug>")
def detail(slug: str):
    group = services.get_group_by_slug(db.session, slug)
    if group is None:
        abort(404)
    now = utcnow()
    notice = DETAIL_NOTICES.get(request.args.get("done", "")) if current_user.is_authenticated else None
    return render(
        "groups/detail.html",
        group=group,
        upcoming=group_events(db.session, group, now=now, past=False),
        past=group_events(db.session, group, now=now, past=True),
        notice=notice,
        organizing=False if pagecache.in_skeleton() else _organizing(group),
    )


GROUP_PARTS = ("group_actions", "group_follow", "group_event_actions")


@pagecache.personal_parts(*GROUP_PARTS)
def _group_parts(slug: str):
    """A member's own parts of a group page (the rest comes from the page cache's shared copy)."""
    group = services.get_group_by_slug(db.session, slug, with_organizers=False)
    if group is None:
        return None
    return pagecache.render_parts("groups/detail.html", GROUP_PARTS, group=group, organizing=_organizing(group))


def _organizing(group: Group) -> bool:
    """Whether the member sees the group's organizer buttons and follower list (asked once a page)."""
    return current_user.is_authenticated and is_group_organizer(current_user, group)


# --- Organizers' pages -------------------------------------------------------------------------------


def _is_me(organizer: GroupOrganizer) -> bool:
    return organizer.user_id == current_user.id or (
        bool(organizer.email) and normalize_email(organizer.email) == current_user.email)


@bp.route("/groups/<slug>/edit", methods=["GET", "POST"])
@group_organizers_only
def edit(group: Group, slug: str):
    if request.method == "GET":
        form = GroupPageForm(formdata=None, data=dict(description=group.description,
                                                      external_url=group.external_url or ""))
        return _private(render("groups/edit.html", form=form, group=group))
    form = GroupPageForm()
    if not form.validate():
        return _private(render("groups/edit.html", "group_form", form=form, group=group, status=_status(422)))
    services.update_group_page(db.session, group.id, description=form.description.data or "",
                               external_url=form.external_url.data or None, actor=current_member(), now=utcnow())
    db.session.commit()
    return _go_to(url_for("groups.detail", slug=slug, done="saved"))


def _organizers_page(group: Group, form: InviteForm, *, status: int = 200, notice: str | None = None,
                     problem: str | None = None, invite_problem: str | None = None, block: str | None = None,
                     may_manage: bool = True):
    """The whole page, or (for htmx) one block of it: the invitation form posted gets itself back.

    Program staff who do not organize the group read it without its buttons (`may_manage`)."""
    return _private(render(
        "groups/organizers.html", block, status=status, may_manage=may_manage,
        group=group, form=form, notice=notice, problem=problem, invite_problem=invite_problem,
        organizers=services.organizers_of(db.session, group.id),
        invitations=invitations.open_invitations(db.session, group.id), now=utcnow(), is_me=_is_me,
        days=INVITATION_DAYS,
    ))


@bp.route("/groups/<slug>/organizers", methods=["GET", "POST"])
@group_organizers_or_staff_looking
def organizers(group: Group, slug: str):
    """The group's organizers and open invitations; posting the form invites a co-organizer.

    Program staff may read it (to reach the organizers); posting stays the organizers' own."""
    if request.method == "GET":
        return _organizers_page(group, InviteForm(formdata=None), may_manage=is_group_organizer(current_user, group),
                                notice=ORGANIZER_NOTICES.get(request.args.get("done", "")))
    form = InviteForm()
    if not form.validate():
        return _organizers_page(group, form, status=_status(422), block="invite_form")
    me = current_member()
    try:
        # Over the limit, nothing is written or sent. Counted only once an invitation goes out: one the
        # service refuses (a duplicate) sends nothing.
        check_limit(GROUP_INVITATIONS, me.id, count=False)
        invitations.invite_organizer(db.session, group.id, name=form.name.data, email=form.email.data,
                                     actor=me, now=utcnow())
    except Refusal as error:
        db.session.rollback()
        return _organizers_page(services.get_group_by_slug(db.session, slug), form, status=_status(error.status),
                                invite_problem=place_on_form(form, error), block="invite_form")
    count_towards(GROUP_INVITATIONS, me.id)
    db.session.commit()
    return _go_to(url_for("groups.organizers", slug=slug, done="invited"))


@bp.post("/groups/<slug>/invitations/<int:invitation_id>/withdraw")
@group_organizers_only
def withdraw_invitation(group: Group, slug: str, invitation_id: int):
    try:
        invitations.withdraw_invitation(db.session, group.id, invitation_id, actor=current_member(), now=utcnow())
    except GroupError as error:
        db.session.rollback()
        if error.status == 404:
            abort(404)
        return _organizers_page(services.get_group_by_slug(db.session, slug), InviteForm(formdata=None),
                                status=error.status, problem=error.message)
    db.session.commit()
    return _go_to(url_for("groups.organizers", slug=slug, done="withdrawn"))


@bp.route("/groups/<slug>/organizers/<int:organizer_id>/remove", methods=["GET", "POST"])
@group_organizers_only
def remove_organizer(group: Group, slug: str, organizer_id: int):
    """Ask first (a page), then remove on the posted confirmation; for one's own row this is leaving."""
    organizer = db.first_or_404(
        select(GroupOrganizer).where(GroupOrganizer.id == organizer_id, GroupOrganizer.group_id == group.id))
    leaving = _is_me(organizer)
    problem = None
    status = 200
    if request.method == "POST":
        try:
            services.remove_organizer(db.session, group.id, organizer.id, actor=current_member(), now=utcnow())
        except GroupError as error:
            db.session.rollback()
            if error.status in (403, 404):
                abort(error.status)
            group = services.get_group_by_slug(db.session, slug)
            organizer = db.session.get(GroupOrganizer, organizer_id)
            problem, status = error.message, _status(error.status)
        else:
            db.session.commit()
            if leaving and not is_group_organizer(current_user, group):
                return _go_to(url_for("groups.detail", slug=slug, done="left"))
            return _go_to(url_for("groups.organizers", slug=slug, done="removed"))
    return _private(render("groups/remove_organizer.html", "remove_form", status=status, group=group,
                           organizer=organizer, leaving=leaving, problem=problem))
