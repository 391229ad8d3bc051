"""Proposals' operations: save a draft, move a proposal through its states, approve into a group.

`transition()` is the one door every state change goes through (views, tests, the CLI alike):
it locks the proposal's row, checks the move against TRANSITIONS and the actor's part, records
who did it, when and why, and queues the mails, all in the caller's transaction.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import fuzz, utils
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from webapp.accounts.models import Role, User, normalize_email
from webapp.db import lock_row
from webapp.groups.invitations import invite_coorganizer
from webapp.groups.models import Group, GroupOrganizer
from webapp.groups.services import append_organizer, organizer_name_taken
from webapp.outbox.templated import queue_templated_mail
from webapp.proposals.guidelines import BY_ANCHOR, COMMITMENTS
from webapp.proposals.models import (
    AWAITING_REVIEW,
    OPEN_STATES,
    Proposal,
    ProposalAction,
    ProposalCoorganizer,
    ProposalState,
    ProposalTransition,
)
from webapp.refusals import Refusal
from webapp.slugs import unique_slug
from webapp.urls import absolute_url

S, A = ProposalState, ProposalAction
PROPOSER, REVIEWER, EITHER = "proposer", "reviewer", "either"

# (state, action) -> (next state, who may do it). Anything not listed is not a legal move.
TRANSITIONS: dict[tuple[ProposalState, ProposalAction], tuple[ProposalState, str]] = {
    (S.DRAFT, A.SUBMIT): (S.SUBMITTED, PROPOSER),
    (S.DRAFT, A.WITHDRAW): (S.WITHDRAWN, PROPOSER),
    (S.SUBMITTED, A.COMMENT): (S.SUBMITTED, EITHER),
    (S.SUBMITTED, A.REQUEST_CHANGES): (S.CHANGES_REQUESTED, REVIEWER),
    (S.SUBMITTED, A.APPROVE): (S.APPROVED, REVIEWER),
    (S.SUBMITTED, A.DECLINE): (S.DECLINED, REVIEWER),
    (S.SUBMITTED, A.WITHDRAW): (S.WITHDRAWN, PROPOSER),
    (S.CHANGES_REQUESTED, A.COMMENT): (S.CHANGES_REQUESTED, EITHER),
    (S.CHANGES_REQUESTED, A.RESUBMIT): (S.RESUBMITTED, PROPOSER),
    (S.CHANGES_REQUESTED, A.WITHDRAW): (S.WITHDRAWN, PROPOSER),
    (S.RESUBMITTED, A.COMMENT): (S.RESUBMITTED, EITHER),
    (S.RESUBMITTED, A.REQUEST_CHANGES): (S.CHANGES_REQUESTED, REVIEWER),
    (S.RESUBMITTED, A.APPROVE): (S.APPROVED, REVIEWER),
    (S.RESUBMITTED, A.DECLINE): (S.DECLINED, REVIEWER),
    (S.RESUBMITTED, A.WITHDRAW): (S.WITHDRAWN, PROPOSER),
}
# A reviewer's request or decision must say why; a comment must say something.
MESSAGE_REQUIRED = {A.COMMENT, A.REQUEST_CHANGES, A.DECLINE}
EDITABLE_STATES = (S.DRAFT, S.CHANGES_REQUESTED)
ACTION_VERBS = {
    A.SUBMIT: "submitted", A.COMMENT: "commented on", A.REQUEST_CHANGES: "asked for changes to",
    A.RESUBMIT: "resubmitted", A.APPROVE: "approved", A.DECLINE: "declined", A.WITHDRAW: "withdrawn",
}
ACTION_LABELS = {
    A.SUBMIT: "Submitted", A.COMMENT: "Commented", A.REQUEST_CHANGES: "Asked for changes",
    A.RESUBMIT: "Resubmitted", A.APPROVE: "Approved", A.DECLINE: "Declined", A.WITHDRAW: "Withdrew",
}


class ProposalError(Refusal):
    """A proposal action refused: not allowed, not legal in this state, or already decided."""

    default_status = 403


# --- Who may see and do what ---------------------------------------------------------------------


def is_reviewer(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", True) and user.has_role(Role.REVIEWER))


def may_see(proposal: Proposal, user) -> bool:
    """The proposer always; reviewers once it was submitted (a draft is the proposer's alone)."""
    if user is None or not getattr(user, "is_authenticated", True):
        return False
    if proposal.proposer_id == user.id:
        return True
    return is_reviewer(user) and proposal.state != S.DRAFT


def allowed_actions(proposal: Proposal, user) -> list[ProposalAction]:
    """What this user may do to this proposal now, in the table's order (for the buttons)."""
    return [action for action in ProposalAction if _refusal(proposal, action, user) is None]


def _refusal(proposal: Proposal, action: ProposalAction, actor) -> ProposalError | None:
    if actor is None or not getattr(actor, "is_authenticated", True):
        return ProposalError("Please sign in first.", 403)
    if not may_see(proposal, actor):
        return ProposalError("We couldn’t find that proposal.", 404)
    rule = TRANSITIONS.get((proposal.state, action))
    if rule is None:
        return ProposalError(
            f"A proposal that is {proposal.state.label.lower()} can’t be {ACTION_VERBS[action]} now.", 403
        )
    _next, who = rule
    is_proposer = proposal.proposer_id == actor.id
    # Nobody reviews their own proposal, even a reviewer.
    reviewer = is_reviewer(actor) and not is_proposer
    if (who == PROPOSER and not is_proposer) or (who == REVIEWER and not reviewer) or (
        who == EITHER and not (is_proposer or reviewer)
    ):
        return ProposalError("Only the proposer or a reviewer can do that." if who == EITHER else
                             f"Only {'the proposer' if who == PROPOSER else 'a reviewer'} can do that.", 403)
    return None


# --- Locking ------------------------------------------------------------------------------------


def lock_proposal(session: Session, proposal_id: int) -> Proposal:
    """Take the proposal's row lock for the rest of the transaction and return it fresh.

    A no-op UPDATE is the lock: a row lock on PostgreSQL, the write lock on SQLite. A second
    reviewer deciding at the same moment waits here, then reads the state the first one wrote.
    """
    proposal = lock_row(session, Proposal, proposal_id, Proposal.state)
    if proposal is None:
        raise ProposalError("We couldn’t find that proposal.", 404)
    return proposal


# --- The one transition function ----------------------------------------------------------------


def transition(
    session: Session,
    proposal_id: int,
    action: ProposalAction,
    *,
    actor,
    message: str = "",
    guidelines: list[str] | None = None,
    expected_state: ProposalState | None = None,
    now: datetime,
) -> ProposalTransition:
    """Move the proposal by `action`, or raise ProposalError and change nothing."""
    action = ProposalAction(action)
    proposal = lock_proposal(session, proposal_id)
    if expected_state is not None and proposal.state != expected_state and may_see(proposal, actor):
        # Someone acted between the page being shown and this button being pressed (a second reviewer,
        # a replayed form): refused like any other transition the state no longer allows, with the
        # decision that won in the message.
        raise ProposalError(conflict_message(proposal), 403)
    if refusal := _refusal(proposal, action, actor):
        raise refusal
    message = (message or "").strip()
    if action in MESSAGE_REQUIRED and not message:
        raise ProposalError("Please write a message: the proposer reads it.", 422)
    anchors = [a for a in (guidelines or []) if a in BY_ANCHOR]
    if action in (A.SUBMIT, A.RESUBMIT):
        if problems := submission_problems(proposal):
            raise ProposalError("This proposal isn’t complete yet: " + " ".join(problems), 422)
        if duplicate := _open_duplicate(session, proposal):
            raise ProposalError(
                f"You already have a proposal called “{duplicate.name}” under review. "
                "Withdraw one of them, or give this one another name.", 409
            )

    from_state = proposal.state
    to_state, _who = TRANSITIONS[(from_state, action)]
    record = ProposalTransition(
        proposal=proposal, actor_id=actor.id, action=action, from_state=from_state, to_state=to_state,
        message=message, guidelines=" ".join(anchors), created_at=now,
    )
    session.add(record)
    proposal.state = to_state
    proposal.updated_at = now
    if action in (A.SUBMIT, A.RESUBMIT):
        proposal.submitted_at = now
    if to_state in (S.APPROVED, S.DECLINED):
        proposal.decided_at = now
    session.flush()

    if action is A.APPROVE:
        create_group_from(session, proposal, now=now)
    _queue_mails(session, proposal, record, actor=actor, now=now)
    return record


def conflict_message(proposal: Proposal) -> str:
    last = proposal.transitions[-1] if proposal.transitions else None
    who = (last.actor.display_name or "Someone") if last and last.actor else "Someone"
    if last is not None and last.action in (A.APPROVE, A.DECLINE, A.REQUEST_CHANGES, A.WITHDRAW, A.RESUBMIT):
        verb = ACTION_VERBS[last.action].removesuffix(" to")
        return (f"{who} has already {verb} this proposal; it is now {proposal.state.label.lower()}. "
                "Nothing was changed by your action.")
    return (f"This proposal changed while you were reading it; it is now {proposal.state.label.lower()}. "
            "Nothing was changed by your action.")


def submission_problems(proposal: Proposal) -> list[str]:
    """What a proposal still lacks before it can go to the reviewers (the form says it per field)."""
    problems = []
    required = {
        "name": "a group name", "topic": "a topic", "description": "a description", "need": "the need it serves",
        "difference": "how it differs from existing groups", "cadence": "how often it will meet",
        "first_event": "a first event idea",
    }
    missing = [label for attr, label in required.items() if not getattr(proposal, attr).strip()]
    if proposal.meeting_format is None:
        missing.append("a format")
    if missing:
        problems.append("Please add " + ", ".join(missing) + ".")
    if not proposal.coorganizers:
        problems.append("Please name at least one co-organizer.")
    if set(g.anchor for g in COMMITMENTS) - set(proposal.acknowledged_anchors):
        problems.append("Please acknowledge each of the organizers’ commitments.")
    return problems


def _name_key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _open_duplicate(session: Session, proposal: Proposal) -> Proposal | None:
    others = session.scalars(
        select(Proposal).where(
            Proposal.proposer_id == proposal.proposer_id, Proposal.id != proposal.id,
            Proposal.state.in_(OPEN_STATES),
        )
    )
    key = _name_key(proposal.name)
    return next((other for other in others if _name_key(other.name) == key), None)


# --- Drafts ---------------------------------------------------------------------------------------


@dataclass
class ProposalFields:
    """What the form collected, already validated for length, control characters and shape."""

    name: str = ""
    topic: str = ""
    description: str = ""
    need: str = ""
    difference: str = ""
    meeting_format: str | None = None
    cadence: str = ""
    first_event: str = ""
    acknowledged: list[str] = field(default_factory=list)
    coorganizers: list[dict] = field(default_factory=list)  # name, email, institution


def save_proposal(
    session: Session, proposal_id: int | None, fields: ProposalFields, *, actor, client_key: str, now: datetime
) -> Proposal:
    """Create the draft (once per form, by client_key) or update the proposer's editable proposal."""
    if proposal_id is None:
        proposal = session.scalar(
            select(Proposal).where(Proposal.proposer_id == actor.id, Proposal.client_key == client_key)
        )
        if proposal is None:
            proposal = Proposal(proposer_id=actor.id, client_key=client_key, state=S.DRAFT, created_at=now)
            session.add(proposal)
            session.flush()
        proposal_id = proposal.id
    proposal = lock_proposal(session, proposal_id)
    if proposal.proposer_id != actor.id:
        raise ProposalError("We couldn’t find that proposal.", 404)
    if proposal.state not in EDITABLE_STATES:
        raise ProposalError(
            f"This proposal is {proposal.state.label.lower()}, so it can’t be edited now. Nothing was changed.", 403
        )
    for attr in ("name", "topic", "description", "need", "difference", "cadence", "first_event"):
        setattr(proposal, attr, getattr(fields, attr) or "")
    proposal.meeting_format = fields.meeting_format or None
    proposal.acknowledged = " ".join(a for a in fields.acknowledged if a in BY_ANCHOR)
    proposal.coorganizers = [
        ProposalCoorganizer(position=i, name=row.get("name") or "", email=normalize_email(row.get("email") or ""),
                            institution=row.get("institution") or "")
        for i, row in enumerate(fields.coorganizers)
    ]
    proposal.updated_at = now
    session.flush()
    return proposal


# --- Approval: the group, its organizers, invitations --------------------------------------------


def create_group_from(session: Session, proposal: Proposal, *, now: datetime) -> Group:
    """The approved proposal's group, with its proposer and co-organizers as organizers."""
    group = Group(
        slug=unique_slug(session, Group.slug, proposal.name, max_length=70, fallback=f"group-{proposal.id}"),
        name=proposal.name,
        description=proposal.description,
        is_active=True,
        created_at=now,
    )
    proposer = proposal.proposer
    group.organizers.append(GroupOrganizer(
        name=proposer.display_name or proposer.email, role="Organizer", position=0,
        user_id=proposer.id, email=proposer.email,
    ))
    session.add(group)
    session.flush()
    proposal.group_id = group.id
    for row in proposal.coorganizers:
        if organizer_name_taken(session, group.id, row.name):
            continue  # a name the list already has is taken to be that person: it names each person once
        account = session.scalar(select(User).where(User.email == normalize_email(row.email)))
        organizer = append_organizer(session, group, names=[row.name], role="Co-organizer",
                                     user_id=account.id if account else None, email=normalize_email(row.email))
        if account is None:
            invite_coorganizer(session, organizer, proposal=proposal, now=now)
    return group


# --- Mails ---------------------------------------------------------------------------------------


def proposal_url(proposal: Proposal) -> str:
    return absolute_url("proposals.detail", proposal_id=proposal.id)


def _queue_mails(session: Session, proposal: Proposal, record: ProposalTransition, *, actor, now) -> None:
    context = dict(proposal=proposal, record=record, actor=actor, url=proposal_url(proposal),
                   guidelines=[BY_ANCHOR[a] for a in record.guideline_anchors],
                   guidelines_url=absolute_url("proposals.guidelines"))
    if record.action in (A.SUBMIT, A.RESUBMIT):
        reviewers = session.scalars(
            select(User).where(User.roles.any(role=Role.REVIEWER)).order_by(User.id)
        )
        for reviewer in reviewers:
            if reviewer.id == proposal.proposer_id:
                continue
            queue_templated_mail(
                session, kind="proposal_submitted", to=reviewer.email, context=dict(context, reviewer=reviewer),
                dedup_key=f"proposal:{proposal.id}:transition:{record.id}:reviewer:{reviewer.id}",
                now=now,
            )
    elif actor.id == proposal.proposer_id and record.action in (A.COMMENT, A.WITHDRAW) and record.from_state != S.DRAFT:
        for reviewer in _reviewers_to_tell(session, proposal):
            queue_templated_mail(
                session, kind=f"proposal_proposer_{record.action.value}", template="proposal_reply",
                to=reviewer.email, context=dict(context, reviewer=reviewer),
                dedup_key=f"proposal:{proposal.id}:transition:{record.id}:reviewer:{reviewer.id}",
                now=now,
            )
    elif actor.id != proposal.proposer_id and record.action in (A.COMMENT, A.REQUEST_CHANGES, A.APPROVE, A.DECLINE):
        if proposal.group is not None:
            context["group_url"] = absolute_url("groups.detail", slug=proposal.group.slug)
        queue_templated_mail(
            session, kind=f"proposal_{record.action.value}", template="proposal_decision",
            to=proposal.proposer.email, context=context,
            dedup_key=f"proposal:{proposal.id}:transition:{record.id}:proposer",
            now=now,
        )


def _reviewers_to_tell(session: Session, proposal: Proposal) -> list[User]:
    """Who hears the proposer's answer: the reviewers who took part, or every reviewer while none has."""
    reviewers = list(session.scalars(
        select(User).where(User.roles.any(role=Role.REVIEWER), User.id != proposal.proposer_id).order_by(User.id)
    ))
    took_part = {t.actor_id for t in proposal.transitions if t.actor_id != proposal.proposer_id}
    return [r for r in reviewers if r.id in took_part] or reviewers


# --- Lists and look-ups ----------------------------------------------------------------------------


def get_proposal(session: Session, proposal_id: int) -> Proposal | None:
    return session.scalar(
        select(Proposal).where(Proposal.id == proposal_id).options(
            selectinload(Proposal.coorganizers),
            selectinload(Proposal.transitions).selectinload(ProposalTransition.actor),
        )
    )


def proposals_of(session: Session, user) -> list[Proposal]:
    return list(session.scalars(
        select(Proposal).where(Proposal.proposer_id == user.id).order_by(Proposal.updated_at.desc(), Proposal.id.desc())
    ))


def review_queue(session: Session, states) -> list[Proposal]:
    """Proposals in these states, the longest waiting first."""
    return list(session.scalars(
        select(Proposal).where(Proposal.state.in_(list(states)))
        .options(selectinload(Proposal.proposer))
        .order_by(Proposal.submitted_at.asc(), Proposal.id.asc())
    ))


def count_awaiting_review(session: Session) -> int:
    return session.scalar(select(func.count(Proposal.id)).where(Proposal.state.in_(AWAITING_REVIEW))) or 0


# --- Similar groups and proposals ------------------------------------------------------------------


@dataclass
class Similar:
    kind: str  # "group" or "proposal"
    title: str
    url: str | None
    score: float
    state: ProposalState | None = None


SIMILAR_THRESHOLD = 62.0


def _score(name: str, description: str, other_name: str, other_description: str) -> float:
    """How alike two groups read: names weigh most; descriptions help once they are long enough."""
    scores = []
    if name and other_name:
        scores.append(fuzz.token_set_ratio(name, other_name, processor=utils.default_process))
        scores.append(fuzz.WRatio(name, other_name, processor=utils.default_process) * 0.95)
    if len(description) >= 20 and other_description:
        scores.append(fuzz.token_set_ratio(description, other_description, processor=utils.default_process) * 0.9)
    if name and other_description:
        scores.append(fuzz.partial_ratio(name, other_description, processor=utils.default_process) * 0.8)
    return max(scores, default=0.0)


def similar_to(
    session: Session, name: str, description: str, *, url_for_group, url_for_proposal, viewer=None,
    exclude_proposal_id: int | None = None, limit: int = 5,
) -> list[Similar]:
    """The existing groups and open proposals most like this name and description."""
    name, description = (name or "").strip()[:200], (description or "").strip()[:2000]
    if len(name) < 3 and len(description) < 20:
        return []
    found: list[Similar] = []
    for group in session.scalars(select(Group)):
        score = _score(name, description, group.name, group.description)
        if score >= SIMILAR_THRESHOLD:
            found.append(Similar("group", group.name, url_for_group(group), score))
    open_proposals = session.scalars(
        select(Proposal).where(Proposal.state.in_(OPEN_STATES), Proposal.id != (exclude_proposal_id or 0))
    )
    for proposal in open_proposals:
        score = _score(name, description, proposal.name, proposal.description)
        if score >= SIMILAR_THRESHOLD:
            # Only the proposer and reviewers may open a proposal; others see its name alone.
            url = url_for_proposal(proposal) if viewer is not None and may_see(proposal, viewer) else None
            found.append(Similar("proposal", proposal.name, url, score, proposal.state))
    found.sort(key=lambda s: -s.score)
    return found[:limit]
