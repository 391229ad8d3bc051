"""The whole journey of a proposal in the browser, axe-checked at every page and state:
propose → a reviewer asks for changes → the proposer edits and resubmits → approve → the group is
in the directory with its organizers → the invited co-organizer signs in and becomes one."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import accept_mailed_invitation, assert_accessible, hand_over, sign_in, sign_out
from tests.factories import create_group, create_user
from webapp.accounts.models import Role
from webapp.outbox.models import OutboxMail
from webapp.proposals.guidelines import COMMITMENTS


def test_proposal_journey(live_server, session, page, problems):
    create_group(name="Zine Library Network", slug="zine-library-network", description="Zines in libraries.")
    create_user(email="pat@example.org", display_name="Pat Proposer")
    create_user(email="rita@example.org", display_name="Rita Reviewer", roles=[Role.REVIEWER])
    session.commit()
    server = live_server

    page.goto(server.url + "/guidelines")
    expect(page.get_by_role("heading", level=1)).to_have_text("Program guidelines")
    assert_accessible(page, "(guidelines)")

    # The proposer: an empty send shows every problem, then a complete proposal goes out.
    sign_in(page, server, session, "pat@example.org")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Propose a group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My proposals")
    assert_accessible(page, "(my proposals, empty)")
    page.get_by_role("link", name="Propose a new group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Propose a Meetup group")
    assert_accessible(page, "(new proposal)")

    page.get_by_label("Group name").fill("Zine Librarians")
    expect(page.get_by_role("link", name="Zine Library Network")).to_be_visible()  # similar, via htmx
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Please describe the group: it becomes the group’s page.")).to_be_visible()
    expect(page.get_by_label("Group name")).to_have_value("Zine Librarians")
    assert_accessible(page, "(new proposal, errors)")

    page.get_by_label("Topic").fill("Zines and small-press collections")
    page.get_by_label("Description", exact=True).fill("For people who **collect** zines.")
    page.get_by_label("The need it serves, and for whom").fill("Zine librarians work alone.")
    page.get_by_label("How it differs from existing groups").fill("It is about cataloging zines.")
    page.get_by_label("Online", exact=True).check()
    page.get_by_label("How often you’ll meet").fill("Every other month")
    page.get_by_label("A first event idea").fill("A zine swap.")
    page.locator("#coorganizers-0-name").fill("Nell New")
    page.locator("#coorganizers-0-email").fill("nope")
    page.locator("#coorganizers-0-institution").focus()  # leaving the field validates it (htmx)
    expect(page.get_by_text("Enter an email address like name@example.org.")).to_be_visible()
    page.locator("#coorganizers-0-email").fill("nell@example.org")
    page.get_by_role("button", name="Add another co-organizer").click()
    expect(page.locator("#coorganizers-1-name")).to_be_focused()
    page.get_by_role("button", name="Remove co-organizer 2").click()
    expect(page.locator("#coorganizers-1-name")).to_have_count(0)
    for commitment in COMMITMENTS:
        page.get_by_label(commitment.acknowledgement).check()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Your proposal is with the reviewers.")).to_be_visible()
    expect(page.locator("strong", has_text="collect")).to_be_visible()
    assert_accessible(page, "(proposal submitted)")

    # The reviewer asks for changes, pointing at a guideline.
    hand_over(page, server, session, "rita@example.org")
    nav.get_by_role("link", name=re.compile(r"^Review 1")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")
    assert_accessible(page, "(review queue)")
    page.get_by_role("link", name="Zine Librarians").click()
    assert_accessible(page, "(reviewing)")
    page.get_by_label("Message").fill("Please tell us how you’ll caption online events.")
    page.get_by_label("Accessible events").check()
    page.get_by_role("button", name="Ask for changes").click()
    expect(page.get_by_text("You asked for changes.")).to_be_visible()
    expect(page.get_by_role("link", name="Accessible events")).to_be_visible()
    assert_accessible(page, "(changes requested)")

    # The proposer edits and resubmits.
    hand_over(page, server, session, "pat@example.org")
    page.goto(server.url + "/proposals")
    page.get_by_role("link", name="Zine Librarians").click()
    expect(page.get_by_text("Please tell us how you’ll caption online events.")).to_be_visible()
    page.get_by_role("link", name="Edit and resubmit").click()
    assert_accessible(page, "(editing after changes requested)")
    page.get_by_label("Description", exact=True).fill("For people who **collect** zines. Zoom captions on.")
    page.get_by_role("button", name="Resubmit for review").click()
    expect(page.get_by_text("Your changes are with the reviewers.")).to_be_visible()
    assert_accessible(page, "(resubmitted)")

    # The reviewer approves: the group is in the directory with its organizers.
    hand_over(page, server, session, "rita@example.org")
    page.goto(server.url + "/review")
    page.get_by_role("link", name="Zine Librarians").click()
    page.get_by_role("button", name="Approve and create the group").click()
    expect(page.get_by_text("Approved. The group’s page is up")).to_be_visible()
    assert_accessible(page, "(approved)")
    page.goto(server.url + "/groups")
    card = page.locator(".group-card", has=page.get_by_role("link", name="Zine Librarians", exact=True))
    expect(card).to_contain_text("Pat Proposer, Nell New")
    sign_out(page)

    # The invited co-organizer follows the mailed link, signs in with that address, and is in.
    session.rollback()
    invitation = session.scalars(select(OutboxMail).where(OutboxMail.kind == "proposal_invitation")).one()
    accept_mailed_invitation(page, server, session, invitation, group_name="Zine Librarians", display_name="Nell New")
