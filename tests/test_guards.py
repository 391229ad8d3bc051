"""The rate-limit table's one check: asked before a service runs, it refuses with the limit's own
polite message and a 429, and looking (count=False) uses up nothing."""

import pytest

from webapp.guards import GROUP_INVITATIONS, PROPOSAL_SUBMISSIONS, check_limit, count_towards
from webapp.refusals import Refusal


def test_check_limit_counts_and_then_refuses_with_the_limits_message(app):
    app.config["PROPOSAL_SUBMIT_LIMIT"] = "2 per hour"
    check_limit(PROPOSAL_SUBMISSIONS, "member-1")
    check_limit(PROPOSAL_SUBMISSIONS, "member-1")
    with pytest.raises(Refusal) as refused:
        check_limit(PROPOSAL_SUBMISSIONS, "member-1")
    assert (refused.value.status, refused.value.message) == (429, PROPOSAL_SUBMISSIONS.message)
    check_limit(PROPOSAL_SUBMISSIONS, "member-2")  # each member has their own allowance


def test_looking_uses_up_nothing_until_the_action_is_counted(app):
    app.config["GROUP_INVITE_LIMIT"] = "1 per hour"
    for _ in range(3):  # e.g. invitations the service refused: looked at, never counted
        check_limit(GROUP_INVITATIONS, "organizer-1", count=False)
    count_towards(GROUP_INVITATIONS, "organizer-1")
    with pytest.raises(Refusal) as refused:
        check_limit(GROUP_INVITATIONS, "organizer-1", count=False)
    assert refused.value.status == 429
