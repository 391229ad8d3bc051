"""The feeds blueprint: iCalendar subscriptions and Atom feeds, per group and for the whole site,
and each member's private calendar (its secret address, and resetting it).

Calendar clients poll these every few minutes: each request first asks `feed_state` (one aggregate
query) and answers 304 when the client's copy is current, before any event is loaded or rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import login_required
from sqlalchemy import select
from werkzeug.http import is_resource_modified

from webapp.db import db, utcnow
from webapp.display import site_zone
from webapp.events.calendar import feed_ics
from webapp.feeds import atom, links, private, schema_org
from webapp.feeds.services import FeedState, feed_events, feed_state, upcoming_feed_events
from webapp.groups.models import Group
from webapp.guards import current_member
from webapp.rendering import no_store, render, wants_fragment

bp = Blueprint("feeds", __name__)

# The group page and the events page draw the Subscribe box and the <head> feed links;
# the event page carries its schema.org data.
for helper in (links.subscribe_links, links.calendar_feed_url, links.atom_feed_url, schema_org.event_json_ld):
    bp.add_app_template_global(helper)

SITE_NAME = "METRO Meetups"
CALENDAR_TYPE = "text/calendar"
ATOM_TYPE = "application/atom+xml"


def _group_or_404(slug: str) -> Group:
    # The group row alone (not its organizers): a poll answered 304 stays at two small queries.
    group = db.session.scalar(select(Group).where(Group.slug == slug))
    if group is None:
        abort(404)
    return group


def answer_feed(state: FeedState, mimetype: str, body: Callable[[], str]):
    """304 when the client's ETag or date is current; else the feed, rendered only now (the series feed too)."""
    fresh = not is_resource_modified(request.environ, etag=state.etag, last_modified=state.last_modified)
    response = current_app.response_class(status=304 if fresh else 200, mimetype=mimetype)
    if not fresh:
        response.set_data(body())
    response.set_etag(state.etag)
    response.last_modified = state.last_modified
    # Any cache must ask again each time: the 304 costs one query, a stale feed costs a missed change.
    response.headers["Cache-Control"] = "no-cache"
    return response


def calendar_response(group: Group | None, now: datetime):
    state = feed_state(db.session, group, now=now, kind="ics")
    name = f"{group.name} · {SITE_NAME}" if group else SITE_NAME
    return answer_feed(state, CALENDAR_TYPE,
                   lambda: feed_ics(feed_events(db.session, group, now=now), name=name, zone=site_zone()))


def atom_response(group: Group | None, now: datetime):
    state = feed_state(db.session, group, now=now, kind="atom", upcoming_only=True)
    return answer_feed(state, ATOM_TYPE, lambda: atom.events_feed(
        upcoming_feed_events(db.session, group, now=now), group=group, updated=state.last_modified))


@bp.get("/calendar.ics")
def site_calendar():
    return calendar_response(None, utcnow())


@bp.get("/groups/<slug>/calendar.ics")
def group_calendar(slug: str):
    return calendar_response(_group_or_404(slug), utcnow())


@bp.get("/events.atom")
def site_atom():
    return atom_response(None, utcnow())


@bp.get("/groups/<slug>/events.atom")
def group_atom(slug: str):
    return atom_response(_group_or_404(slug), utcnow())


# --- A member's private calendar -------------------------------------------------------------------


@bp.get("/my/calendar/<secret>.ics")
def private_calendar(secret: str):
    """The member's own feed. Calendar apps send no cookie: the secret in the address is the proof."""
    member_id = private.member_id_for_secret(db.session, secret)
    if member_id is None:
        abort(404)  # wrong, old or malformed: the same answer as for an address that never existed
    feed = private.private_feed(db.session, member_id, now=utcnow())
    response = answer_feed(feed.state, CALENDAR_TYPE, lambda: private.private_feed_ics(feed))
    # One member's: a shared cache must not keep it (the page cache never does: not in its endpoints),
    # and a search engine must not list an address someone pasted in public.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.post("/account/calendar/reset")
@login_required
def reset_private_calendar():
    member = current_member()
    now = utcnow()
    private.reset_private_calendar(db.session, member, now=now)
    db.session.commit()
    if not wants_fragment():
        return redirect(url_for("accounts.account", calendar="reset") + "#private-calendar", code=303)
    return no_store(render("feeds/private_calendar.html", "private_calendar", reset_done=True,
                           private_calendar=private.private_calendar_links(db.session, member, now=now)))
