"""The registrations blueprint: register, cancel (signed in or from a mail link), my events."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp.accounts import services as accounts
from webapp.accounts.models import normalize_email
from webapp.accounts.throttle import sign_in_link_refused
from webapp.db import commit_keeping_loaded, db, utcnow
from webapp.events.models import Event
from webapp.events.services import LISTED, event_id_by_slug, get_event_by_slug
from webapp.events.views import event_page
from webapp.feeds.private import private_calendar_links
from webapp.guards import REGISTRATION_CHANGES, check_limit, current_member
from webapp.refusals import Refusal
from webapp.registrations import going, services, still_coming
from webapp.registrations.mails import release_deadline
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.odds import waitlist_histories
from webapp.registrations.panel import cancel_result, panel_context
from webapp.registrations.tokens import read_manage_token, read_still_coming_token
from webapp.rendering import form_status, go_to, no_store, render, wants_fragment
from webapp.requests import cleaned_error

bp = Blueprint("registrations", __name__)
# When unanswered seats go to the waitlist: the event page, My events and the mails say it alike.
bp.add_app_template_global(release_deadline, "release_deadline")
bp.add_app_template_global(still_coming.may_answer, "may_answer_still_coming")
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
        return _register_by_mail(slug, event_id, accessibility_needs)
    if needs_error := cleaned_error("accessibility_needs"):
        # An invisible character came out of the needs: they see what is left before anything is saved.
        return _panel(get_event_by_slug(db.session, slug), status=form_status(422), needs_error=needs_error,
                      accessibility_needs=accessibility_needs[:TYPED_MAX])
    try:
        check_limit(REGISTRATION_CHANGES, current_user.id)
    except Refusal as refusal:
        return _panel(get_event_by_slug(db.session, slug), status=refusal.status, error=refusal.message,
                      accessibility_needs=accessibility_needs[:TYPED_MAX])
    try:
        outcome = services.register(db.session, event_id, member=current_member(),
                                    accessibility_needs=accessibility_needs,
                                    show_name=request.form.get("show_name") == "1", now=utcnow())
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


def _register_by_mail(slug: str, event_id: int, accessibility_needs: str):
    """Signed out: the panel's form also asked for the address (and a name), so Register mails the
    sign-in link at once (register_by_mail)."""
    event = get_event_by_slug(db.session, slug)
    return register_by_mail(
        f"register:{event_id}", url_for("events.detail", slug=slug), accessibility_needs,
        answer=lambda **context: _panel(event, **context),
        window_problem=lambda: services.registration_window_problem(event, utcnow()))


def register_by_mail(intent: str, next_url: str, accessibility_needs: str, *, answer, window_problem=None):
    """A signed-out Register form (an event's panel, a series' Register for all) that also asked for
    the address and a name: check them with the needs, then mail the sign-in link at once. The
    intent, the needs and the name wait with the link's request, on the server, until the link is
    used (in this browser or any other). `answer(status=..., **context)` draws the form again."""
    if "email" not in request.form:
        # A form without the address (a page from before, another site's button): the sign-in page asks.
        return go_to(url_for("accounts.sign_in", next=next_url, intent=intent))
    email = request.form.get("email", "").strip()
    display_name = request.form.get("display_name", "").strip()
    typed = dict(accessibility_needs=accessibility_needs[:TYPED_MAX], email=email[:TYPED_MAX],
                 display_name=display_name[:TYPED_MAX])
    errors = dict(
        needs_error=cleaned_error("accessibility_needs") or services.accessibility_needs_problem(accessibility_needs),
        email_error=cleaned_error("email") or accounts.email_problem(email),
        name_error=cleaned_error("display_name") or accounts.display_name_problem(display_name),
    )
    if any(errors.values()):
        return answer(status=form_status(422), **errors, **typed)
    if window_problem is not None and (problem := window_problem()):
        return answer(status=form_status(409), error=problem, **typed)
    email = normalize_email(email)
    if refused_by := sign_in_link_refused(email):
        return answer(status=form_status(429), throttled=refused_by, **typed)
    accounts.request_sign_in(db.session, email, next_url=next_url, intent=intent,
                             intent_note=accessibility_needs, display_name=display_name, now=utcnow())
    db.session.commit()
    # The same answer whether or not this address has an account.
    return no_store(answer(sent_to=email, needs_kept=bool(accessibility_needs.strip())))


def _own_registration(registration_id: int) -> Registration:
    # Someone else's registration looks exactly like a missing one.
    return db.first_or_404(
        select(Registration).where(Registration.id == registration_id, Registration.user_id == current_user.id))


def _cancel(registration: Registration, generation: int | None = None) -> services.Outcome:
    """Cancel (the service queues the mails); RegistrationError (rolled back) when the rule refuses it."""
    try:
        outcome = services.cancel(db.session, registration, now=utcnow(), generation=generation)
    except services.RegistrationError:
        db.session.rollback()
        raise
    db.session.commit()
    return outcome


def _back() -> str:
    """Where the member pressed Cancel or saved their needs: "my-events", or the event page."""
    return "my-events" if request.values.get("back") == "my-events" else "event"


def _back_url(back: str, registration: Registration) -> str:
    if back == "my-events":
        return url_for("registrations.my_events")
    return url_for("events.detail", slug=registration.event.slug)


def _registration_block(registration: Registration, back: str, *, status: int = 200, **state):
    """The piece of the page the member acted on, redrawn: the event page's panel, or the card in
    "My events" (`state`: the cancel question, its result, the saved needs or their error)."""
    if back != "my-events":
        event = get_event_by_slug(db.session, registration.event.slug)
        return _panel(event, status=status, registration=registration, **state)
    now = utcnow()
    if state.get("cancel_result"):
        state["window_problem"] = services.registration_window_problem(registration.event, now)
    return render(
        "registrations/my_events.html", "registration_card", status=status, r=registration,
        positions={registration.id: services.waitlist_position(db.session, registration)},
        histories=_waitlist_histories([registration], now),
        cancellable=({registration.id} if registration.is_active
                     and services.cancellation_problem(registration, registration.event, now) is None else set()),
        states={registration.id: state},
    )


@bp.get("/registrations/<int:registration_id>")
@login_required
def registration_state(registration_id: int):
    """The registration's piece of the page as it is ("Keep my seat" puts the Cancel button back)."""
    registration = _own_registration(registration_id)
    back = _back()
    if not wants_fragment():
        return redirect(_back_url(back, registration), code=303)
    return _registration_block(registration, back, restored=True)


@bp.get("/registrations/<int:registration_id>/cancel")
@login_required
def cancel_question(registration_id: int):
    """Cancel asks first: in place under htmx, else as a page. Nothing changes until its POST."""
    registration = _own_registration(registration_id)
    back = _back()
    if wants_fragment():
        return _registration_block(registration, back, confirming_cancel=True)
    return no_store(render(
        "registrations/cancel.html", registration=registration, event=registration.event, back=back,
        back_url=_back_url(back, registration),
        problem=services.cancellation_problem(registration, registration.event, utcnow()),
    ))


@bp.post("/registrations/<int:registration_id>/cancel")
@login_required
def cancel(registration_id: int):
    registration = _own_registration(registration_id)
    event_slug = registration.event.slug
    back = _back()
    status_before = registration.status
    try:
        check_limit(REGISTRATION_CHANGES, current_user.id)
    except Refusal as refusal:
        if wants_fragment():
            return _registration_block(registration, back, status=refusal.status, error=refusal.message)
        abort(refusal.status)
    try:
        outcome = _cancel(registration)
    except services.RegistrationError as error:
        if wants_fragment():
            return _registration_block(db.session.get(Registration, registration_id), back, error=error.message)
        return event_page(get_event_by_slug(db.session, event_slug), status=error.status, error=error.message)
    # A replayed POST (a stale tab, a double tap) finds it cancelled: "already cancelled", calmly.
    result = cancel_result(outcome, status_before)
    registration = db.session.get(Registration, registration_id)
    if wants_fragment():
        return _registration_block(registration, back, cancel_result=result)
    return no_store(render(
        "registrations/cancel.html", registration=registration, event=registration.event, back=back,
        back_url=_back_url(back, registration), result=result,
        window_problem=services.registration_window_problem(registration.event, utcnow()),
    ))


@bp.post("/registrations/<int:registration_id>/needs")
@login_required
def change_needs(registration_id: int):
    """The member adds or changes their accessibility needs after registering."""
    registration = _own_registration(registration_id)
    back = _back()
    text = request.form.get("accessibility_needs", "")
    try:
        if message := cleaned_error("accessibility_needs"):
            # An invisible character came out of the text: it comes back to be looked at, not saved yet.
            raise services.RegistrationError(message, status=422, field="accessibility_needs")
        services.change_accessibility_needs(db.session, registration, text, now=utcnow())
    except services.RegistrationError as error:
        db.session.rollback()
        registration = db.session.get(Registration, registration_id)
        if error.field != "accessibility_needs":
            state = dict(error=error.message)
        elif back == "my-events":
            state = dict(needs_error=error.message, needs_value=text[:TYPED_MAX])
        else:
            state = dict(needs_error=error.message, accessibility_needs=text[:TYPED_MAX])
        if back == "my-events" and not wants_fragment():
            return _my_events_page(status=error.status, states={registration.id: state})
        return _registration_block(registration, back, status=form_status(error.status), **state)
    db.session.commit()
    if not wants_fragment():
        anchor = f"#registration-{registration.id}" if back == "my-events" else "#registration-panel"
        return redirect(_back_url(back, registration) + anchor, code=303)
    return _registration_block(db.session.get(Registration, registration_id), back, needs_saved=True)


@bp.post("/registrations/<int:registration_id>/show-name")
@login_required
def show_name(registration_id: int):
    """The member shows or hides their name on the event's Going list (other signed-in members see it)."""
    registration = _own_registration(registration_id)
    back = _back()
    going.set_show_name(db.session, registration, request.form.get("show_name") == "1")
    db.session.commit()
    if not wants_fragment():
        anchor = f"#registration-{registration.id}" if back == "my-events" else "#registration-panel"
        return redirect(_back_url(back, registration) + anchor, code=303)
    return _registration_block(db.session.get(Registration, registration_id), back, name_saved=True)


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


def _manage_page(registration: Registration, token: str, *, error=None, status=200, result=None):
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
        result=result,
        window_problem=services.registration_window_problem(registration.event, now),
    ))


@bp.post("/r/<token>")
def manage_cancel(token: str):
    registration, generation = _registration_from_token(token)
    if registration.generation != generation:
        return _earlier_registration(registration)
    status_before = registration.status
    try:
        outcome = _cancel(registration, generation)
    except services.RegistrationError as error:
        return _manage_page(db.session.get(Registration, registration.id), token, error=error.message,
                            status=error.status)
    # Said in words here, as on the event page; a replayed POST reads "already cancelled".
    return _manage_page(db.session.get(Registration, registration.id), token,
                        result=cancel_result(outcome, status_before))


def _registration_from_still_coming_token(token: str, answer: str) -> tuple[Registration, int]:
    ids = read_still_coming_token(token)
    if not ids or answer not in still_coming.ANSWERS:
        abort(404)
    registration = db.first_or_404(
        select(Registration).where(Registration.id == ids[0], Registration.user_id == ids[1]))
    return registration, ids[2]


def _still_coming_page(registration: Registration, token: str, answer: str, *, result=None, error=None,
                       status=200):
    now = utcnow()
    return no_store(render(
        "registrations/still_coming.html", status=status, registration=registration, event=registration.event,
        token=token, answer=answer, result=result, error=error, now=now,
        position=services.waitlist_position(db.session, registration),
        problem=(services.cancellation_problem(registration, registration.event, now)
                 if registration.is_active else None),
        window_problem=services.registration_window_problem(registration.event, now),
    ))


@bp.get("/still-coming/<token>/<answer>")
def still_coming_question(token: str, answer: str):
    """The page a "Still coming?" mail's link opens: one button, nothing changes until it is pressed."""
    registration, generation = _registration_from_still_coming_token(token, answer)
    if registration.generation != generation:
        return _earlier_registration(registration)
    return _still_coming_page(registration, token, answer)


@bp.post("/still-coming/<token>/<answer>")
def still_coming_answer(token: str, answer: str):
    """The answer, authorized by the signed token (as the /r/ page is); a replay changes nothing."""
    registration, generation = _registration_from_still_coming_token(token, answer)
    if registration.generation != generation:
        return _earlier_registration(registration)
    try:
        result = still_coming.answer_still_coming(db.session, registration, answer, now=utcnow(),
                                                  generation=generation)
    except services.RegistrationError as error:
        db.session.rollback()
        return _still_coming_page(db.session.get(Registration, registration.id), token, answer,
                                  error=error.message, status=error.status)
    db.session.commit()
    return _still_coming_page(db.session.get(Registration, registration.id), token, answer,
                              result=_answer_result(result))


def _answer_result(result: still_coming.Answer) -> str:
    """The sentence after answering: the cancel sentences for "free", else "coming" or "already"."""
    if result.answer == "free":
        return cancel_result(result.cancelled, result.status_before)
    if result.seat_back:
        return "seat_back"
    if result.changed and result.registration.status == RegistrationStatus.WAITLISTED:
        return "in_line"  # released, coming after all, and no seat free: first in line
    return "coming" if result.changed else "already_answered"


@bp.post("/registrations/<int:registration_id>/still-coming")
@login_required
def answer_still_coming(registration_id: int):
    """A signed-in member's "Yes, I'll be there" from the event page or My events."""
    registration = _own_registration(registration_id)
    back = _back()
    try:
        result = still_coming.answer_still_coming(db.session, registration, "yes", now=utcnow())
    except services.RegistrationError as error:
        db.session.rollback()
        registration = db.session.get(Registration, registration_id)
        if not wants_fragment():
            return event_page(get_event_by_slug(db.session, registration.event.slug), status=error.status,
                              error=error.message)
        return _registration_block(registration, back, error=error.message)
    db.session.commit()
    registration = db.session.get(Registration, registration_id)
    if not wants_fragment():
        anchor = f"#registration-{registration.id}" if back == "my-events" else "#registration-panel"
        return redirect(_back_url(back, registration) + anchor, code=303)
    return _registration_block(registration, back, still_coming_result=_answer_result(result))


@bp.get("/my/events")
@login_required
def my_events():
    return _my_events_page()


def _my_events_page(*, status: int = 200, states: dict | None = None):
    now = utcnow()
    # Its Subscribe box: the address is made on a first look (a GET) and committed at once, before
    # anything is loaded for the page (a commit would expire it); a form sent back writes nothing.
    private_calendar = private_calendar_links(db.session, current_member(), now=now,
                                              make=request.method == "GET")
    if request.method == "GET":
        commit_keeping_loaded(db.session)  # the member loaded for this page stays loaded: no second read
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
    return no_store(render("registrations/my_events.html", status=status, upcoming=upcoming, past=past,
                           positions=positions, histories=_waitlist_histories(upcoming, now),
                           cancellable=cancellable, states=states or {},
                           private_calendar=private_calendar))


def _waitlist_histories(registrations: list[Registration], now) -> dict:
    """The waitlist history of each group the member waits at (one query, however many cards)."""
    waiting = [r.event.group_id for r in registrations if r.status == RegistrationStatus.WAITLISTED]
    return waitlist_histories(db.session, waiting, now) if waiting else {}


def register_after_sign_in(member, argument: str, *, now, note: str | None = None) -> None:
    """The Register button pressed while signed out: done once the emailed link is followed,
    with the accessibility needs typed then (`note`, kept with the sign-in request)."""
    event = _intent_event(argument)
    if event is None:
        return
    try:
        with db.session.begin_nested():
            services.register(db.session, event.id, member=member, accessibility_needs=note or "", now=now)
    except services.RegistrationError:
        pass  # the event page explains why (closed, cancelled) when they land on it


def describe_registration_intent(argument: str) -> str | None:
    """What the sign-in link of a "register:<id>" intent finishes, for its mail and "Check your inbox"."""
    event = _intent_event(argument)
    return f"finish registering for {event.title}" if event is not None else None


def _intent_event(argument: str):
    """The event of a "register:<id>" intent; None for anything else (or past the id column's range)."""
    from webapp.events.services import get_event_by_id

    if not (argument.isascii() and argument.isdigit() and len(argument) < 10):
        return None
    return get_event_by_id(db.session, int(argument))
