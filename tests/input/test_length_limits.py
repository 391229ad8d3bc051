"""Every free-text field has a server-side maximum: over it, the form comes back (200 for htmx, 422
otherwise) with a message naming the field and the limit, what was typed kept, and nothing written."""

from __future__ import annotations

import html as html_lib

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_for
from tests.factories import create_event, create_group, create_proposal, create_user, organizer_of
from tests.organize.test_views import event_form
from tests.proposals.test_views import complete_form
from webapp.db import db
from webapp.proposals.models import ProposalState

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


@pytest.fixture
def world(session):
    group = create_group(slug="knit", description="Knitting.")
    event = create_event(group, slug="knit-night", capacity=5)
    organizer = organizer_of(group, email="org@example.org")
    member = create_user(email="member@example.org")
    proposal = create_proposal(proposer=member, state=ProposalState.SUBMITTED)
    session.commit()
    return dict(group=group, event=event, organizer=organizer, member=member, proposal=proposal)


def row_counts() -> dict[str, int]:
    db.session.expire_all()
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def assert_too_long(response, message, typed, *, status=422):
    page = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == status, page[:400]
    assert message in page
    assert typed in page  # what was typed comes back to be shortened, not lost


def long(n: int) -> str:
    return ("word " * n)[:n].replace(" ", "w")


def test_accessibility_needs(signed_in_client, world):
    client = signed_in_client(world["member"])
    before = row_counts()
    typed = long(1001)
    for htmx, status in ((False, 422), (True, 200)):
        response = client.post("/events/knit-night/register", data={
            "csrf_token": csrf_token_for(client), "accessibility_needs": typed},
            headers={"HX-Request": "true"} if htmx else {})
        assert_too_long(response, "Accessibility needs can be at most 1,000 characters (this has 1,001).", typed,
                        status=status)
        page = response.get_data(as_text=True)
        # The message sits next to the field, linked to it for screen readers.
        assert 'aria-describedby="accessibility_needs-hint accessibility_needs-error"' in page
        assert 'id="accessibility_needs-error"' in page
    assert row_counts() == before
    # At the limit is fine.
    assert client.post("/events/knit-night/register", data={
        "csrf_token": csrf_token_for(client), "accessibility_needs": long(1000)}).status_code == 303


@pytest.mark.parametrize(("field", "limit", "name"), [
    ("display_name", 100, "Display name"), ("institution", 200, "Institution"), ("pronouns", 50, "Pronouns")])
def test_profile(signed_in_client, world, field, limit, name):
    client = signed_in_client(world["member"])
    before = row_counts()
    data = {"csrf_token": csrf_token_for(client), "display_name": "Ada", field: long(limit + 1)}
    assert_too_long(client.post("/account", data=data), f"{name} can be at most {limit:,} characters",
                    long(limit + 1))
    assert row_counts() == before


@pytest.mark.parametrize(("field", "limit", "name"), [
    ("name", 120, "Group name"), ("topic", 200, "Topic"), ("description", 5000, "Description"),
    ("need", 5000, "The need it serves"), ("difference", 5000, "How it differs"),
    ("cadence", 200, "How often you meet"), ("first_event", 5000, "The first event idea"),
    ("coorganizers-0-name", 100, "A co-organizer’s name"),
    ("coorganizers-0-institution", 200, "A co-organizer’s institution")])
def test_proposal(signed_in_client, world, field, limit, name):
    client = signed_in_client(create_user())
    db.session.commit()
    before = row_counts()
    response = client.post("/proposals/new", data=complete_form(client, **{field: long(limit + 1)}))
    assert_too_long(response, f"{name} can be at most {limit:,} characters", long(limit + 1))
    assert row_counts() == before


def test_proposal_review_message(signed_in_client, world, session):
    from webapp.accounts.models import Role

    reviewer = create_user(roles=[Role.REVIEWER])
    session.commit()
    client = signed_in_client(reviewer)
    before = row_counts()
    response = client.post(f"/proposals/{world['proposal'].id}/act", data={
        "csrf_token": csrf_token_for(client), "action": "comment", "message": long(5001),
        "expected_state": "submitted"})
    assert_too_long(response, "Message can be at most 5,000 characters", long(5001))
    assert row_counts() == before


@pytest.mark.parametrize(("field", "limit", "name", "extra"), [
    ("title", 200, "Title", {}), ("description", 20_000, "Description", {}),
    ("meeting_url", 500, "The meeting link", {}),
    ("venue_name", 200, "The venue’s name", {"meeting_format": "in_person"}),
    ("venue_address", 300, "The address", {"meeting_format": "in_person", "venue_name": "Library"}),
    ("venue_accessibility", 1000, "The venue’s accessibility", {"meeting_format": "in_person",
                                                                 "venue_name": "Library"})])
def test_event_form(signed_in_client, world, field, limit, name, extra):
    client = signed_in_client(world["organizer"])
    before = row_counts()
    data = {"csrf_token": csrf_token_for(client), **event_form(**extra), field: long(limit + 1)}
    for url in ("/groups/knit/events/new", "/events/knit-night/edit"):
        assert_too_long(client.post(url, data=data), f"{name} can be at most {limit:,} characters",
                        long(limit + 1))
    assert row_counts() == before


@pytest.mark.parametrize(("field", "limit", "name"), [
    ("description", 5000, "Description"), ("external_url", 500, "The website address")])
def test_group_page(signed_in_client, world, field, limit, name):
    client = signed_in_client(world["organizer"])
    before = row_counts()
    response = client.post("/groups/knit/edit", data={"csrf_token": csrf_token_for(client), field: long(limit + 1)})
    assert_too_long(response, f"{name} can be at most {limit:,} characters", long(limit + 1))
    assert row_counts() == before
    db.session.expire_all()
    assert world["group"].description == "Knitting."


@pytest.mark.parametrize(("field", "limit", "name"), [("name", 200, "Their name")])
def test_invite(signed_in_client, world, field, limit, name):
    client = signed_in_client(world["organizer"])
    before = row_counts()
    response = client.post("/groups/knit/organizers", data={
        "csrf_token": csrf_token_for(client), "name": "Grace", "email": "grace@example.org", field: long(limit + 1)})
    assert_too_long(response, f"{name} can be at most {limit:,} characters", long(limit + 1))
    assert row_counts() == before


@pytest.mark.parametrize(("field", "limit", "name"), [("subject", 150, "Subject"), ("body", 5000, "Message")])
def test_attendee_message(signed_in_client, world, field, limit, name):
    client = signed_in_client(world["organizer"])
    before = row_counts()
    response = client.post("/events/knit-night/messages", data={
        "csrf_token": csrf_token_for(client), "client_key": "b" * 32, "audience": "confirmed",
        "subject": "Hello", "body": "See you soon.", field: long(limit + 1)})
    assert_too_long(response, f"{name} can be at most {limit:,} characters", long(limit + 1))
    assert row_counts() == before


@pytest.mark.parametrize(("field", "limit", "name"), [("subject", 150, "Subject"), ("body", 5000, "Message")])
def test_followers_message(signed_in_client, world, field, limit, name):
    client = signed_in_client(world["organizer"])
    before = row_counts()
    response = client.post("/groups/knit/followers/message", data={
        "csrf_token": csrf_token_for(client), "client_key": "b" * 32,
        "subject": "We’re meeting again", "body": "First Tuesdays.", field: long(limit + 1)})
    assert_too_long(response, f"{name} can be at most {limit:,} characters", long(limit + 1))
    assert row_counts() == before


@pytest.mark.parametrize("htmx", [False, True])
def test_event_search(client, world, htmx):
    response = client.get("/events?q=" + "k" * 250, headers={"HX-Request": "true"} if htmx else {})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Search can be at most 200 characters (this had 250), so we searched for the first 200." in html
    assert "Search can be at most" not in client.get("/events?q=knit").get_data(as_text=True)


@pytest.mark.parametrize(("field", "limit", "name", "extra"), [
    ("title", 200, "Title", {}), ("description", 20_000, "Description", {}),
    ("meeting_url", 500, "The meeting link", {}),
    ("custom_rule", 500, "The rule", {"recurrence": "custom"}),
    ("venue_name", 200, "The venue’s name", {"meeting_format": "in_person"})])
def test_series_form(signed_in_client, world, field, limit, name, extra):
    from tests.series.test_views import series_form

    client = signed_in_client(world["organizer"])
    before = row_counts()
    data = {"csrf_token": csrf_token_for(client), **series_form(**extra), field: long(limit + 1)}
    assert_too_long(client.post("/groups/knit/series/new", data=data), f"{name} can be at most {limit:,} characters",
                    long(limit + 1))
    assert row_counts() == before
