"""Browser: an organizer edits the group's page and invites a co-organizer, who follows the mailed link,
signs in and becomes an organizer; removing and leaving ask first. Every page and state axe-checked."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import accept_mailed_invitation, assert_accessible, sign_in, sign_out
from tests.factories import create_group, create_user
from webapp.groups.models import GroupOrganizer
from webapp.outbox.models import OutboxMail


def correct_the_refused_field(page, *, kept: tuple[str, str], field: str, wrong: str, right: str, button: str,
                              error: str, success: str, what: str) -> None:
    """Fill `kept` and a `wrong` value for `field`, send: the error shows and what was typed stays
    (axe-checked); then the `right` value goes through."""
    kept_label, kept_value = kept
    page.get_by_label(kept_label).fill(kept_value)
    page.get_by_label(field).fill(wrong)
    page.get_by_role("button", name=button).click()
    expect(page.get_by_text(error)).to_be_visible()
    expect(page.get_by_label(kept_label)).to_have_value(kept_value)
    assert_accessible(page, f"({what}, errors)")
    page.get_by_label(field).fill(right)
    page.get_by_role("button", name=button).click()
    expect(page.get_by_text(success)).to_be_visible()


def test_organizer_edits_the_page_and_brings_in_a_co_organizer(live_server, session, page, browser, problems):
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=["Ada Seeded"],
                         description="The old description.")
    olga = create_user(email="org@example.org", display_name="Olga Organizer")
    group.organizers.append(GroupOrganizer(name="Olga Organizer", user_id=olga.id, email=olga.email, position=5))
    session.commit()
    server = live_server
    sign_in(page, server, session, "org@example.org")

    # The group's page.
    page.goto(server.url + "/groups/metadata")
    page.get_by_role("link", name="Edit group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit “Metadata Practitioners”")
    assert_accessible(page, "(edit group)")
    correct_the_refused_field(page, kept=("Description", "We meet **monthly** to talk about metadata."),
                              field="The group’s own website", wrong="javascript:alert(1)",
                              right="https://www.meetup.com/metadata/", button="Save changes",
                              error="Please enter a web address starting with https://",
                              success="The group page is saved.", what="edit group")
    assert_accessible(page, "(group page, saved)")

    # A visitor who is not signed in sees it at once.
    visitor = browser.new_context().new_page()
    visitor.goto(server.url + "/groups/metadata")
    expect(visitor.locator(".prose strong")).to_have_text("monthly")
    expect(visitor.get_by_role("link", name="Group’s own page")).to_have_attribute(
        "href", "https://www.meetup.com/metadata/")
    expect(visitor.get_by_role("link", name="Edit group")).to_have_count(0)
    visitor.context.close()

    # Inviting: a bad address first, then the real one.
    page.get_by_role("link", name="Manage organizers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organizers of Metadata Practitioners")
    assert_accessible(page, "(organizers)")
    correct_the_refused_field(page, kept=("Their name", "Nell New"), field="Their email address", wrong="nell@",
                              right="nell@example.org", button="Send the invitation",
                              error="Enter an email address like name@example.org.",
                              success="The invitation is on its way.", what="organizers, invitation")
    waiting = page.locator("#invitation-rows")
    expect(waiting).to_contain_text("nell@example.org")
    assert_accessible(page, "(organizers, invitation waiting)")

    # A second invitation, withdrawn.
    page.get_by_label("Their name").fill("Will Withdrawn")
    page.get_by_label("Their email address").fill("will@example.org")
    page.get_by_role("button", name="Send the invitation").click()
    page.get_by_role("button", name="Withdraw the invitation to Will Withdrawn").click()
    expect(page.get_by_text("The invitation is withdrawn")).to_be_visible()
    expect(waiting).not_to_contain_text("will@example.org")
    assert_accessible(page, "(organizers, invitation withdrawn)")

    # Removing the seeded organizer asks first.
    page.get_by_role("link", name="Remove Ada Seeded").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove Ada Seeded from the organizers?")
    assert_accessible(page, "(remove organizer)")
    page.get_by_role("button", name="Remove Ada Seeded").click()
    expect(page.get_by_text("Removed from the group’s organizers.")).to_be_visible()
    expect(page.locator("#organizer-rows")).not_to_contain_text("Ada Seeded")
    expect(page.get_by_text("The last organizer stays")).to_be_visible()
    assert_accessible(page, "(organizers, one left)")
    sign_out(page)

    # The invitee follows the mailed link, signs in with that address, and is an organizer.
    session.rollback()
    mail = session.scalars(select(OutboxMail).where(OutboxMail.kind == "group_invitation",
                                                    OutboxMail.recipient == "nell@example.org")).one()
    accept_mailed_invitation(page, server, session, mail, group_name="Metadata Practitioners", display_name="Nell N.")
    page.goto(server.url + "/groups/metadata")
    expect(page.locator(".organizer-list")).to_contain_text("Nell New")
    page.get_by_role("link", name="Manage organizers").click()
    expect(page.locator("#organizer-rows")).to_contain_text("Nell New (you)")

    # Olga leaves meanwhile (elsewhere): Nell, now the last organizer, is refused when she tries to leave.
    page.get_by_role("link", name="Leave the group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leave the organizers of Metadata Practitioners?")
    assert_accessible(page, "(leave)")
    session.rollback()
    session.delete(session.scalars(select(GroupOrganizer).where(GroupOrganizer.user_id == olga.id)).one())
    session.commit()
    page.get_by_role("button", name="Leave the group’s organizers").click()
    expect(page.get_by_role("alert")).to_contain_text("A group always keeps at least one organizer")
    assert_accessible(page, "(leave refused: the last organizer)")
