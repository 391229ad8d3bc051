"""Browser: a member follows a group, chooses a daily digest on the account page, the group
publishes an event, the next day's digest sweep queues her digest and the outbox delivers it to a
real SMTP sink; its Unfollow link asks on a page and the POST unfollows, and the group page shows
Follow again. The digest's List-Unsubscribe header takes an RFC 8058 one-click POST with no session.
Every page and state axe-checked (the publish itself through the UI is tests/browser/test_organize.py)."""

from __future__ import annotations

import re
import urllib.request
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.test_follow import settled
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.outbox import mails
from webapp.db import utcnow
from webapp.events.models import EventStatus
from webapp.follows.models import FollowMail
from webapp.follows.services import follow_mail_choice, queue_digests
from webapp.organize.services import publish_event
from webapp.outbox.models import MailState
from webapp.outbox.services import send_outbox_mail


@pytest.fixture
def app_overrides(smtp_sink):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_sink.port}  # the outbox delivers by SMTP


def test_follow_daily_digest_delivered_then_unfollow_from_its_link(live_server, session, page, problems,
                                                                   smtp_sink):
    group = create_group(slug="metadata", name="Metadata Practitioners")
    organizer = organizer_of(group, email="org@example.org")
    draft = create_event(group, slug="round-table", title="Linked-data round-table", status=EventStatus.DRAFT,
                         starts_at=utcnow() + timedelta(days=10))
    ada = create_user(email="ada@example.org", display_name="Ada Lovelace")
    session.commit()
    sign_in(page, live_server, session, "ada@example.org")

    page.goto(live_server.url + "/groups/metadata")
    page.get_by_role("button", name="Follow Metadata Practitioners").click()
    expect(page.locator(".follow-count")).to_have_text("1 follower")
    settled(page)
    assert_accessible(page, "(group page, following)")  # not following: the same page at the end

    page.goto(live_server.url + "/account")
    page.get_by_label("A daily digest").check()
    page.get_by_role("button", name="Save mail choice").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: a daily digest")
    settled(page)
    assert_accessible(page, "(account page, daily digest saved)")

    # The group publishes; the digest sweep runs with the clock two days on (the day after
    # tomorrow's digest lists what was published today or tomorrow), and the outbox sends it.
    publish_event(session, draft.id, actor=organizer, now=utcnow())
    session.commit()
    later = utcnow() + timedelta(days=2)
    assert queue_digests(session, FollowMail.DAILY, now=later) == 1
    session.commit()
    [digest] = mails(session, kind="followed_groups_digest")
    assert send_outbox_mail(session, digest.id, now=later) == MailState.SENT
    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Your daily digest from the groups you follow: 1 new event"
    text = message.get_body(("plain",)).get_content()
    assert "Linked-data round-table" in text

    unfollow = re.search(r"Unfollow Metadata Practitioners: http://meetups\.test(/unsubscribe/\S+)", text).group(1)
    page.goto(live_server.url + unfollow)
    expect(page.get_by_role("heading", level=1)).to_have_text("Unfollow Metadata Practitioners")
    assert_accessible(page, "(digest's unfollow link)")
    page.get_by_role("button", name="Unfollow Metadata Practitioners").click()
    expect(page.get_by_role("status")).to_contain_text("you no longer follow Metadata Practitioners")
    assert_accessible(page, "(unfollowed from the digest)")

    page.get_by_role("link", name="Metadata Practitioners’s page").click()
    expect(page.get_by_role("button", name="Follow Metadata Practitioners")).to_be_visible()
    expect(page.locator(".follow-count")).to_have_text("0 followers")
    assert_accessible(page, "(group page, unfollowed)")

    # A mail client's one-click unsubscribe: the header's URL, POSTed with no cookie and no token.
    stop = re.fullmatch(r"<http://meetups\.test(/unsubscribe/\S+)>", message["List-Unsubscribe"]).group(1)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    request = urllib.request.Request(live_server.url + stop, data=b"List-Unsubscribe=One-Click", method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    session.rollback()  # see what the server committed
    assert follow_mail_choice(session, ada.id) == FollowMail.NONE
