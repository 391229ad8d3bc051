"""The proposals blueprint: guidelines, the proposal form, my proposals, the review queue, invitations."""

from __future__ import annotations

import re
import uuid
from functools import wraps

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user

from webapp.db import db, utcnow
from webapp.groups import invitations
from webapp.groups.services import GroupError
from webapp.guards import PROPOSAL_SUBMISSIONS, check_limit, current_member
from webapp.proposals import services
from webapp.proposals.forms import ActionForm, ProposalForm
from webapp.proposals.guidelines import BY_ANCHOR, COMMITMENTS, GUIDELINES
from webapp.proposals.models import (
    AWAITING_REVIEW,
    FORMAT_LABELS,
    MAX_COORGANIZERS,
    ProposalAction,
    ProposalState,
)
from webapp.proposals.services import ProposalError, ProposalFields
from webapp.refusals import Refusal
from webapp.rendering import form_status as _status
from webapp.rendering import go_to as _go_to
from webapp.rendering import no_store as _private
from webapp.rendering import render, wants_fragment

bp = Blueprint("proposals", __name__)
A, S = ProposalAction, ProposalState
_CLIENT_KEY = re.compile(r"[0-9a-f]{32}")

DONE_MESSAGES = {
    "saved": "Your draft is saved. You can come back to it at any time from My proposals.",
    "submitted": "Your proposal is with the reviewers. We’ll email you when they answer.",
    "resubmitted": "Your changes are with the reviewers. We’ll email you when they answer.",
    "updated": "Your changes are saved. Resubmit when you’re ready.",
    "submit": "Your proposal is with the reviewers. We’ll email you when they answer.",
    "comment": "Your message is added to the proposal’s history.",
    "request_changes": "You asked for changes. The proposer has been emailed your message.",
    "approve": "Approved. The group’s page is up and its organizers have been told.",
    "decline": "Declined. The proposer has been emailed your reason.",
    "withdraw": "The proposal is withdrawn.",
}
QUEUE_TABS = {
    "awaiting": ("Awaiting review", AWAITING_REVIEW),
    "changes_requested": ("Changes requested", (S.CHANGES_REQUESTED,)),
    "approved": ("Approved", (S.APPROVED,)),
    "declined": ("Declined", (S.DECLINED,)),
    "withdrawn": ("Withdrawn", (S.WITHDRAWN,)),
}


@bp.app_context_processor
def _review_count():
    """The nav's "Review (N)": a function, so the count is queried only where it is shown."""
    return {"awaiting_review_count": lambda: services.count_awaiting_review(db.session)}


# The send button pressed while over the submission limit: the draft is kept, only the sending waits.
KEPT_AS_DRAFT = ("Your draft is saved, but you’ve sent several proposals in a short time. "
                 "Please try sending it again in a little while.")


def members_only(view):
    """Signed-out visitors: a page asks them to sign in; a form post is refused (403)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            if request.method == "GET":
                return redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?")))
            if request.endpoint in FORM_ENDPOINTS:
                return form_after_lost_session()
            abort(403)
        if current_user.needs_profile and request.method == "GET":
            return redirect(url_for("accounts.account", welcome=1, next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


# --- Guidelines ----------------------------------------------------------------------------------


@bp.get("/guidelines")
def guidelines():
    return render("pages/guidelines.html", guidelines=GUIDELINES)


# --- My proposals ----------------------------------------------------------------------------------


@bp.get("/proposals")
@members_only
def index():
    return _private(render("proposals/index.html", proposals=services.proposals_of(db.session, current_member())))


# --- The form --------------------------------------------------------------------------------------


def _similar(form, proposal=None):
    return services.similar_to(
        db.session, form.name.data or "", form.description.data or "",
        url_for_group=lambda g: url_for("groups.detail", slug=g.slug),
        url_for_proposal=lambda p: url_for("proposals.detail", proposal_id=p.id),
        viewer=current_member(), exclude_proposal_id=proposal.id if proposal else None,
    )


def _form_page(form, proposal=None, *, status=200, notice=None, focus=None, inline=False, action_url=None):
    if action_url is None:
        action_url = url_for("proposals.edit", proposal_id=proposal.id) if proposal else url_for("proposals.new")
    context = dict(
        form=form, proposal=proposal, commitments=COMMITMENTS, formats=FORMAT_LABELS, notice=notice,
        similar=_similar(form, proposal), max_coorganizers=MAX_COORGANIZERS, focus=focus, inline=inline,
        action_url=action_url,
    )
    return _private(render("proposals/form.html", "proposal_form", status=status, **context))


FORM_ENDPOINTS = frozenset({"proposals.new", "proposals.edit"})
LOST_SESSION = (
    "Nothing was saved yet, because you were signed out (or the page had expired) before you pressed "
    "the button, but everything you typed is still here. Open “Sign in” in a new tab, sign in, then come "
    "back to this tab and press the button again."
)


def form_after_lost_session():
    """The proposal form posted after its session ended: show it again with everything typed.

    Nothing is saved (we no longer know who is posting); the member signs in elsewhere and resends.
    """
    form = ProposalForm(meta={"csrf": False})
    action_url = request.path
    return _form_page(form, status=_status(403), notice=LOST_SESSION, action_url=action_url)


@bp.record_once
def _rescue_expired_forms(state) -> None:
    # A stale CSRF token on these forms must not throw away what the member wrote (errors.py asks).
    rescues = state.app.extensions.setdefault("csrf_rescue", {})
    for endpoint in FORM_ENDPOINTS:
        rescues[endpoint] = form_after_lost_session


def _fields_from(form) -> ProposalFields:
    return ProposalFields(
        name=form.name.data or "", topic=form.topic.data or "", description=form.description.data or "",
        need=form.need.data or "", difference=form.difference.data or "",
        meeting_format=form.meeting_format.data or None, cadence=form.cadence.data or "",
        first_event=form.first_event.data or "", acknowledged=list(form.acknowledged.data or []),
        coorganizers=form.coorganizer_rows(),
    )


def _handle_form_post(proposal=None):
    """Add or remove a co-organizer row, save the draft, or save and send it to the reviewers."""
    me = current_member()
    form = ProposalForm(proposer=me)
    if "add_coorganizer" in request.form:
        if len(form.coorganizers.entries) < MAX_COORGANIZERS:
            form.coorganizers.append_entry()
            focus = f"{form.coorganizers.entries[-1].form.name.id}"
        else:
            focus = None
        return _form_page(form, proposal, focus=focus)
    if "remove_coorganizer" in request.form:
        position = request.form.get("remove_coorganizer", "")
        if position.isdigit() and int(position) < len(form.coorganizers.entries):
            del form.coorganizers.entries[int(position)]
        if not form.coorganizers.entries:
            form.coorganizers.append_entry()
        return _form_page(form, proposal, focus="add-coorganizer")

    sending = "send" in request.form
    form.for_review = sending
    if not form.validate():
        return _form_page(form, proposal, status=_status(422))
    client_key = form.client_key.data or ""
    if proposal is None and not _CLIENT_KEY.fullmatch(client_key):
        abort(400)
    # Asked before anything is saved: over the limit, the button saves the draft and sends nothing.
    sending_refused = None
    if sending:
        try:
            check_limit(PROPOSAL_SUBMISSIONS, me.id)
        except Refusal as refusal:
            sending, sending_refused = False, refusal
    now = utcnow()
    try:
        saved = services.save_proposal(
            db.session, proposal.id if proposal else None, _fields_from(form), actor=me,
            client_key=client_key or (proposal.client_key if proposal else ""), now=now,
        )
        if sending:
            action = A.RESUBMIT if saved.state == S.CHANGES_REQUESTED else A.SUBMIT
            services.transition(db.session, saved.id, action, actor=me, now=now)
            done = "resubmitted" if action is A.RESUBMIT else "submitted"
        else:
            done = "updated" if saved.state == S.CHANGES_REQUESTED else "saved"
    except ProposalError as error:
        db.session.rollback()
        if error.status == 404:
            abort(404)
        fresh = services.get_proposal(db.session, proposal.id) if proposal else None
        return _form_page(form, fresh, status=_status(error.status), notice=error.message)
    db.session.commit()
    if sending_refused is not None:
        return _form_page(form, saved, status=_status(sending_refused.status), notice=KEPT_AS_DRAFT)
    return _go_to(url_for("proposals.detail", proposal_id=saved.id, done=done))


@bp.route("/proposals/new", methods=["GET", "POST"])
@members_only
def new():
    if request.method == "POST":
        return _handle_form_post()
    form = ProposalForm(formdata=None, proposer=current_member())
    form.client_key.data = uuid.uuid4().hex
    return _form_page(form)


def _own_editable(proposal_id: int):
    proposal = services.get_proposal(db.session, proposal_id)
    if proposal is None or proposal.proposer_id != current_user.id:
        abort(404)
    return proposal


@bp.route("/proposals/<int:proposal_id>/edit", methods=["GET", "POST"])
@members_only
def edit(proposal_id: int):
    proposal = _own_editable(proposal_id)
    if request.method == "POST":
        return _handle_form_post(proposal)
    if proposal.state not in services.EDITABLE_STATES:
        return redirect(url_for("proposals.detail", proposal_id=proposal.id), code=303)
    form = ProposalForm(formdata=None, obj=proposal, proposer=current_member())
    form.meeting_format.data = proposal.meeting_format.value if proposal.meeting_format else None
    form.acknowledged.data = proposal.acknowledged_anchors
    while len(form.coorganizers.entries):
        form.coorganizers.pop_entry()
    for row in proposal.coorganizers:
        form.coorganizers.append_entry({"name": row.name, "email": row.email, "institution": row.institution})
    if not form.coorganizers.entries:
        form.coorganizers.append_entry()
    return _form_page(form, proposal)


@bp.post("/proposals/validate")
@members_only
def validate_field():
    """Inline validation on blur: the whole form block, of which htmx keeps the one field (hx-select)."""
    form = ProposalForm(proposer=current_member())
    form.for_review = True
    form.validate()
    return _form_page(form, inline=True)


@bp.post("/proposals/similar")
@members_only
def similar():
    form = ProposalForm(proposer=current_member(), meta={"csrf": True})
    form.validate()  # only for CSRF; field problems are the other fields' business
    if form.csrf_token.errors:
        abort(400)
    exclude = request.form.get("proposal_id", "")
    proposal = services.get_proposal(db.session, int(exclude)) if exclude.isdigit() else None
    if proposal is not None and proposal.proposer_id != current_user.id:
        proposal = None
    if not wants_fragment():  # only htmx asks; anyone else gets the whole form back as sent, not a 500
        return _form_page(form, proposal)
    return render("proposals/form.html", "similar", similar=_similar(form, proposal), form=form)


# --- One proposal, and acting on it ----------------------------------------------------------------


def _visible(proposal_id: int):
    proposal = services.get_proposal(db.session, proposal_id)
    if proposal is None or not services.may_see(proposal, current_member()):
        abort(404)
    return proposal


def _detail_page(proposal, *, form=None, status=200, notice=None, problem=None):
    me = current_member()
    form = form or ActionForm(formdata=None)
    form.expected_state.data = proposal.state.value
    reviewer_view = services.is_reviewer(me) and proposal.proposer_id != me.id
    similar = []
    if reviewer_view:
        similar = services.similar_to(
            db.session, proposal.name, proposal.description,
            url_for_group=lambda g: url_for("groups.detail", slug=g.slug),
            url_for_proposal=lambda p: url_for("proposals.detail", proposal_id=p.id),
            viewer=me, exclude_proposal_id=proposal.id,
        )
    return _private(render(
        "proposals/detail.html", "proposal_actions", status=status, proposal=proposal, form=form,
        actions=services.allowed_actions(proposal, me), notice=notice, problem=problem,
        reviewer_view=reviewer_view, is_proposer=proposal.proposer_id == me.id,
        editable=proposal.proposer_id == me.id and proposal.state in services.EDITABLE_STATES,
        guidelines_by_anchor=BY_ANCHOR, formats=FORMAT_LABELS, labels=services.ACTION_LABELS, similar=similar,
    ))


@bp.get("/proposals/<int:proposal_id>")
@members_only
def detail(proposal_id: int):
    proposal = _visible(proposal_id)
    return _detail_page(proposal, notice=DONE_MESSAGES.get(request.args.get("done", "")))


@bp.post("/proposals/<int:proposal_id>/act")
@members_only
def act(proposal_id: int):
    proposal = _visible(proposal_id)
    me = current_member()
    form = ActionForm()
    try:
        action = ProposalAction(request.form.get("action", ""))
        expected = ProposalState(form.expected_state.data) if form.expected_state.data else None
    except ValueError:
        abort(400)
    if not form.validate():
        return _detail_page(proposal, form=form, status=_status(422))
    now = utcnow()
    if action in (A.SUBMIT, A.RESUBMIT) and action in services.allowed_actions(proposal, me):
        try:
            check_limit(PROPOSAL_SUBMISSIONS, me.id)
        except Refusal as refusal:
            return _detail_page(proposal, form=form, status=_status(refusal.status), problem=refusal.message)
    try:
        services.transition(
            db.session, proposal.id, action, actor=me, message=form.message.data or "",
            guidelines=form.guidelines.data, expected_state=expected, now=now,
        )
    except ProposalError as error:
        db.session.rollback()
        if error.status == 404:
            abort(404)
        fresh = services.get_proposal(db.session, proposal_id)
        db.session.refresh(fresh)
        # Forbidden too (403) is shown on the proposal as it now stands: a second reviewer sees the
        # decision that won, and nothing was changed.
        keep = form if error.status == 422 else None
        return _detail_page(fresh, form=keep, status=_status(error.status), problem=error.message)
    db.session.commit()
    return _go_to(url_for("proposals.detail", proposal_id=proposal_id, done=action.value))


# --- The review queue ----------------------------------------------------------------------------


@bp.get("/review")
@members_only
def review():
    if not services.is_reviewer(current_member()):
        abort(403)
    tab = request.args.get("state", "awaiting")
    if tab not in QUEUE_TABS:
        tab = "awaiting"
    label, states = QUEUE_TABS[tab]
    return _private(render(
        "proposals/review.html", proposals=services.review_queue(db.session, states), tab=tab, tabs=QUEUE_TABS,
        tab_label=label,
    ))


# --- Invitations to co-organize --------------------------------------------------------------------


def _invitation_or_problem(token: str):
    try:
        return invitations.load_invitation(db.session, token, now=utcnow()), None
    except GroupError as error:
        return None, error


@bp.get("/invitations/<token>")
def invitation(token: str):
    found, problem = _invitation_or_problem(token)
    if problem is not None:
        return _private(render("proposals/invitation.html", problem=problem.message, status=problem.status))
    return _private(render("proposals/invitation.html", invitation=found, token=token))


@bp.post("/invitations/<token>")
def accept(token: str):
    if not current_user.is_authenticated:
        abort(403)
    found, problem = _invitation_or_problem(token)
    if problem is not None:
        return _private(render("proposals/invitation.html", problem=problem.message, status=problem.status))
    try:
        invitations.accept_invitation(db.session, found, current_member(), now=utcnow())
    except GroupError as error:
        db.session.rollback()
        return _private(render("proposals/invitation.html", invitation=found, token=token,
                               problem=error.message, status=error.status))
    db.session.commit()
    return redirect(url_for("proposals.invitation", token=token), code=303)
