"""Proposing, reviewing and inviting over HTTP: forms, permissions and bad input."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_for
from tests.factories import create_group, create_proposal, create_user
from webapp.accounts.models import Role
from webapp.groups.models import Group, GroupOrganizer
from webapp.outbox.models import OutboxMail
from webapp.proposals.guidelines import COMMITMENTS, GUIDELINES
from webapp.proposals.models import Proposal, ProposalState, ProposalTransition

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
S = ProposalState


def complete_form(client, **overrides) -> dict:
    data = {
        "csrf_token": csrf_token_for(client),
        "client_key": "a" * 32,
        "name": "Metadata Practitioners",
        "topic": "Cataloging and metadata",
        "description": "We **describe** collections.",
        "need": "Catalogers working alone.",
        "difference": "No group covers metadata.",
        "meeting_format": "online",
        "cadence": "Every other month",
        "first_event": "A linked-data round-table.",
        "acknowledged": [g.anchor for g in COMMITMENTS],
        "coorganizers-0-name": "Nell New",
        "coorganizers-0-email": "nell@example.org",
        "coorganizers-0-institution": "Brooklyn Public Library",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_guidelines_page_has_a_stable_anchor_for_each_guideline(client):
    html = client.get("/guidelines").get_data(as_text=True)
    for guideline in GUIDELINES:
        assert f'id="{guideline.anchor}"' in html and f'href="#{guideline.anchor}"' in html
    assert "Free and open to all" in html and "captions" in html and "at least two events a year" in html


def test_signed_out_visitors_are_asked_to_sign_in_and_cannot_post(client, session):
    proposal = create_proposal(state=S.SUBMITTED)
    session.commit()
    assert client.get("/proposals/new").status_code == 302
    assert "/sign-in" in client.get(f"/proposals/{proposal.id}").headers["Location"]
    response = client.post(f"/proposals/{proposal.id}/act",
                           data={"csrf_token": csrf_token_for(client), "action": "approve"})
    assert response.status_code == 403
    signed_out_post = client.post("/proposals/new", data=complete_form(client, send="1"))
    assert signed_out_post.status_code == 403  # refused, but the form comes back with what was typed
    assert count(session, ProposalTransition) == 0 and count(session, Proposal) == 1


@pytest.mark.parametrize("lost", ["signed out", "stale form token"])
def test_a_lost_session_keeps_everything_typed_and_saves_nothing(client, session, signed_in_client, lost):
    proposer = create_user()
    session.commit()
    data = complete_form(signed_in_client(proposer), description="A long, careful **description**.")
    if lost == "signed out":
        with client.session_transaction() as flask_session:
            flask_session.pop("_user_id", None)
    else:
        data["csrf_token"] = "expired-token"
    response = client.post("/proposals/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "everything you typed is still here" in html
    for value in ("Metadata Practitioners", "Cataloging and metadata", "A long, careful **description**.",
                  "Nell New", "nell@example.org", "Brooklyn Public Library"):
        assert value in html, value
    assert count(session, Proposal) == 0


def test_submitting_the_form_saves_sends_and_mails_the_reviewers(signed_in_client, session):
    reviewer = create_user(roles=[Role.REVIEWER])
    proposer = create_user()
    session.commit()
    client = signed_in_client(proposer)
    assert 'name="client_key"' in client.get("/proposals/new").get_data(as_text=True)
    response = client.post("/proposals/new", data=complete_form(client, send="1"))
    assert response.status_code == 303
    proposal = session.scalars(select(Proposal)).one()
    assert response.headers["Location"] == f"/proposals/{proposal.id}?done=submitted"
    assert proposal.state == S.SUBMITTED and [c.email for c in proposal.coorganizers] == ["nell@example.org"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your proposal is with the reviewers" in page and "<strong>describe</strong>" in page
    assert [m.recipient for m in session.scalars(select(OutboxMail))] == [reviewer.email]
    # The same form sent again (a double click, a replay) changes nothing.
    again = client.post("/proposals/new", data=complete_form(client, send="1"))
    assert again.status_code == 403 and "can’t be edited now" in again.get_data(as_text=True)
    assert count(session, Proposal) == 1 and count(session, OutboxMail) == 1


def test_a_draft_is_saved_incomplete_and_resumed(signed_in_client, session):
    proposer = create_user()
    session.commit()
    client = signed_in_client(proposer)
    response = client.post("/proposals/new", data={"csrf_token": csrf_token_for(client), "client_key": "b" * 32,
                                                   "name": "Zine Librarians", "save": "1"})
    assert response.status_code == 303
    proposal = session.scalars(select(Proposal)).one()
    assert proposal.state == S.DRAFT and proposal.name == "Zine Librarians"
    edit = client.get(f"/proposals/{proposal.id}/edit").get_data(as_text=True)
    assert 'value="Zine Librarians"' in edit
    assert "Zine Librarians" in client.get("/proposals").get_data(as_text=True)


def test_every_missing_field_gets_its_message_and_typed_values_are_kept(signed_in_client, session):
    client = signed_in_client(create_user())
    session.commit()
    response = client.post("/proposals/new", data=complete_form(
        client, send="1", topic="", description="", meeting_format=None, acknowledged=[],
        **{"coorganizers-0-name": "", "coorganizers-0-email": "", "coorganizers-0-institution": ""}))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("Please say in a few words what the group is about.", "Please describe the group",
                    "Please choose a format.", "Please confirm each commitment",
                    "Please name at least one co-organizer"):
        assert message in html
    assert 'value="Metadata Practitioners"' in html and 'aria-invalid="true"' in html
    assert 'aria-describedby="proposal-topic-hint proposal-topic-error"' in html
    assert count(session, Proposal) == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "x" * 121, "Group name can be at most 120 characters"),
    ("description", "y" * 5001, "Description can be at most 5,000 characters"),
    ("name", "Bad\u202eName", "Please remove line breaks and other special control characters."),
    ("need", "ok\x85not ok", "Please remove special control characters"),
    ("name", "<b>Loud</b>", "HTML tags like &lt;b&gt; aren’t allowed here."),
    ("description", "<script>alert(1)</script>", "HTML isn’t allowed here. Use Markdown instead"),
    ("meeting_format", "underwater", "Please choose one of the formats."),
    ("coorganizers-0-email", "nell@", "Enter an email address like name@example.org."),
])
def test_bad_input_gets_a_clear_message_and_changes_nothing(signed_in_client, session, field, value, message):
    client = signed_in_client(create_user())
    session.commit()
    response = client.post("/proposals/new", data=complete_form(client, send="1", **{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(session, Proposal) == 0 and count(session, OutboxMail) == 0


def test_co_organizer_rows_are_added_and_removed_without_javascript(signed_in_client, session):
    client = signed_in_client(create_user())
    session.commit()
    added = client.post("/proposals/new", data=complete_form(client, add_coorganizer="1")).get_data(as_text=True)
    assert 'id="coorganizers-1-name"' in added and 'value="Nell New"' in added
    assert "Remove co-organizer 2" in added and count(session, Proposal) == 0
    removed = client.post("/proposals/new", data=complete_form(
        client, remove_coorganizer="0", **{"coorganizers-1-name": "Second"})).get_data(as_text=True)
    assert "Nell New" not in removed and 'value="Second"' in removed


def test_inline_validation_and_similar_groups_answer_htmx(signed_in_client, session):
    create_group(name="Digital Preservation", slug="digital-preservation")
    client = signed_in_client(create_user())
    session.commit()
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_token_for(client)}
    checked = client.post("/proposals/validate", data={"name": "x" * 200}, headers=headers)
    assert checked.status_code == 200 and "Group name can be at most 120 characters" in checked.get_data(as_text=True)
    similar = client.post("/proposals/similar", data={"name": "Digital preservation folks"}, headers=headers)
    html = similar.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="similar">') and 'href="/groups/digital-preservation"' in html


def test_similar_groups_asked_without_htmx_answer_with_the_form_not_a_500(signed_in_client, session):
    client = signed_in_client(create_user())
    response = client.post("/proposals/similar", data={"csrf_token": csrf_token_for(client),
                                                       "name": "Zine Librarians", "topic": "Zines"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and '<form id="proposal-form"' in html and 'value="Zine Librarians"' in html
    assert count(session, Proposal) == 0


def test_only_the_proposer_and_reviewers_see_a_proposal(signed_in_client, session):
    proposal = create_proposal(state=S.SUBMITTED)
    draft = create_proposal(proposal.proposer)
    reviewer, stranger = create_user(roles=[Role.REVIEWER]), create_user()
    session.commit()
    client = signed_in_client(stranger)
    assert client.get(f"/proposals/{proposal.id}").status_code == 404
    assert client.get(f"/proposals/{proposal.id}/edit").status_code == 404
    assert client.get("/review").status_code == 403
    client = signed_in_client(reviewer)
    assert client.get(f"/proposals/{proposal.id}").status_code == 200
    assert client.get(f"/proposals/{draft.id}").status_code == 404  # a draft is the proposer's alone
    queue = client.get("/review").get_data(as_text=True)
    assert proposal.name in queue and draft.name not in queue
    assert 'Review <span class="badge">1</span>' in queue


@pytest.mark.parametrize("who", ["stranger", "proposer"])
def test_only_reviewers_act_and_forbidden_attempts_change_nothing(signed_in_client, session, who):
    proposal = create_proposal(state=S.SUBMITTED)
    actor = create_user() if who == "stranger" else proposal.proposer
    session.commit()
    client = signed_in_client(actor)
    response = client.post(f"/proposals/{proposal.id}/act", data={
        "csrf_token": csrf_token_for(client), "action": "approve", "expected_state": "submitted"})
    assert response.status_code == (404 if who == "stranger" else 403)
    assert count(session, ProposalTransition) == 0 and count(session, Group) == 0


def test_a_forged_form_without_csrf_is_refused(signed_in_client, session):
    proposal = create_proposal(state=S.SUBMITTED)
    reviewer = create_user(roles=[Role.REVIEWER])
    session.commit()
    client = signed_in_client(reviewer)
    response = client.post(f"/proposals/{proposal.id}/act", data={"action": "approve"})
    assert response.status_code == 400 and count(session, ProposalTransition) == 0


def test_review_round_trip_with_audit_trail_and_approval(signed_in_client, session):
    proposal = create_proposal(state=S.SUBMITTED, name="Zine Librarians")
    reviewer = create_user(roles=[Role.REVIEWER], display_name="Rita Reviewer")
    session.commit()
    client = signed_in_client(reviewer)
    token = csrf_token_for(client)
    missing = client.post(f"/proposals/{proposal.id}/act", data={
        "csrf_token": token, "action": "request_changes", "expected_state": "submitted"})
    assert missing.status_code == 422 and "Please write a message" in missing.get_data(as_text=True)
    asked = client.post(f"/proposals/{proposal.id}/act", data={
        "csrf_token": token, "action": "request_changes", "expected_state": "submitted",
        "message": "Please add a *second* organizer.", "guidelines": ["share-the-load"]})
    assert asked.status_code == 303
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Rita Reviewer</strong>\n        asked for changes" in page and "<em>second</em>" in page
    assert 'href="/guidelines#share-the-load"' in page
    # A replayed decision form: the state moved on, so nothing is written twice.
    replay = client.post(f"/proposals/{proposal.id}/act", data={
        "csrf_token": token, "action": "request_changes", "expected_state": "submitted", "message": "Again"})
    assert replay.status_code == 403 and "already asked for changes" in replay.get_data(as_text=True)
    assert count(session, ProposalTransition) == 1


def test_the_invitation_link_makes_the_invited_member_an_organizer(signed_in_client, client, session):
    proposal = create_proposal(state=S.SUBMITTED, coorganizers=[("Nell New", "nell@example.org", "")])
    reviewer = create_user(roles=[Role.REVIEWER])
    session.commit()
    signed_in_client(reviewer).post(f"/proposals/{proposal.id}/act", data={
        "csrf_token": csrf_token_for(client), "action": "approve", "expected_state": "submitted"})
    mail = session.scalars(select(OutboxMail).where(OutboxMail.kind == "proposal_invitation")).one()
    path = re.search(r"http://meetups\.test(/invitations/\S+)", mail.body_text).group(1)
    other = create_user(email="other@example.org")
    session.commit()
    signed_in_client(other)
    assert "This invitation was sent to nell@example.org" in client.get(path).get_data(as_text=True)
    assert client.post(path, data={"csrf_token": csrf_token_for(client)}).status_code == 403
    nell = create_user(email="nell@example.org")
    session.commit()
    signed_in_client(nell)
    assert client.post(path, data={"csrf_token": csrf_token_for(client)}).status_code == 303
    assert "You’re an organizer of" in client.get(path).get_data(as_text=True)
    session.expire_all()
    organizer = session.scalars(select(GroupOrganizer).where(GroupOrganizer.name == "Nell New")).one()
    assert organizer.user_id == nell.id
    assert client.get("/invitations/forged").status_code == 404


def test_submissions_are_rate_limited(app, signed_in_client, session):
    app.config["PROPOSAL_SUBMIT_LIMIT"] = "1 per hour"
    client = signed_in_client(create_user())
    session.commit()
    assert client.post("/proposals/new", data=complete_form(client, send="1")).status_code == 303
    second = client.post("/proposals/new", data=complete_form(client, send="1", client_key="c" * 32,
                                                              name="Another group"))
    assert second.status_code == 429 and "Your draft is saved" in second.get_data(as_text=True)
    assert [p.state for p in session.scalars(select(Proposal).order_by(Proposal.id))] == [S.SUBMITTED, S.DRAFT]
