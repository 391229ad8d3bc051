"""Browser: a member follows a group from its page with the keyboard alone (htmx swaps the button in
place, the focus stays on it, the count changes), and a visitor who presses Follow signed out is
following once they have signed in through the mailed link; who follows a group is shown to its
organizers only. Every state axe-checked."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser.conftest import assert_accessible, hand_over, sign_in, sign_in_by_mail
from tests.browser.keyboard import focused_name, tab_to
from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.follows.models import GroupFollow


def _follows(session) -> int:
    session.rollback()  # see what the server committed
    return session.scalar(select(func.count(GroupFollow.id)))


def settled(page) -> None:
    """Wait until htmx's swap has settled and the buttons' colour transitions have ended (axe would
    read a colour halfway between the two states)."""
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-request') "
                           "&& document.getAnimations().length === 0")


def test_a_member_follows_and_unfollows_with_the_keyboard(live_server, session, page, problems):
    create_group(slug="metadata", name="Metadata Practitioners")
    create_user(email="ada@example.org", display_name="Ada Lovelace")
    session.commit()
    sign_in(page, live_server, session, "ada@example.org")
    page.goto(live_server.url + "/groups/metadata")
    count = page.locator(".follow-count")
    expect(count).to_have_text("0 followers")
    assert_accessible(page, "(group page, not following)")

    tab_to(page, "Follow Metadata Practitioners", role="button")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Following ✓")).to_be_visible()
    expect(count).to_have_text("1 follower")
    # Swapped in place: the focus is on the new button, so Enter again unfollows.
    expect(page.get_by_role("button", name="Unfollow Metadata Practitioners")).to_be_focused()
    assert focused_name(page) == "Unfollow Metadata Practitioners"
    assert _follows(session) == 1
    settled(page)
    assert_accessible(page, "(group page, following)")

    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Follow Metadata Practitioners")).to_be_focused()
    expect(count).to_have_text("0 followers")
    assert _follows(session) == 0


def test_a_visitor_who_presses_follow_is_following_after_signing_in(live_server, session, page, problems):
    group = create_group(slug="metadata", name="Metadata Practitioners")
    create_event(group, slug="round-table", title="Round-table")
    create_user(email="ada@example.org", display_name="Ada Lovelace")
    session.commit()
    page.goto(live_server.url + "/events/round-table")
    page.get_by_role("button", name="Follow Metadata Practitioners").click()
    expect(page).to_have_url(re.compile(r"/sign-in\?"))
    expect(page.locator("main")).to_contain_text("follow Metadata Practitioners")  # what the link will finish
    assert_accessible(page, "(sign in to follow)")
    sign_in_by_mail(page, live_server.url, session, "ada@example.org")
    expect(page).to_have_url(live_server.url + "/events/round-table")
    expect(page.get_by_text("Following ✓")).to_be_visible()
    expect(page.locator(".follow-count")).to_have_text("1 follower")
    assert _follows(session) == 1
    assert_accessible(page, "(event page, following)")


def test_mail_choice_on_the_account_page_and_unfollowing_from_the_mail(live_server, session, page, problems):
    from webapp.db import utcnow
    from webapp.follows.services import follow_group
    from webapp.outbox.models import OutboxMail

    group = create_group(slug="metadata", name="Metadata Practitioners")
    ada = create_user(email="ada@example.org", display_name="Ada Lovelace")
    follow_group(session, group.id, member=ada, now=utcnow())
    session.commit()
    sign_in(page, live_server, session, "ada@example.org")

    # The account page: "each event" until the member chooses otherwise, saved in place.
    page.goto(live_server.url + "/account")
    expect(page.get_by_label("A mail for each new event")).to_be_checked()
    assert_accessible(page, "(account page, mail choice)")
    page.get_by_label("A weekly digest").check()
    page.get_by_role("button", name="Save mail choice").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: a weekly digest")
    page.reload()
    expect(page.get_by_label("A weekly digest")).to_be_checked()
    page.get_by_label("A mail for each new event").check()
    page.get_by_role("button", name="Save mail choice").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: a mail for each new event")

    # An organizer publishes; the mail's unsubscribe link opens a page that asks before it unfollows.
    from webapp.follows.services import tell_followers_of_new_event

    event = create_event(group, slug="round-table", title="Round-table")
    tell_followers_of_new_event(session, event, actor=None, now=utcnow())
    session.commit()
    mail = session.scalars(select(OutboxMail).where(OutboxMail.kind == "followed_group_event")).one()
    path = re.search(r"http://meetups\.test(/unsubscribe/\S+)", mail.body_text).group(1)
    visitor = page.context.browser.new_context().new_page()  # no sign-in needed
    visitor.goto(live_server.url + path)
    assert_accessible(visitor, "(unsubscribe page)")
    visitor.get_by_role("button", name="Unfollow Metadata Practitioners").click()
    expect(visitor.get_by_role("status")).to_contain_text("you no longer follow Metadata Practitioners")
    assert_accessible(visitor, "(unsubscribed)")
    assert _follows(session) == 0
    visitor.context.close()


def test_only_the_groups_organizers_see_who_follows_it(live_server, session, page, problems):
    from webapp.db import utcnow
    from webapp.follows.services import follow_group

    group = create_group(slug="metadata", name="Metadata Practitioners")
    organizer_of(group, email="org@example.org", display_name="Olive Organizer")
    for email, name in (("ada@example.org", "Ada Lovelace"), ("bea@example.org", "Bea Bibliographer")):
        follow_group(session, group.id, member=create_user(email=email, display_name=name), now=utcnow())
    create_user(email="cy@example.org", display_name="Cy Cataloguer")
    session.commit()
    followers = page.get_by_role("group").filter(has_text="Who follows Metadata Practitioners")

    # A visitor and a member who organizes nothing: the count, no names.
    page.goto(live_server.url + "/groups/metadata")
    expect(page.locator(".follow-count")).to_have_text("2 followers")
    expect(followers).to_have_count(0)
    expect(page.get_by_text("Ada Lovelace")).to_have_count(0)
    assert_accessible(page, "(group page, visitor)")
    sign_in(page, live_server, session, "cy@example.org")
    page.goto(live_server.url + "/groups/metadata")
    expect(page.locator(".follow-count")).to_have_text("2 followers")
    expect(followers).to_have_count(0)
    expect(page.get_by_text("Ada Lovelace")).to_have_count(0)  # (this page's state is axe-checked above)

    # The organizer: the list, folded until opened, longest-standing follower first.
    hand_over(page, live_server, session, "org@example.org")
    page.goto(live_server.url + "/groups/metadata")
    page.get_by_text("Who follows Metadata Practitioners").click()
    expect(followers.get_by_role("listitem")).to_have_text(["Ada Lovelace", "Bea Bibliographer"])
    assert_accessible(page, "(group page, organizer, followers shown)")
