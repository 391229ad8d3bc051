"""The events blueprint: the searchable list and each event's page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request, url_for

from webapp.db import db, utcnow
from webapp.display import site_zone
from webapp.events import services
from webapp.events.calendar import event_ics
from webapp.groups.services import group_choices
from webapp.rendering import render, wants_fragment

bp = Blueprint("events", __name__)


@bp.get("/events")
def index():
    filters = services.EventFilters.from_args(request.args)
    page = services.search_events(
        db.session,
        filters,
        now=utcnow(),
        zone=site_zone(),
        page_size=current_app.config["EVENTS_PAGE_SIZE"],
    )
    context = dict(
        filters=filters,
        page=page,
        groups=group_choices(db.session),
        more_url=url_for("events.index", **filters.query_args(page=filters.page + 1)),
    )
    # "Load more" appends the next page's items; a filter change replaces the results.
    if filters.page > 1 and wants_fragment():
        return render("events/index.html", "event_page", **context)
    response = render("events/index.html", "event_results", **context)
    if wants_fragment():
        # The address bar shows the filters without the empty fields a form always sends.
        response.headers["HX-Push-Url"] = url_for("events.index", **filters.query_args())
    return response


@bp.get("/events/<slug>")
def detail(slug: str):
    event = services.get_event_by_slug(db.session, slug)
    if event is None:
        abort(404)
    from webapp.registrations.views import panel_context

    return render("events/detail.html", **panel_context(event, now=utcnow()))


@bp.get("/events/<slug>/calendar.ics")
def calendar_file(slug: str):
    """The public calendar entry: it never carries the private meeting link."""
    event = services.get_event_by_slug(db.session, slug)
    if event is None:
        abort(404)
    response = current_app.response_class(event_ics(event), mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}.ics"'
    return response
