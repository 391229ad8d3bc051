"""The proposal rulebook: every state × every action × every role, and what approval creates."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import create_group, create_proposal, create_user
from webapp.accounts.models import Role
from webapp.db import utcnow
from webapp.groups import invitations
from webapp.groups.invitations import OrganizerInvitation
from webapp.groups.models import Group, GroupOrganizer
from webapp.groups.services import GroupError
from webapp.outbox.models import OutboxMail
from webapp.proposals import services
from webapp.proposals.models import (
    Proposal,
    ProposalAction,
    ProposalState,
    ProposalTransition,
)
from webapp.proposals.services import ProposalError

S, A = ProposalState, ProposalAction
ROLES = ["proposer", "reviewer", "proposer_who_reviews", "other_member", "signed_out"]

# The rulebook, written out here independently of services.TRANSITIONS:
# (state, action) -> (next state, roles that may do it).
LEGAL = {
    (S.DRAFT, A.SUBMIT): (S.SUBMITTED, {"proposer", "proposer_who_reviews"}),
    (S.DRAFT, A.WITHDRAW): (S.WITHDRAWN, {"proposer", "proposer_who_reviews"}),
    (S.SUBMITTED, A.COMMENT): (S.SUBMITTED, {"proposer", "reviewer", "proposer_who_reviews"}),
    (S.SUBMITTED, A.REQUEST_CHANGES): (S.CHANGES_REQUESTED, {"reviewer"}),
    (S.SUBMITTED, A.APPROVE): (S.APPROVED, {"reviewer"}),
    (S.SUBMITTED, A.DECLINE): (S.DECLINED, {"reviewer"}),
    (S.SUBMITTED, A.WITHDRAW): (S.WITHDRAWN, {"proposer", "proposer_who_reviews"}),
    (S.CHANGES_REQUESTED, A.COMMENT): (S.CHANGES_REQUESTED, {"proposer", "reviewer", "proposer_who_reviews"}),
    (S.CHANGES_REQUESTED, A.RESUBMIT): (S.RESUBMITTED, {"proposer", "proposer_who_reviews"}),
    (S.CHANGES_REQUESTED, A.WITHDRAW): (S.WITHDRAWN, {"proposer", "proposer_who_reviews"}),
    (S.RESUBMITTED, A.COMMENT): (S.RESUBMITTED, {"proposer", "reviewer", "proposer_who_reviews"}),
    (S.RESUBMITTED, A.REQUEST_CHANGES): (S.CHANGES_REQUESTED, {"reviewer"}),
    (S.RESUBMITTED, A.APPROVE): (S.APPROVED, {"reviewer"}),
    (S.RESUBMITTED, A.DECLINE): (S.DECLINED, {"reviewer"}),
    (S.RESUBMITTED, A.WITHDRAW): (S.WITHDRAWN, {"proposer", "proposer_who_reviews"}),
}


def _expected_refusal(state, role):
    """404 for whoever may not see the proposal at all, 403 for a visible but forbidden move."""
    if role == "signed_out":
        return 403
    if role == "other_member" or (role == "reviewer" and state == S.DRAFT):
        return 404
    return 403


@pytest.mark.parametrize(("state", "action", "role"), list(itertools.product(S, A, ROLES)))
def test_transition_table(session, state, action, role):
    proposer_roles = [Role.REVIEWER] if role == "proposer_who_reviews" else []
    proposer = create_user(roles=proposer_roles)
    create_user(roles=[Role.REVIEWER], email="someone-reviewing@example.org")
    proposal = create_proposal(proposer, state=state)
    actor = {
        "proposer": proposer,
        "proposer_who_reviews": proposer,
        "reviewer": create_user(roles=[Role.REVIEWER]),
        "other_member": create_user(),
        "signed_out": None,
    }[role]
    before = session.scalar(select(func.count()).select_from(ProposalTransition))
    now = utcnow()

    rule = LEGAL.get((state, action))
    if rule is not None and role in rule[1]:
        record = services.transition(session, proposal.id, action, actor=actor, message="Because.", now=now)
        session.refresh(proposal)
        assert proposal.state == rule[0]
        assert (record.actor_id, record.action, record.from_state, record.to_state, record.message) == (
            actor.id, action, state, rule[0], "Because.")
        assert session.scalar(select(func.count()).select_from(ProposalTransition)) == before + 1
    else:
        with pytest.raises(ProposalError) as refused:
            services.transition(session, proposal.id, action, actor=actor, message="Because.", now=now)
        assert refused.value.status == _expected_refusal(state, role)
        session.refresh(proposal)
        assert proposal.state == state
        assert session.scalar(select(func.count()).select_from(ProposalTransition)) == before
        assert session.scalar(select(func.count()).select_from(Group)) == 0


def test_the_service_table_is_the_rulebook():
    assert {key: value[0] for key, value in services.TRANSITIONS.items()} == {k: v[0] for k, v in LEGAL.items()}


@pytest.mark.parametrize("action", [A.REQUEST_CHANGES, A.DECLINE, A.COMMENT])
def test_requests_declines_and_comments_need_a_message(session, action):
    proposal = create_proposal(state=S.SUBMITTED)
    reviewer = create_user(roles=[Role.REVIEWER])
    with pytest.raises(ProposalError) as refused:
        services.transition(session, proposal.id, action, actor=reviewer, message="  ", now=utcnow())
    assert refused.value.status == 422
    assert proposal.state == S.SUBMITTED


def test_an_incomplete_draft_cannot_be_submitted(session):
    proposal = create_proposal(description="", coorganizers=[], acknowledged="")
    with pytest.raises(ProposalError) as refused:
        services.transition(session, proposal.id, A.SUBMIT, actor=proposal.proposer, now=utcnow())
    assert "a description" in refused.value.message and "co-organizer" in refused.value.message
    assert "commitments" in refused.value.message


def test_a_second_open_proposal_with_the_same_name_is_refused(session):
    first = create_proposal(state=S.SUBMITTED, name="Metadata Circle")
    second = create_proposal(first.proposer, name="  metadata   CIRCLE ")
    with pytest.raises(ProposalError) as refused:
        services.transition(session, second.id, A.SUBMIT, actor=first.proposer, now=utcnow())
    assert refused.value.status == 409 and "already have a proposal" in refused.value.message


def test_a_decision_on_a_changed_proposal_says_who_won(session):
    proposal = create_proposal(state=S.SUBMITTED)
    ada, bob = create_user(roles=[Role.REVIEWER], display_name="Ada"), create_user(roles=[Role.REVIEWER])
    services.transition(session, proposal.id, A.APPROVE, actor=ada, expected_state=S.SUBMITTED, now=utcnow())
    with pytest.raises(ProposalError) as refused:
        services.transition(session, proposal.id, A.DECLINE, actor=bob, message="No.", expected_state=S.SUBMITTED,
                            now=utcnow())
    assert refused.value.status == 403
    assert refused.value.message.startswith("Ada has already approved this proposal")
    assert session.scalar(select(func.count()).select_from(Group)) == 1


def test_submitting_mails_every_reviewer_but_the_proposer(session):
    reviewers = [create_user(roles=[Role.REVIEWER]) for _ in range(2)]
    proposer = create_user(roles=[Role.REVIEWER])
    proposal = create_proposal(proposer)
    services.transition(session, proposal.id, A.SUBMIT, actor=proposer, now=utcnow())
    mails = list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))
    assert [m.recipient for m in mails] == [r.email for r in reviewers]
    assert all(m.kind == "proposal_submitted" and proposal.name in m.subject for m in mails)
    assert f"http://meetups.test/proposals/{proposal.id}" in mails[0].body_text


def test_asking_for_changes_mails_the_proposer_quoting_the_reviewer(session):
    proposal = create_proposal(state=S.SUBMITTED)
    reviewer = create_user(roles=[Role.REVIEWER], display_name="Rita Reviewer")
    services.transition(session, proposal.id, A.REQUEST_CHANGES, actor=reviewer,
                        message="Please name a second organizer.\nThanks!", guidelines=["share-the-load", "bogus"],
                        now=utcnow())
    mail = session.scalars(select(OutboxMail)).one()
    assert mail.recipient == proposal.proposer.email and mail.kind == "proposal_request_changes"
    assert "> Please name a second organizer.\n> Thanks!" in mail.body_text
    assert "Rita Reviewer wrote" in mail.body_text
    assert "http://meetups.test/guidelines#share-the-load" in mail.body_text
    assert proposal.transitions[-1].guidelines == "share-the-load"


def test_the_proposers_answer_is_mailed_to_the_reviewers_who_took_part(session):
    proposal = create_proposal(state=S.SUBMITTED)
    rita = create_user(roles=[Role.REVIEWER], display_name="Rita Reviewer")
    create_user(roles=[Role.REVIEWER], display_name="Bystander")
    services.transition(session, proposal.id, A.REQUEST_CHANGES, actor=rita, message="Who else organizes?",
                        now=utcnow())
    services.transition(session, proposal.id, A.COMMENT, actor=proposal.proposer,
                        message="Sam from Queens Library.\nShe agreed today.", now=utcnow())
    answer = session.scalars(select(OutboxMail).where(OutboxMail.kind == "proposal_proposer_comment")).one()
    assert answer.recipient == rita.email and proposal.name in answer.subject
    assert "> Sam from Queens Library.\n> She agreed today." in answer.body_text
    assert "<p>Sam from Queens Library.\nShe agreed today.</p>" in answer.body_html
    assert f"http://meetups.test/proposals/{proposal.id}" in answer.body_text


def test_before_any_review_the_proposers_answer_and_withdrawal_reach_every_reviewer(session):
    proposer = create_user(roles=[Role.REVIEWER])  # a reviewer's own proposal: they are not told
    proposal = create_proposal(proposer, state=S.SUBMITTED)
    reviewers = [create_user(roles=[Role.REVIEWER]) for _ in range(2)]
    services.transition(session, proposal.id, A.COMMENT, actor=proposer, message="One more thing.", now=utcnow())
    services.transition(session, proposal.id, A.WITHDRAW, actor=proposer, now=utcnow())
    mails = list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))
    assert [(m.kind, m.recipient) for m in mails] == [
        *[("proposal_proposer_comment", r.email) for r in reviewers],
        *[("proposal_proposer_withdraw", r.email) for r in reviewers],
    ]
    assert "has withdrawn" in mails[-1].body_text and mails[-1].subject.startswith("Proposal withdrawn")


def test_withdrawing_a_draft_tells_no_reviewer(session):
    create_user(roles=[Role.REVIEWER])
    proposal = create_proposal()
    services.transition(session, proposal.id, A.WITHDRAW, actor=proposal.proposer, now=utcnow())
    assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_approval_creates_the_group_with_its_organizers_and_invites_the_new_ones(session):
    create_group(slug="metadata-practitioners", name="Something else")
    proposer = create_user(display_name="Pat Proposer")
    known = create_user(email="known@example.org", display_name="Kim Known")
    proposal = create_proposal(proposer, state=S.RESUBMITTED, name="Metadata Practitioners", coorganizers=[
        ("Kim Known", "known@example.org", ""), ("Nell New", "NELL@example.org", "Brooklyn Public Library"),
    ])
    reviewer = create_user(roles=[Role.REVIEWER])
    now = utcnow()
    services.transition(session, proposal.id, A.APPROVE, actor=reviewer, message="Welcome!", now=now)

    group = session.scalars(select(Group).where(Group.name == "Metadata Practitioners")).one()
    assert group.slug == "metadata-practitioners-2" and proposal.group_id == group.id
    assert group.description == proposal.description
    organizers = [(o.name, o.role, o.user_id, o.email) for o in group.organizers]
    assert organizers == [
        ("Pat Proposer", "Organizer", proposer.id, proposer.email),
        ("Kim Known", "Co-organizer", known.id, "known@example.org"),
        ("Nell New", "Co-organizer", None, "nell@example.org"),
    ]
    invitation = session.scalars(select(OrganizerInvitation)).one()
    assert invitation.email == "nell@example.org" and invitation.expires_at == now + timedelta(days=14)
    mails = {m.kind: m for m in session.scalars(select(OutboxMail))}
    assert set(mails) == {"proposal_approve", "proposal_invitation"}
    assert "> Welcome!" in mails["proposal_approve"].body_text
    assert mails["proposal_invitation"].recipient == "nell@example.org"
    token = re.search(r"/invitations/(\S+)", mails["proposal_invitation"].body_text).group(1)
    assert invitations.load_invitation(session, token, now=now) == invitation


def test_an_invitation_is_accepted_only_with_its_address_and_before_it_expires(session):
    proposal = create_proposal(state=S.SUBMITTED, coorganizers=[("Nell New", "nell@example.org", "")])
    services.transition(session, proposal.id, A.APPROVE, actor=create_user(roles=[Role.REVIEWER]), now=utcnow())
    invitation = session.scalars(select(OrganizerInvitation)).one()
    stranger = create_user(email="stranger@example.org")
    with pytest.raises(GroupError) as refused:
        invitations.accept_invitation(session, invitation, stranger, now=utcnow())
    assert refused.value.status == 403 and invitation.organizer.user_id is None
    with pytest.raises(GroupError) as expired:
        invitations.accept_invitation(session, invitation, create_user(email="nell@example.org"),
                                      now=utcnow() + timedelta(days=15))
    assert expired.value.status == 410
    nell = session.scalars(select(type(stranger)).where(type(stranger).email == "nell@example.org")).one()
    invitations.accept_invitation(session, invitation, nell, now=utcnow())
    assert session.get(GroupOrganizer, invitation.organizer_id).user_id == nell.id


def test_a_forged_invitation_token_is_not_found(session):
    with pytest.raises(GroupError) as refused:
        invitations.load_invitation(session, "not-a-token", now=utcnow())
    assert refused.value.status == 404


def test_similar_groups_and_open_proposals_are_found_by_name_and_description(session):
    create_group(name="Digital Preservation", slug="digital-preservation",
                 description="Preserving software, multimedia and websites.")
    create_group(name="Economic & Business Librarians", slug="econ")
    open_one = create_proposal(state=S.SUBMITTED, name="Web Archiving Circle")
    create_proposal(state=S.DECLINED, name="Web Archiving Club")
    found = services.similar_to(
        session, "Digital preservation and web archiving", "", url_for_group=lambda g: f"/groups/{g.slug}",
        url_for_proposal=lambda p: f"/proposals/{p.id}", viewer=None,
    )
    titles = [item.title for item in found]
    assert "Digital Preservation" in titles and "Web Archiving Circle" in titles
    assert "Web Archiving Club" not in titles and "Economic & Business Librarians" not in titles
    # Someone who may not open the open proposal sees its name without a link.
    assert next(i for i in found if i.title == open_one.name).url is None


def test_saving_a_draft_twice_with_the_same_form_key_keeps_one_draft(session):
    proposer = create_user()
    fields = services.ProposalFields(name="Zine Librarians", coorganizers=[{"name": "A", "email": "a@example.org"}])
    first = services.save_proposal(session, None, fields, actor=proposer, client_key="k" * 32, now=utcnow())
    again = services.save_proposal(session, None, fields, actor=proposer, client_key="k" * 32, now=utcnow())
    assert first.id == again.id
    assert session.scalar(select(func.count()).select_from(Proposal)) == 1
