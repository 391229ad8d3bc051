"""The slots blueprint: a member claims a slot from the event page, and withdraws it there (asked
first); the organizers' page offers slots and approves, releases and reorders them.

Every action is a plain form (POST, then a redirect back) and, through htmx, redraws its block in
place: `slots_section` of the event page, `slot_admin` of the organizers' page.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

from webapp.db import db, utcnow
from webapp.events.models import Event
from webapp.events.services import get_event_by_slug
from webapp.events.views import event_page
from webapp.guards import REGISTRATION_CHANGES, check_limit, count_towards, current_member, event_organizers_only
from webapp.refusals import Refusal
from webapp.rendering import form_status, no_store, render, wants_fragment
from webapp.requests import CLEANED_MESSAGE, cleaned_fields
from webapp.slots import services
from webapp.slots.agenda import event_slots

bp = Blueprint("slots", __name__)


@bp.app_template_global()
def slot_board_for(event: Event):
    """The event page's slot section for the current member (one query for a visitor)."""
    return services.slot_board(db.session, event, current_user, now=utcnow())


@bp.app_template_global()
def held_slot(registration):
    """The slot this registration's member holds at its event, if any: the cancel question says it goes too."""
    return services.held_slot(db.session, registration.event_id, registration.user_id)


# --- a member's claim ------------------------------------------------------------------------------


def _claim_form() -> dict:
    return dict(offer_id=request.form.get("offer_id", ""), title=request.form.get("title", ""),
                abstract=request.form.get("abstract", ""))


def _check_cleaned(*names: str) -> None:
    """A SlotError on the first of these typed fields that lost an invisible character on the way in:
    the form comes back with what is left, to be looked at before anything is saved."""
    for name in names:
        if name in cleaned_fields():
            raise services.SlotError(CLEANED_MESSAGE, status=422, field=name)


@bp.post("/events/<slug>/slots/claim")
def claim(slug: str):
    event = get_event_by_slug(db.session, slug)
    if event is None:
        abort(404)
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.sign_in", next=url_for("events.detail", slug=slug)), code=303)
    form = _claim_form()
    try:
        _check_cleaned("title", "abstract")
        services.claim_slot(db.session, event.id, form["offer_id"], member=current_member(), title=form["title"],
                            abstract=form["abstract"], now=utcnow())
    except services.SlotError as refusal:
        db.session.rollback()
        if refusal.status == 404:
            abort(404)
        return _section(slug, status=refusal.status, slot_form=form, slot_error=refusal.message,
                        slot_error_field=refusal.field)
    db.session.commit()
    if wants_fragment():
        return _section(slug, slot_notice="Thank you: your slot is awaiting the organizers’ approval.")
    return redirect(url_for("events.detail", slug=slug, _anchor="slots"), code=303)


def _section(slug: str, *, status: int = 200, **state):
    """The event page's slot section after a member's action: the block alone for htmx, else the page."""
    event = get_event_by_slug(db.session, slug)
    if wants_fragment():
        return render("events/detail.html", "slots_section", status=form_status(status), event=event, **state)
    return event_page(event, status=status, **state)


WITHDRAWN = "You withdrew your talk: the slot is free for others, and your seat is still yours."
NOTHING_TO_WITHDRAW = "That talk was already withdrawn or released, so nothing changed."


@bp.get("/events/<slug>/slots/withdraw")
def withdraw_question(slug: str):
    """Asks first: the question in the event page's slot section, with the button that withdraws."""
    event = get_event_by_slug(db.session, slug)
    if event is None:
        abort(404)
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.sign_in", next=url_for("events.detail", slug=slug)), code=303)
    # Nothing to ask about (withdrawn in another tab): the section says what it holds now.
    return no_store(_section(slug, withdraw_question=True))


@bp.get("/events/<slug>/slots/section")
def section(slug: str):
    """The slot section as it stands ("No, keep my talk" through htmx); the event page without it."""
    if get_event_by_slug(db.session, slug) is None:
        abort(404)
    if not wants_fragment():
        return redirect(url_for("events.detail", slug=slug, _anchor="slots"), code=303)
    # The keyboard goes back to the Withdraw link it came from (static/swaps.js).
    return no_store(_section(slug, back_from_question=True))


@bp.post("/events/<slug>/slots/<int:claim_id>/withdraw")
def withdraw(slug: str, claim_id: int):
    event = get_event_by_slug(db.session, slug)
    if event is None:
        abort(404)
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.sign_in", next=url_for("events.detail", slug=slug)), code=303)
    member = current_member()
    try:
        outcome = services.withdraw_claim(db.session, event.id, claim_id, request.form.get("generation"),
                                          member=member, now=utcnow())
        # Each withdrawal mails the organizers: counted with the member's registration changes.
        # Asked only once it would withdraw (a replay is answered calmly, limit or not); refused,
        # the rollback below leaves the claim as it was and the mails unqueued.
        if outcome.is_withdrawn_now:
            check_limit(REGISTRATION_CHANGES, member.id, count=False)
    except Refusal as refusal:  # a SlotError, or the limit
        db.session.rollback()
        if refusal.status == 404:
            abort(404)
        return _section(slug, status=refusal.status, slot_error=refusal.message)
    db.session.commit()
    if outcome.is_withdrawn_now:
        count_towards(REGISTRATION_CHANGES, member.id)
    # A replay (a double tap, a stale tab) changes nothing and says so, calmly: never an error.
    return no_store(_section(slug, slot_notice=WITHDRAWN if outcome.is_withdrawn_now else NOTHING_TO_WITHDRAW))


# --- the organizers' page --------------------------------------------------------------------------


def _admin_page(event: Event, *, status: int = 200, notice: str | None = None, error: str | None = None,
                offer_form: dict | None = None, offer_error: str | None = None, offer_error_field: str | None = None):
    slots = event_slots(db.session, event.id)
    return no_store(render(
        "slots/manage.html", "slot_admin", status=status, event=event, slots=slots, agenda=slots.agenda(event),
        open_for_changes=services.change_problem(event, utcnow()) is None, notice=notice, error=error,
        offer_form=offer_form or dict(label="", minutes="15", how_many="1"), offer_error=offer_error,
        offer_error_field=offer_error_field,
    ))


DONE = {"offered": "The slots are offered: members with a seat can claim them from the event page.",
        "approved": "Approved: the talk is on the agenda. The member was emailed.",
        "released": "Released: the member was emailed, and the slot is free again.",
        "moved": "The agenda’s order changed."}


@bp.get("/events/<slug>/slots")
@event_organizers_only
def manage(event: Event, slug: str):
    return _admin_page(event, notice=DONE.get(request.args.get("done", "")))


@bp.post("/events/<slug>/slots/offer")
@event_organizers_only
def offer(event: Event, slug: str):
    form = dict(label=request.form.get("label", ""), minutes=request.form.get("minutes", ""),
                how_many=request.form.get("how_many", ""))
    try:
        _check_cleaned("label", "minutes", "how_many")
        services.offer_slots(db.session, event.id, label=form["label"], minutes=form["minutes"],
                             how_many=form["how_many"], now=utcnow())
    except services.SlotError as refusal:
        db.session.rollback()
        return _admin_page(get_event_by_slug(db.session, slug, include_drafts=True),
                           status=form_status(refusal.status), offer_form=form, offer_error=refusal.message,
                           offer_error_field=refusal.field)
    db.session.commit()
    return _done(slug, "offered")


def _done(slug: str, done: str):
    if wants_fragment():
        return _admin_page(get_event_by_slug(db.session, slug, include_drafts=True), notice=DONE[done])
    return redirect(url_for("slots.manage", slug=slug, done=done, _anchor="slot-admin"), code=303)


def _claim_action(event: Event, slug: str, act, done: str, **kwargs):
    try:
        act(db.session, event.id, request.view_args["claim_id"], now=utcnow(), **kwargs)
    except services.SlotError as refusal:
        db.session.rollback()
        if refusal.status == 404:
            abort(404)
        return _admin_page(get_event_by_slug(db.session, slug, include_drafts=True),
                           status=form_status(refusal.status), error=refusal.message)
    db.session.commit()
    return _done(slug, done)


@bp.post("/events/<slug>/slots/<int:claim_id>/approve")
@event_organizers_only
def approve(event: Event, slug: str, claim_id: int):
    return _claim_action(event, slug, services.approve, "approved")


@bp.post("/events/<slug>/slots/<int:claim_id>/release")
@event_organizers_only
def release(event: Event, slug: str, claim_id: int):
    return _claim_action(event, slug, services.release, "released")


@bp.post("/events/<slug>/slots/<int:claim_id>/move")
@event_organizers_only
def move(event: Event, slug: str, claim_id: int):
    return _claim_action(event, slug, services.reorder, "moved", direction=request.form.get("direction", ""))
