"""Two reviewers deciding at the same moment: one decision wins, the other sees it, nothing twice."""

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.factories import create_proposal, create_user
from webapp.accounts.models import Role
from webapp.db import db, utcnow
from webapp.groups.models import Group
from webapp.outbox.models import OutboxMail
from webapp.proposals import services
from webapp.proposals.models import Proposal, ProposalAction, ProposalState, ProposalTransition
from webapp.proposals.services import ProposalError


@pytest.fixture(autouse=True)
def _postgres_only(db_kind):
    if db_kind != "postgres":
        pytest.skip("row locks between threads: PostgreSQL")


def test_two_reviewers_deciding_at_once_write_one_decision(app, session):
    proposal = create_proposal(state=ProposalState.SUBMITTED)
    reviewers = [create_user(roles=[Role.REVIEWER], display_name=f"Reviewer {i}") for i in range(2)]
    proposal_id, reviewer_ids = proposal.id, [r.id for r in reviewers]
    session.commit()
    session.remove()

    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def decide(reviewer_id: int, action: ProposalAction) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                reviewer = db.session.get(type(reviewers[0]), reviewer_id)
                services.transition(db.session, proposal_id, action, actor=reviewer, message="My call.",
                                    expected_state=ProposalState.SUBMITTED, now=utcnow())
                db.session.commit()
                outcomes[action] = "won"
            except ProposalError as refused:
                db.session.rollback()
                outcomes[action] = refused
            except BaseException as exc:  # noqa: BLE001 - reported below
                outcomes[action] = SimpleNamespace(unexpected=exc)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=decide, args=(reviewer_ids[0], ProposalAction.APPROVE)),
        threading.Thread(target=decide, args=(reviewer_ids[1], ProposalAction.DECLINE)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    won = [action for action, outcome in outcomes.items() if outcome == "won"]
    lost = [outcome for outcome in outcomes.values() if isinstance(outcome, ProposalError)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert lost[0].status == 403 and "has already" in lost[0].message
    proposal = db.session.get(Proposal, proposal_id)
    expected_state = ProposalState.APPROVED if won[0] is ProposalAction.APPROVE else ProposalState.DECLINED
    assert proposal.state == expected_state
    assert db.session.scalar(select(func.count()).select_from(ProposalTransition)) == 1
    assert db.session.scalar(select(func.count()).select_from(Group)) == (1 if expected_state == "approved" else 0)
    assert db.session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.kind.in_(["proposal_approve", "proposal_decline"]))) == 1
