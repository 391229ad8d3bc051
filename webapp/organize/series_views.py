"""The organize blueprint's "New series" page: a group's organizers create a series, whose sessions
are made at once (webapp/series)."""

from __future__ import annotations

from flask import request, url_for

from webapp.db import db, utcnow
from webapp.display import site_zone
from webapp.groups.models import Group
from webapp.groups.services import get_group_by_slug
from webapp.guards import current_member, group_organizers_only
from webapp.organize.blueprint import bp
from webapp.organize.forms import FORMATS
from webapp.organize.services import OrganizeError
from webapp.refusals import place_on_form
from webapp.rendering import form_status, go_to, no_store, render
from webapp.series import services
from webapp.series.forms import ENDS, SERIES_MEETING_SOURCES, SeriesForm, today_in
from webapp.series.recurrence import KINDS
from webapp.slots.services import SlotError
from webapp.zoom.services import zoom_available


def _form_page(form: SeriesForm, group: Group, *, status: int = 200, notice: str | None = None):
    return no_store(render("organize/series_form.html", "series_form", status=form_status(status), form=form,
                           group=group, formats=FORMATS, kinds=KINDS, ends=ENDS, notice=notice,
                           meeting_sources=SERIES_MEETING_SOURCES, zoom_available=zoom_available(),
                           action_url=url_for("organize.new_series", slug=group.slug),
                           back_url=url_for("groups.detail", slug=group.slug)))


@bp.route("/groups/<slug>/series/new", methods=["GET", "POST"])
@group_organizers_only
def new_series(group: Group, slug: str):
    now = utcnow()
    form = SeriesForm(zone=site_zone(), today=today_in(now, site_zone()))
    if request.method == "GET":
        return _form_page(form, group)
    if not form.validate():
        return _form_page(form, group, status=422)
    try:
        series = services.create_series(db.session, group, form.series_fields(), actor=current_member(), now=now)
        if offer := form.slot_offer():
            # After the sessions are made: the one rule that also reaches the sessions already made.
            services.offer_series_slots(db.session, series.id, **offer, now=now)
    except (OrganizeError, SlotError) as error:  # a series' refusals, and the event form's (the Zoom choice)
        db.session.rollback()
        return _form_page(form, get_group_by_slug(db.session, slug), status=error.status,
                          notice=place_on_form(form, error))
    db.session.commit()
    return go_to(url_for("series.detail", slug=series.slug))
