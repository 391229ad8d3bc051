"""The organizer-name rule: one group lists each organizer under a name nobody else there has, compared
without case, Unicode form or spacing; every way of adding an organizer asks the same function."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import create_group, create_proposal, create_user
from webapp.accounts.models import Role
from webapp.db import utcnow
from webapp.groups import invitations
from webapp.groups.invitations import OrganizerInvitation
from webapp.groups.models import GroupOrganizer
from webapp.groups.services import (
    GroupError,
    add_organizer,
    free_organizer_name,
    organizer_name_key,
    organizer_name_taken,
)
from webapp.proposals import services as proposals
from webapp.proposals.models import ProposalAction, ProposalState


def names(session, group) -> list[str]:
    return list(session.scalars(select(GroupOrganizer.name).where(GroupOrganizer.group_id == group.id)
                                .order_by(GroupOrganizer.position, GroupOrganizer.id)))


def test_names_differing_only_in_case_unicode_form_or_spacing_are_the_same_name():
    assert organizer_name_key("Ann Lee") == organizer_name_key("  ann   LEE ") == organizer_name_key("Ａｎｎ Lee")
    assert organizer_name_key("Ann Lee") != organizer_name_key("Ann Leigh")


def test_a_taken_name_gives_way_to_the_next_wanted_name_then_to_a_number(session):
    group = create_group(organizers=["Ann Lee", "ann@example.org"])
    assert organizer_name_taken(session, group.id, "ANN  lee")
    assert free_organizer_name(session, group.id, ["ann lee", "Ann L."]) == "Ann L."
    assert free_organizer_name(session, group.id, ["Ann Lee", "ANN@example.org"]) == "Ann Lee (2)"


def test_inviting_from_the_group_page_refuses_the_same_name_written_otherwise(session):
    group = create_group(organizers=["Ada Seeded"])
    organizer = create_user()
    with pytest.raises(GroupError) as refused:
        invitations.invite_organizer(session, group.id, name="ada  SEEDED", email="ada@example.org",
                                     actor=organizer, now=utcnow())
    assert refused.value.status == 409 and refused.value.field == "name"


def test_accepting_under_a_name_taken_in_another_case_takes_the_account_name(session):
    group = create_group(organizers=["Ada Seeded"])
    invitation = invitations.invite_organizer(session, group.id, name="Nell New", email="nell@example.org",
                                              actor=create_user(), now=utcnow())
    group.organizers.append(GroupOrganizer(name="NELL NEW", position=5))
    nell = create_user(email="nell@example.org", display_name="Nell Newcomer")
    invitations.accept_invitation(session, invitation, nell, now=utcnow())
    assert invitation.organizer.name == "Nell Newcomer" and invitation.organizer.user_id == nell.id


def test_the_cli_lists_someone_whose_display_name_is_taken_by_their_address(session):
    group = create_group(organizers=["grace hopper"])
    create_user(email="grace@example.org", display_name="Grace Hopper")
    added = add_organizer(session, group, "grace@example.org", now=utcnow())
    assert added.organizer.name == "grace@example.org"
    assert names(session, group) == ["grace hopper", "grace@example.org"]


def test_an_approved_proposal_lists_a_co_organizer_named_like_the_proposer_once(session):
    proposer = create_user(display_name="Pat Proposer")
    proposal = create_proposal(proposer, state=ProposalState.SUBMITTED, coorganizers=[
        ("pat  PROPOSER", "pat.other@example.org", ""), ("Nell New", "nell@example.org", "")])
    proposals.transition(session, proposal.id, ProposalAction.APPROVE, actor=create_user(roles=[Role.REVIEWER]),
                         now=utcnow())
    assert names(session, proposal.group) == ["Pat Proposer", "Nell New"]
    assert [i.email for i in session.scalars(select(OrganizerInvitation))] == ["nell@example.org"]


def test_a_proposal_cannot_name_two_co_organizers_alike(signed_in_client, session):
    from tests.proposals.test_views import complete_form

    client = signed_in_client(create_user())
    session.commit()
    response = client.post("/proposals/new", data=complete_form(
        client, send="1", **{"coorganizers-1-name": "NELL  new", "coorganizers-1-email": "nell2@example.org",
                             "coorganizers-1-institution": ""}))
    assert response.status_code == 422 and "Each co-organizer needs their own name." in response.get_data(as_text=True)
