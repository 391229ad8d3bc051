"""The organize blueprint's event pages: a group's organizers (and admins) create, edit and cancel events.

The attendee pages are in attendee_views.py, on the same blueprint (blueprint.py)."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask_login import current_user, login_required

from webapp.db import db, utcnow
from webapp.display import site_zone
from webapp.events.changes import EventChangeError, cancel_event
from webapp.events.models import Event, EventStatus
from webapp.events.services import get_event_by_slug
from webapp.events.views import event_page
from webapp.groups.models import Group
from webapp.groups.services import get_group_by_slug, is_group_organizer, organizes_a_group
from webapp.guards import current_member, event_organizers_only, group_organizers_only
from webapp.organize import (
    attendee_views,  # noqa: F401 (its routes are on this blueprint too)
    follower_views,  # noqa: F401 (and the "Write to followers" page's)
    series_views,  # noqa: F401 (and the "New series" page's)
    services,
)
from webapp.organize.blueprint import bp
from webapp.organize.forms import FORMATS, MEETING_SOURCES, EventForm
from webapp.organize.services import OrganizeError
from webapp.refusals import place_on_form
from webapp.rendering import form_status, go_to, render
from webapp.rendering import no_store as _private
from webapp.series import services as series_services
from webapp.zoom.services import zoom_available


@bp.app_context_processor
def _may_organize():
    """`may_organize(group)` for templates: asked only where an organizer link could show."""
    return {"may_organize": lambda group: is_group_organizer(current_user, group)}


@bp.app_context_processor
def _organizes_a_group():
    """`organizes_a_group()` for the navigation's "My groups": a function, queried only for members."""
    return {"organizes_a_group": lambda: current_user.is_authenticated and organizes_a_group(db.session, current_user)}


DRAFT_SAVED = "Draft saved. Only the group’s organizers can see it; publish it from its preview."


def _form_page(form: EventForm, *, group, event=None, copied_from=None, status=200, notice=None, saved=None):
    """The event form: editing `event`, copying `copied_from` ("same time next month"), or new."""
    if event:
        action_url = url_for("organize.edit_event", slug=event.slug)
        back_url = url_for("events.detail", slug=event.slug)
    elif copied_from:
        action_url = url_for("organize.duplicate", slug=copied_from.slug)
        back_url = url_for("events.detail", slug=copied_from.slug)
    else:
        action_url = url_for("organize.new_event", slug=group.slug)
        back_url = url_for("groups.detail", slug=group.slug)
    drafts = services.group_drafts(db.session, group) if group and not event else []
    return _private(render("organize/event_form.html", "event_form", status=form_status(status), form=form,
                           group=group, event=event, copied_from=copied_from, drafts=drafts, formats=FORMATS,
                           meeting_sources=MEETING_SOURCES, zoom_available=zoom_available(),
                           notice=notice, saved=saved, action_url=action_url, back_url=back_url))


def _after_save(event: Event):
    """A draft: "Save and preview" shows it as members will see it, "Save draft" keeps the form."""
    if event.status == EventStatus.DRAFT and request.form.get("then") == "draft":
        return go_to(url_for("organize.edit_event", slug=event.slug, done="saved"))
    return go_to(url_for("events.detail", slug=event.slug))


def _create_draft(form: EventForm, group: Group | None, *, copied_from: Event | None = None):
    """Save the posted form as a new draft of `group`, or give the form back with the problems."""
    if not form.validate():
        return _form_page(form, group=group, copied_from=copied_from, status=422)
    group_slug, copied_slug = group.slug if group else None, copied_from.slug if copied_from else None
    try:
        event = services.create_event(db.session, group, form.event_fields(), actor=current_member(), now=utcnow())
    except OrganizeError as error:
        db.session.rollback()
        return _form_page(
            form, group=group_slug and get_group_by_slug(db.session, group_slug), status=error.status,
            copied_from=copied_slug and get_event_by_slug(db.session, copied_slug, include_drafts=True),
            notice=place_on_form(form, error))
    db.session.commit()
    return _after_save(event)


@bp.route("/groups/<slug>/events/new", methods=["GET", "POST"])
@group_organizers_only
def new_event(group: Group, slug: str):
    form = EventForm(zone=site_zone())
    if request.method == "GET":
        return _form_page(form, group=group)
    return _create_draft(form, group)


@bp.route("/events/<slug>/duplicate", methods=["GET", "POST"])
@event_organizers_only
def duplicate(event: Event, slug: str):
    """The new-event form filled in from this event, the same weekday of next month: saved as a new draft."""
    if request.method == "GET":
        form = EventForm.from_fields(services.next_month_copy(event, site_zone()), site_zone())
        return _form_page(form, group=event.group, copied_from=event)
    return _create_draft(EventForm(zone=site_zone()), event.group, copied_from=event)


@bp.get("/my/groups")
@login_required
def my_groups():
    return _private(render("organize/my_groups.html",
                           glances=services.groups_at_a_glance(db.session, current_member(), now=utcnow())))


@bp.get("/groups/<slug>/drafts")
@group_organizers_only
def drafts(group: Group, slug: str):
    return _private(render("organize/drafts.html", group=group, drafts=services.group_drafts(db.session, group)))


@bp.route("/events/<slug>/edit", methods=["GET", "POST"])
@event_organizers_only
def edit_event(event: Event, slug: str):
    if event.status == EventStatus.CANCELLED:
        return _private(render("organize/closed.html", event=event, status=409))
    if request.method == "GET":
        saved = DRAFT_SAVED if request.args.get("done") == "saved" and event.status == EventStatus.DRAFT else None
        return _form_page(EventForm.for_event(event, site_zone()), group=event.group, event=event, saved=saved)
    form = EventForm(zone=site_zone())
    if not form.validate():
        return _form_page(form, group=event.group, event=event, status=422)
    try:
        _save_edit(event, form)
    except OrganizeError as error:
        db.session.rollback()
        event = get_event_by_slug(db.session, slug, include_drafts=True)
        return _form_page(form, group=event.group, event=event, status=error.status,
                          notice=place_on_form(form, error))
    db.session.commit()
    return _after_save(get_event_by_slug(db.session, slug, include_drafts=True))


def _save_edit(event: Event, form: EventForm) -> None:
    """A session of a series asks "this session only, or this and all following" (webapp/series)."""
    if event.series_id is None or event.status != EventStatus.SCHEDULED:
        services.update_event(db.session, event.id, form.event_fields(), actor=current_member(), now=utcnow())
    elif request.form.get("scope") == "following":
        series_services.update_following(db.session, event.id, form.event_fields(), actor=current_member(),
                                         now=utcnow())
    else:
        series_services.update_session_only(db.session, event.id, form.event_fields(), actor=current_member(),
                                            now=utcnow())


@bp.post("/events/<slug>/publish")
@event_organizers_only
def publish(event: Event, slug: str):
    try:
        services.publish_event(db.session, event.id, actor=current_member(), now=utcnow())
    except OrganizeError as error:
        db.session.rollback()
        return _private(event_page(get_event_by_slug(db.session, slug, include_drafts=True),
                                   status=error.status, publish_error=error.message))
    db.session.commit()
    return redirect(url_for("events.detail", slug=slug, done="published"), code=303)


@bp.route("/events/<slug>/cancel-event", methods=["GET", "POST"])
@event_organizers_only
def cancel(event: Event, slug: str):
    """Cancel a published event (attendees are told), or delete a draft (nobody knows of it)."""
    error = None
    if request.method == "POST":
        is_draft, group_slug = event.status == EventStatus.DRAFT, event.group.slug if event.group else None
        try:
            if is_draft:
                services.discard_draft(db.session, event.id, actor=current_member(), now=utcnow())
            else:
                cancel_event(db.session, event.id, now=utcnow(), actor=current_member())
        except (EventChangeError, OrganizeError) as refusal:
            db.session.rollback()
            event = get_event_by_slug(db.session, slug, include_drafts=True)
            error = refusal
        else:
            db.session.commit()
            if is_draft:
                return redirect(url_for("organize.drafts", slug=group_slug) if group_slug
                                else url_for("events.index"), code=303)
            return redirect(url_for("events.detail", slug=slug), code=303)
    return _private(render("organize/cancel.html", event=event, error=error and error.message,
                           status=error.status if error else 200))

