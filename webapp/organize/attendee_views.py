"""The organize blueprint's attendee pages: the list and its search, removing someone, giving a seat by
hand, check-in at the door, the CSV export, and messages to attendees.

Every action works as a plain form (a POST, then a redirect back to the list) and, through htmx,
re-renders the list block in place (`attendee_rows`), keeping the search that was showing.
"""

from __future__ import annotations

import re
import uuid

from flask import abort, current_app, redirect, request, url_for
from sqlalchemy import select

from webapp.db import db, utcnow
from webapp.display import format_datetime, plural
from webapp.events.models import Event
from webapp.events.services import get_event_by_slug
from webapp.guards import EVENT_MESSAGES, check_limit, current_member, event_organizers_only
from webapp.organize.attendee_forms import MessageForm
from webapp.organize.attendees import (
    attendee_list,
    attendees_csv,
    event_is_over,
    event_messages,
    send_message,
    set_checked_in,
)
from webapp.organize.blueprint import bp
from webapp.organize.models import EventMessage
from webapp.organize.services import OrganizeError
from webapp.privacy.sweeps import needs_erased_on
from webapp.refusals import Refusal, place_on_form
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration
from webapp.rendering import form_status, go_to, render, wants_fragment
from webapp.rendering import no_store as _private
from webapp.validators import clean_query

_CLIENT_KEY = re.compile(r"[0-9a-f]{32}")


def _name(registration: Registration) -> str:
    return registration.user.display_name or registration.user.email


def _names(registrations: list[Registration]) -> str:
    names = [_name(r) for r in registrations]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _event_registration(event: Event, registration_id: int | str | None) -> Registration | None:
    if not str(registration_id or "").isdigit():
        return None
    registration = db.session.get(Registration, int(registration_id))
    return registration if registration is not None and registration.event_id == event.id else None


# --- the list ----------------------------------------------------------------------------------------

def _list_page(event: Event, *, query: str, notice: str | None = None, error: str | None = None, status: int = 200):
    now = utcnow()
    return _private(render(
        "organize/attendees.html", "attendee_rows", status=status,
        event=event, attendees=attendee_list(db.session, event.id, query=query), query=query, now=now,
        over=event_is_over(event, now), open_for_changes=registrations.organizer_change_problem(event, now) is None,
        messages=event_messages(db.session, event.id), notice=notice, error=error,
        needs_erased_on=needs_erased_on(event), needs_days=current_app.config["ACCESSIBILITY_NEEDS_RETENTION_DAYS"],
    ))


def _removed_notice(removed: Registration, promoted: list[Registration]) -> str:
    notice = f"{_name(removed)} was removed and emailed."
    if promoted:
        count = len(promoted)
        notice += f" {_names(promoted)} got the freed {plural(count, 'seat', bare=True)} and " \
                  f"{plural(count, 'was', 'were', bare=True)} emailed."
    return notice


def _seated_notice(seated: Registration, capacity: int | None, raised: bool) -> str:
    notice = f"{_name(seated)} got a seat and was emailed."
    return notice + f" The capacity is now {capacity}." if raised else notice


def _notice_after_redirect(event: Event) -> str | None:
    """The plain-form path's notice, rebuilt from the ids a redirect carries (others' ids show nothing)."""
    done = request.args.get("done")
    who = _event_registration(event, request.args.get("who"))
    if who is None:
        return None
    if done == "removed":
        seated = [r for r in (_event_registration(event, i) for i in request.args.getlist("seated")) if r]
        return _removed_notice(who, seated)
    if done == "promoted":
        return _seated_notice(who, event.capacity, request.args.get("raised") == "1")
    return None


@bp.get("/events/<slug>/attendees")
@event_organizers_only
def attendees(event: Event, slug: str):
    query = clean_query(request.args.get("q"))
    response = _list_page(event, query=query, notice=_notice_after_redirect(event))
    if wants_fragment():
        # The address bar keeps the search (reloading or sharing shows the same), without history for each key.
        response.headers["HX-Replace-Url"] = url_for("organize.attendees", slug=slug, q=query or None)
    return response


@bp.get("/events/<slug>/attendees.csv", endpoint="attendees_csv")
@event_organizers_only
def attendees_csv_file(event: Event, slug: str):
    body = attendees_csv(attendee_list(db.session, event.id), format_time=format_datetime,
                         over=event_is_over(event, utcnow()), needs_erased_on=needs_erased_on(event))
    response = current_app.response_class(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{event.slug}-attendees.csv"'
    return _private(response)


# --- actions on one attendee -------------------------------------------------------------------------

def _action_target(event: Event, registration_id: int) -> tuple[Registration, str]:
    """The event's registration the URL names (another event's is not found), and the search showing."""
    registration = db.first_or_404(
        select(Registration).where(Registration.id == registration_id, Registration.event_id == event.id))
    return registration, clean_query(request.values.get("q"))


def _refused(slug: str, refusal: Refusal, query: str):
    """The list again with why nothing changed (htmx: in place, with a 200 so htmx swaps it)."""
    db.session.rollback()
    if refusal.status == 404:
        abort(404)
    return _list_page(get_event_by_slug(db.session, slug), query=query, error=refusal.message,
                      status=form_status(refusal.status))


def _back_to_list(event: Event, query: str, *, anchor: str | None = None, **args):
    return redirect(url_for("organize.attendees", slug=event.slug, q=query or None, _anchor=anchor, **args),
                    code=303)


@bp.route("/events/<slug>/attendees/<int:registration_id>/remove", methods=["GET", "POST"])
@event_organizers_only
def remove_attendee(event: Event, slug: str, registration_id: int):
    """GET asks first (the page a form without JavaScript shows); POST removes, mails, and fills the seat."""
    registration, query = _action_target(event, registration_id)
    if request.method == "GET":
        return _private(render("organize/remove_attendee.html", event=event, registration=registration,
                               query=query, name=_name(registration),
                               open_for_changes=registrations.organizer_change_problem(event, utcnow()) is None))
    now = utcnow()
    try:
        outcome = registrations.remove(db.session, event.id, registration.id, actor=current_member(), now=now)
    except registrations.RegistrationError as refusal:
        return _refused(slug, refusal, query)
    db.session.commit()
    event = get_event_by_slug(db.session, slug)
    if wants_fragment():
        notice = _removed_notice(outcome.registration, outcome.promoted) if outcome.changed else None
        return _list_page(event, query=query, notice=notice)
    return _back_to_list(event, query, done="removed", who=registration.id,
                         seated=[r.id for r in outcome.promoted])


@bp.post("/events/<slug>/attendees/<int:registration_id>/promote")
@event_organizers_only
def promote_attendee(event: Event, slug: str, registration_id: int):
    """Give someone on the waitlist a seat, raising the capacity by one if the button said so."""
    registration, query = _action_target(event, registration_id)
    shown = request.form.get("capacity", "")
    now = utcnow()
    try:
        outcome = registrations.promote_by_hand(
            db.session, event.id, registration.id, now=now,
            expected_capacity=int(shown) if shown.isdigit() and len(shown) < 10 else None,
        )
    except registrations.RegistrationError as refusal:
        return _refused(slug, refusal, query)
    db.session.commit()
    event = get_event_by_slug(db.session, slug)
    raised = outcome.capacity_raised is not None
    if wants_fragment():
        notice = _seated_notice(outcome.registration, event.capacity, raised) if outcome.changed else None
        return _list_page(event, query=query, notice=notice)
    return _back_to_list(event, query, done="promoted", who=registration.id, raised="1" if raised else None)


@bp.post("/events/<slug>/attendees/<int:registration_id>/check-in")
@event_organizers_only
def check_in(event: Event, slug: str, registration_id: int):
    """Set checked in (checked_in=1) or not (0): the wanted state, so a double tap changes nothing."""
    registration, query = _action_target(event, registration_id)
    try:
        set_checked_in(db.session, event.id, registration.id, checked_in=request.form.get("checked_in") == "1",
                       now=utcnow())
    except OrganizeError as refusal:
        return _refused(slug, refusal, query)
    db.session.commit()
    if wants_fragment():
        return _list_page(get_event_by_slug(db.session, slug), query=query)
    return _back_to_list(event, query, anchor=f"registration-{registration.id}")


# --- messages ------------------------------------------------------------------------------------------

def _messages_page(event: Event, form: MessageForm, *, status: int = 200, notice: str | None = None,
                   sent: EventMessage | None = None):
    """The page; for htmx, the form block alone (with a 200, so htmx swaps in the messages)."""
    counts = {"confirmed": event.confirmed_count, "waitlisted": event.waitlist_count}
    return _private(render("organize/messages.html", "message_form", status=form_status(status), event=event,
                           form=form, counts=counts, messages=event_messages(db.session, event.id), notice=notice,
                           sent=sent))


def _blank_message_form() -> MessageForm:
    form = MessageForm(formdata=None)
    form.client_key.data = uuid.uuid4().hex
    return form


@bp.route("/events/<slug>/messages", methods=["GET", "POST"])
@event_organizers_only
def messages(event: Event, slug: str):
    if request.method == "GET":
        sent = db.session.get(EventMessage, int(request.args["sent"])) if request.args.get("sent", "").isdigit() \
            else None
        return _messages_page(event, _blank_message_form(), sent=sent if sent and sent.event_id == event.id else None)
    form = MessageForm()
    if not _CLIENT_KEY.fullmatch(form.client_key.data or ""):
        abort(400)
    if not form.validate():
        return _messages_page(event, form, status=422)
    me = current_member()
    already = db.session.scalar(
        db.select(EventMessage.id).where(EventMessage.event_id == event.id,
                                         EventMessage.client_key == form.client_key.data))
    try:
        if already is None:  # sending the same message again sends nothing, so it is not counted
            check_limit(EVENT_MESSAGES, me.id)
    except Refusal as refusal:
        return _messages_page(event, form, status=refusal.status, notice=refusal.message)
    try:
        result = send_message(db.session, event.id, sender=me, audience=form.audience_value,
                              subject=form.subject.data, body=form.body.data, client_key=form.client_key.data,
                              now=utcnow())
    except OrganizeError as error:
        db.session.rollback()
        return _messages_page(get_event_by_slug(db.session, slug), form, status=error.status,
                              notice=place_on_form(form, error))
    db.session.commit()
    return go_to(url_for("organize.messages", slug=slug, sent=result.message.id, _anchor="sent"))
