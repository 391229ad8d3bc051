"""The events blueprint: the searchable list and each event's page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request, url_for
from flask_login import current_user

from webapp import pagecache
from webapp.db import db, utcnow
from webapp.display import site_zone
from webapp.events import presentation, services
from webapp.events.calendar import calendar_links, event_ics, event_url
from webapp.events.models import Event, EventStatus
from webapp.groups.services import group_choices, is_group_organizer
from webapp.registrations.panel import panel_context
from webapp.rendering import no_store, render, wants_fragment
from webapp.urls import absolute_url

bp = Blueprint("events", __name__)

# Event cards are drawn on many pages (home, events, groups) and the group page's preview names
# its next event, so these helpers are there for every template, not only this blueprint's.
for helper in (presentation.short_place, presentation.full_place, presentation.address_after_venue,
               presentation.map_search_url, presentation.event_preview, presentation.group_preview,
               calendar_links, event_url, absolute_url):
    bp.add_app_template_global(helper)


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


DONE_MESSAGES = {"published": "Published. Members can now find this event and register."}


def event_page(event: Event, *, status: int = 200, publish_error: str | None = None, error: str | None = None,
               **extra):
    """The event's page; a draft's is its organizers' preview, kept by no cache.
    `extra`: what another part of the page shows after a form of its own (a slot claim's error)."""
    done = request.args.get("done")
    notice = DONE_MESSAGES.get(done) if done and is_group_organizer(current_user, event.group) else None
    response = render("events/detail.html", status=status, notice=notice, publish_error=publish_error,
                      **panel_context(event, now=utcnow(), error=error), **extra)
    return no_store(response) if event.status == EventStatus.DRAFT else response


EVENT_PARTS = ("event_actions", "registration_panel", "event_follow", "slots_section")


@pagecache.personal_parts(*EVENT_PARTS)
def _event_parts(slug: str):
    """A member's own parts of an event page (the rest comes from the page cache's shared copy)."""
    event = services.get_event_by_slug(db.session, slug, include_drafts=True)
    if event is None:
        return None
    return pagecache.render_parts("events/detail.html", EVENT_PARTS, notice=None, publish_error=None,
                                  **panel_context(event, now=utcnow()))


@bp.get("/events/<slug>")
def detail(slug: str):
    event = services.get_event_by_slug(db.session, slug, include_drafts=True)
    # A draft is its organizers' alone: to everyone else it does not exist.
    if event is None or (event.status == EventStatus.DRAFT and not is_group_organizer(current_user, event.group)):
        abort(404)
    return event_page(event)


@bp.get("/events/<slug>/calendar.ics")
def calendar_file(slug: str):
    """The public calendar entry: it never carries the private meeting link."""
    event = services.get_event_by_slug(db.session, slug)
    if event is None:
        abort(404)
    response = current_app.response_class(event_ics(event), mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}.ics"'
    return response
