"""The organize blueprint: a group's organizers (and admins) create, edit and cancel events.

The attendee pages are in attendee_views.py, on the same blueprint."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

from webapp.db import db, utcnow
from webapp.display import site_zone
from webapp.events.models import Event, EventStatus
from webapp.events.services import get_event_by_slug
from webapp.groups.models import Group
from webapp.groups.services import get_group_by_slug
from webapp.organize import services
from webapp.organize.forms import FORMATS, EventForm
from webapp.organize.services import OrganizeError, is_group_organizer
from webapp.reminders.services import EventChangeError, cancel_event
from webapp.rendering import render

bp = Blueprint("organize", __name__)


@bp.app_context_processor
def _may_organize():
    """`may_organize(group)` for templates: asked only where an organizer link could show."""
    return {"may_organize": lambda group: is_group_organizer(current_user, group)}


def _me():
    return current_user._get_current_object()


def _require_organizer(group: Group | None) -> None:
    """Signed out: sign in first (a page) or 403 (a form post). Signed in but not theirs: 403."""
    if not current_user.is_authenticated:
        if request.method == "GET":
            abort(redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?"))))
        abort(403)
    if not is_group_organizer(current_user, group):
        abort(403)


def _private(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _managed_event(slug: str) -> Event:
    event = get_event_by_slug(db.session, slug)
    if event is None:
        abort(404)
    _require_organizer(event.group)
    return event


def _form_page(form: EventForm, *, group, event=None, status=200, notice=None):
    action_url = (url_for("organize.edit_event", slug=event.slug) if event
                  else url_for("organize.new_event", slug=group.slug))
    return _private(render("organize/event_form.html", status=status, form=form, group=group, event=event,
                           formats=FORMATS, notice=notice, action_url=action_url))


def _place_error(form: EventForm, error: OrganizeError) -> None:
    target = getattr(form, error.field, None) if error.field else None
    if target is not None:
        target.errors = [*target.errors, error.message]


@bp.route("/groups/<slug>/events/new", methods=["GET", "POST"])
def new_event(slug: str):
    group = get_group_by_slug(db.session, slug)
    if group is None:
        abort(404)
    _require_organizer(group)
    form = EventForm(zone=site_zone())
    if request.method == "GET":
        return _form_page(form, group=group)
    if not form.validate():
        return _form_page(form, group=group, status=422)
    try:
        event = services.create_event(db.session, group, form.event_fields(), actor=_me(), now=utcnow())
    except OrganizeError as error:
        db.session.rollback()
        _place_error(form, error)
        return _form_page(form, group=get_group_by_slug(db.session, slug), status=error.status,
                          notice=None if error.field else error.message)
    db.session.commit()
    return redirect(url_for("events.detail", slug=event.slug), code=303)


@bp.route("/events/<slug>/edit", methods=["GET", "POST"])
def edit_event(slug: str):
    event = _managed_event(slug)
    if event.status != EventStatus.SCHEDULED:
        return _private(render("organize/closed.html", event=event, status=409))
    if request.method == "GET":
        return _form_page(EventForm.for_event(event, site_zone()), group=event.group, event=event)
    form = EventForm(zone=site_zone())
    if not form.validate():
        return _form_page(form, group=event.group, event=event, status=422)
    try:
        services.update_event(db.session, event.id, form.event_fields(), actor=_me(), now=utcnow())
    except OrganizeError as error:
        db.session.rollback()
        _place_error(form, error)
        event = get_event_by_slug(db.session, slug)
        return _form_page(form, group=event.group, event=event, status=error.status,
                          notice=None if error.field else error.message)
    db.session.commit()
    return redirect(url_for("events.detail", slug=slug), code=303)


@bp.route("/events/<slug>/cancel-event", methods=["GET", "POST"])
def cancel(slug: str):
    event = _managed_event(slug)
    error = None
    if request.method == "POST":
        try:
            cancel_event(db.session, event.id, now=utcnow(), actor=_me())
        except EventChangeError as refusal:
            db.session.rollback()
            event = get_event_by_slug(db.session, slug)
            error = refusal
        else:
            db.session.commit()
            return redirect(url_for("events.detail", slug=slug), code=303)
    return _private(render("organize/cancel.html", event=event, error=error and error.message,
                           status=error.status if error else 200))


# The attendee pages live in their own module on this blueprint; importing it registers them.
from webapp.organize import attendee_views  # noqa: E402,F401
