"""The staff's group health page (/staff/groups) and its CSV export.

One URL serves the page or, for htmx, its `health_rows` block; the filter form and the sort links
are plain GETs, so without JavaScript the whole page comes back in the same state.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request, url_for

from webapp.db import db, utcnow
from webapp.display import local
from webapp.groups.health import SHOW_CHOICES, SORT_COLUMNS, group_health, parse_health_query
from webapp.guards import is_staff, require_staff
from webapp.rendering import no_store, render, wants_fragment
from webapp.spreadsheets import csv_text
from webapp.urls import absolute_url

bp = Blueprint("group_health", __name__)

SEARCH_ID = "health-search"


@bp.app_context_processor
def _is_staff():
    """`is_staff(user)` for the navigation's staff links."""
    return {"is_staff": is_staff}

CSV_HEADER = ["Group", "Group page", "Last event held", "Next event", "Next event title", "Next event page",
              "Organizers", "Organizers page", "Followers", "Events held (12 months)", "Attendance (12 months)",
              "Dormant"]


def _rows(query):
    return group_health(db.session, utcnow(), dormant_months=current_app.config["GROUP_DORMANT_MONTHS"],
                        query=query)


@bp.get("/staff/groups")
def index():
    require_staff()
    query = parse_health_query(request.args)
    response = no_store(render(
        "groups/health.html", "health_rows", rows=_rows(query), query=query, columns=SORT_COLUMNS,
        show_choices=SHOW_CHOICES, dormant_months=current_app.config["GROUP_DORMANT_MONTHS"],
    ))
    if wants_fragment():
        # The address bar keeps the state, so reloading, sharing or Back shows the same list; typing in
        # the search box replaces the entry instead of adding one per pause.
        header = "HX-Replace-Url" if request.headers.get("HX-Trigger") == SEARCH_ID else "HX-Push-Url"
        response.headers[header] = url_for("group_health.index", **query.args())
    return response


@bp.get("/staff/groups.csv")
def csv_file():
    require_staff()
    query = parse_health_query(request.args)

    def day(moment):
        return local(moment).date().isoformat() if moment else ""

    def page(endpoint, slug):
        return absolute_url(endpoint, slug=slug) if slug else ""

    body = csv_text(CSV_HEADER, (
        (row.name, page("groups.detail", row.slug), day(row.last_held_at), day(row.next_starts_at),
         row.next_event_title or "", page("events.detail", row.next_event_slug), row.organizer_count,
         page("groups.organizers", row.slug), row.follower_count, row.events_held, row.attendance,
         "Yes" if row.is_dormant else "No")
        for row in _rows(query)
    ))
    # A byte-order mark, so a spreadsheet opened with a double click reads "Bibliothèque" as UTF-8.
    response = current_app.response_class("\ufeff" + body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="group-health.csv"'
    return no_store(response)
