"""The groups blueprint: the directory and each group's page."""

from __future__ import annotations

from flask import Blueprint, abort

from webapp.db import db, utcnow
from webapp.events.services import group_events
from webapp.groups import services
from webapp.rendering import render

bp = Blueprint("groups", __name__)


@bp.get("/groups")
def index():
    return render("groups/index.html", listings=services.list_groups(db.session, now=utcnow()))


@bp.get("/groups/<slug>")
def detail(slug: str):
    group = services.get_group_by_slug(db.session, slug)
    if group is None:
        abort(404)
    now = utcnow()
    return render(
        "groups/detail.html",
        group=group,
        upcoming=group_events(db.session, group, now=now, past=False),
        past=group_events(db.session, group, now=now, past=True),
    )
