"""The registrations blueprint: register, cancel (signed in or from a mail link), my events."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user, login_required
from htmx_flask import make_response as htmx_response
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp.db import commit_keeping_loaded, db, utcnow
from webapp.events.models import Event
from webapp.events.services import LISTED, event_id_by_slug, get_event_by_slug
from webapp.events.views import event_page
from webapp.guards import REGISTRATION_CHANGES, check_limit, current_member
from webapp.refusals import Refusal
from webapp.registrations import services
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.panel import panel_context
from webapp.registrations.tokens import read_manage_token
from webapp.rendering import form_status, no_store, render, wants_fragment

bp = Blueprint("registrations", __name__)
# What a refused form shows back of the accessibility needs typed (well over the limit, to copy from).
TYPED_MAX = 20_000


def _panel(event, *, status=200, **kwargs):
    return render(
        "events/detail.html", "registration_panel", status=status,
        **panel_context(event, now=utcnow(), **kwargs),
    )


@bp.post("/events/<slug>/register")
def register(slug: str):
    # Only the id before the lock: registering locks the event and reads it fresh from there.
    event_id = event_id_by_slug(db.session, slug)
    if event_id is None:
        abort(404)
    accessibility_needs = request.form.get("accessibility_needs", "")
    if not current_user.is_authenticated:
        # Keep the intent: the emailed sign-in link lands the member back here, registered.
        target = url_for(
            "accounts.sign_in", next=url_for("events.detail", slug=slug), intent=f"register:{event_id}"
        )
        if wants_fragment():
            return htmx_response(redirect=target)
        return redirect(target, code=303)
    try:
        check_limit(REGISTRATION_CHANGES, current_user.id)
    except Refusal as refusal:
        return _panel(get_event_by_slug(db.session, slug), status=refusal.status, error=refusal.message,
                      accessibility_needs=accessibility_needs[:TYPED_MAX])
    try:
        outcome = services.register(db.session, event_id, member=current_member(),
                                    accessibility_needs=accessibility_needs, now=utcnow())
    except services.RegistrationError as error:
        db.session.rollback()
        event = get_event_by_slug(db.session, slug)
        # Too long: the message goes next to the field, which keeps everything that was typed.
        field_error = error.field == "accessibility_needs"
        return _panel(event, status=form_status(error.status), error=None if field_error else error.message,
                      needs_error=error.message if field_error else None,
                      accessibility_needs=accessibility_needs[:TYPED_MAX])
    # The panel shows the event and the registration as this commit left them: no reading back.
    commit_keeping_loaded(db.session)
    if not wants_fragment():
        return redirect(url_for("events.detail", slug=slug), code=303)
    return _panel(outcome.event, registration=outcome.registration, position=outcome.position)


def _own_registration(registration_id: int) -> Registration:
    # Someone else's registration looks exactly like a missing one.
    return db.first_or_404(
        select(Registration).where(Registration.id == registration_id, Registration.user_id == current_user.id))


def _cancel(registration: Registration, generation: int | None = None) -> None:
    """Cancel (the service queues the mails); RegistrationError (rolled back) when the rule refuses it."""
    try:
        services.cancel(db.session, registration, now=utcnow(), generation=generation)
    except services.RegistrationError:
        db.session.rollback()
        raise
    db.session.commit()


@bp.post("/registrations/<int:registration_id>/cancel")
@login_required
def cancel(registration_id: int):
    registration = _own_registration(registration_id)
    event_slug = registration.event.slug
    try:
        check_limit(REGISTRATION_CHANGES, current_user.id)
    except Refusal as refusal:
        if wants_fragment():
            return _panel(registration.event, status=refusal.status, error=refusal.message)
        abort(refusal.status)
    try:
        _cancel(registration)
    except services.RegistrationError as error:
        event = get_event_by_slug(db.session, event_slug)
        if wants_fragment():
            return _panel(event, status=200, error=error.message)
        return event_page(event, status=error.status, error=error.message)
    if wants_fragment():
        return _panel(get_event_by_slug(db.session, event_slug))
    back = request.form.get("back")
    if back == "my-events":
        return redirect(url_for("registrations.my_events"), code=303)
    return redirect(url_for("events.detail", slug=event_slug), code=303)


def _registration_from_token(token: str) -> tuple[Registration, int]:
    ids = read_manage_token(token)
    if not ids:
        abort(404)
    registration = db.first_or_404(
        select(Registration).where(Registration.id == ids[0], Registration.user_id == ids[1]))
    return registration, ids[2]


def _earlier_registration(registration: Registration):
    """A link from a registration that was cancelled since: it shows nothing and cancels nothing."""
    return no_store(render("registrations/manage.html", registration=registration, event=registration.event,
                           earlier=True, status=410))


@bp.get("/r/<token>")
def manage(token: str):
    """The page a mail's cancel link opens: nothing changes until the button is pressed."""
    registration, generation = _registration_from_token(token)
    if registration.generation != generation:
        return _earlier_registration(registration)
    return _manage_page(registration, token)


def _manage_page(registration: Registration, token: str, *, error=None, status=200):
    now = utcnow()
    return no_store(render(
        "registrations/manage.html",
        status=status,
        registration=registration,
        event=registration.event,
        position=services.waitlist_position(db.session, registration),
        token=token,
        problem=(services.cancellation_problem(registration, registration.event, now)
                 if registration.is_active else None),
        error=error,
        now=now,
    ))


@bp.post("/r/<token>")
def manage_cancel(token: str):
    registration, generation = _registration_from_token(token)
    if registration.generation != generation:
        return _earlier_registration(registration)
    try:
        _cancel(registration, generation)
    except services.RegistrationError as error:
        return _manage_page(db.session.get(Registration, registration.id), token, error=error.message,
                            status=error.status)
    return redirect(url_for("registrations.manage", token=token), code=303)


@bp.get("/my/events")
@login_required
def my_events():
    now = utcnow()
    registrations = list(
        db.session.scalars(
            select(Registration)
            .join(Registration.event)
            .options(joinedload(Registration.event).joinedload(Event.group))
            .where(Registration.user_id == current_user.id, Event.status.in_(LISTED))
            .order_by(Event.starts_at)
        )
    )
    upcoming = [r for r in registrations if r.event.ends_at >= now]
    past = [r for r in registrations if r.event.ends_at < now][::-1]
    positions = {
        r.id: services.waitlist_position(db.session, r)
        for r in upcoming if r.status == RegistrationStatus.WAITLISTED
    }
    cancellable = {r.id for r in upcoming if services.cancellation_problem(r, r.event, now) is None}
    return render("registrations/my_events.html", upcoming=upcoming, past=past, positions=positions,
                  cancellable=cancellable)


def register_after_sign_in(member, argument: str, *, now) -> None:
    """The Register button pressed while signed out: done once the emailed link is followed."""
    from webapp.events.services import get_event_by_id

    event = get_event_by_id(db.session, int(argument)) if argument.isdigit() else None
    if event is None:
        return
    try:
        with db.session.begin_nested():
            services.register(db.session, event.id, member=member, now=now)
    except services.RegistrationError:
        pass  # the event page explains why (closed, cancelled) when they land on it
