"""Writing to the followers of a dormant group ("We're meeting again"), over HTTP: who may, when,
what each follower gets (their own unfollow link, RFC 8058 headers), the limits and bad input."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form as post
from tests.factories import create_cast, create_event, create_group, create_user
from tests.support.html import parse
from tests.support.outbox import mails
from webapp.db import utcnow
from webapp.events.models import EventStatus
from webapp.follows.models import FollowMail
from webapp.follows.services import follow_group, is_following, set_follow_mail_choice
from webapp.organize.models import GroupMessage

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
URL = "/groups/metadata/followers/message"
HTMX = {"HX-Request": "true"}
KIND = "followers_message"


@pytest.fixture
def world(session):
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=[])
    other = create_group(slug="zines", name="Zine Librarians")
    cast = create_cast(group, other, display_name="Olga Organizer")
    now = utcnow()
    create_event(group, slug="last-spring", starts_at=now - timedelta(days=90))  # long over: dormant
    ada, ben = create_user(email="ada@example.org"), create_user(email="ben@example.org")
    quiet = create_user(email="quiet@example.org")
    for follower in (ada, ben, quiet, cast["organizer"]):
        follow_group(session, group.id, member=follower, now=now)
    set_follow_mail_choice(session, quiet, FollowMail.NONE, now=now)  # no mail from followed groups
    session.commit()
    return dict(cast, group=group, ada=ada, ben=ben, quiet=quiet)


def message_form(**changes) -> dict:
    data = dict(client_key="a" * 32, subject="We’re meeting again",
                body="First Tuesdays from March.\nSame room as before.")
    data.update(changes)
    return data


def count_messages(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(GroupMessage.id)))


def test_each_follower_gets_one_mail_with_their_own_unfollow_link_and_the_sender_a_copy(
        signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    page = client.get(URL).get_data(as_text=True)
    assert "It goes to 2 followers." in page  # Ada and Ben: not the sender, not who chose no mail
    key = re.search(r'name="client_key" value="([0-9a-f]{32})"', page).group(1)

    response = post(client, URL, message_form(client_key=key, body="Room 204 <script>alert(1)</script> & cake"))
    assert response.status_code == 303 and "sent=" in response.location

    sent = mails(session, kind=KIND)
    assert sorted(m.recipient for m in sent) == ["ada@example.org", "ben@example.org", "org@example.org"]
    assert all(m.reply_to == "org@example.org" for m in sent)
    for follower in (world["ada"], world["ben"]):
        (mail,) = [m for m in sent if m.recipient == follower.email]
        assert mail.subject == "Metadata Practitioners: We’re meeting again"
        link = re.search(r"http://meetups\.test/unsubscribe/\S+", mail.body_text).group(0)
        assert mail.headers == {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        assert "Room 204 <script>alert(1)</script> & cake" in mail.body_text
        assert "&lt;script&gt;" in mail.body_html and "<script>" not in mail.body_html
    links = {re.search(r"/unsubscribe/\S+", m.body_text).group(0) for m in sent if m.recipient != "org@example.org"}
    assert len(links) == 2  # one link per follower
    (copy,) = [m for m in sent if m.recipient == "org@example.org"]
    assert copy.subject == "Copy: Metadata Practitioners: We’re meeting again"
    assert "copy of the message you sent to 2 followers of" in copy.body_text and copy.headers is None

    page = client.get(response.location).get_data(as_text=True)
    assert "Your message “We’re meeting again” is on its way to 2 followers, with a copy to you." in page
    assert "Room 204 &lt;script&gt;alert(1)&lt;/script&gt; &amp; cake" in page  # kept on the group, escaped
    assert "To 2 followers" in page and "from Olga Organizer" in page


def test_the_unfollow_link_in_the_mail_works_without_signing_in(app, signed_in_client, world, session):
    post(signed_in_client(world["organizer"]), URL, message_form())
    mail = mails(session, kind=KIND, recipient="ada@example.org")[0]
    path = re.search(r"http://meetups\.test(/unsubscribe/\S+)", mail.body_text).group(1)
    answer = app.test_client().post(path, data={"List-Unsubscribe": "One-Click"})  # a mail client's, no cookies
    assert answer.status_code == 200
    assert not is_following(session, world["group"].id, world["ada"].id)
    assert is_following(session, world["group"].id, world["ben"].id)


def test_only_the_groups_organizers_and_admins_may_write(client, signed_in_client, world, session):
    assert client.get(URL).status_code == 302  # signed out: sign in first
    assert post(client, URL, message_form()).status_code == 403
    for who in ("member", "other_organizer"):
        member_client = signed_in_client(world[who])
        assert member_client.get(URL).status_code == 403
        assert post(member_client, URL, message_form()).status_code == 403
    assert signed_in_client(world["member"]).get("/groups/nobody/followers/message").status_code == 404
    assert mails(session, kind=KIND) == [] and count_messages(session) == 0
    assert signed_in_client(world["admin"]).get(URL).status_code == 200


def test_a_post_without_the_csrf_token_sends_nothing(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = client.post(URL, data=message_form())
    assert response.status_code == 400
    assert "First Tuesdays from March." in response.get_data(as_text=True)  # what was typed, given back
    assert mails(session, kind=KIND) == [] and count_messages(session) == 0


def test_the_same_form_sent_twice_sends_once(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    first, second = post(client, URL, message_form()), post(client, URL, message_form())
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert count_messages(session) == 1 and len(mails(session, kind=KIND)) == 3


def test_over_the_limit_nothing_is_queued_and_the_message_is_kept_in_the_form(app, signed_in_client, world, session):
    app.config["FOLLOWER_MESSAGE_LIMIT_PER_SENDER"] = "1 per day"
    client = signed_in_client(world["organizer"])
    assert post(client, URL, message_form(client_key="1" * 32)).status_code == 303
    refused = post(client, URL, message_form(client_key="2" * 32, subject="Second"))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "You’ve written to followers several times today" in html
    assert 'value="Second"' in html and "Same room as before." in html
    assert count_messages(session) == 1 and len(mails(session, kind=KIND)) == 3
    # A resend of the form that went through is not counted and sends nothing again.
    assert post(client, URL, message_form(client_key="1" * 32)).status_code == 303
    assert len(mails(session, kind=KIND)) == 3


def test_a_refused_message_does_not_use_up_the_limit(app, signed_in_client, world, session):
    app.config["FOLLOWER_MESSAGE_LIMIT_PER_SENDER"] = "1 per day"
    client = signed_in_client(world["organizer"])
    assert post(client, URL, message_form(subject="")).status_code == 422
    assert post(client, URL, message_form()).status_code == 303


def test_a_group_with_an_upcoming_event_is_told_why_it_cannot_write(signed_in_client, world, session):
    create_event(world["group"], slug="next-week", title="Linked Data Round-table",
                 starts_at=utcnow() + timedelta(days=7))
    create_event(world["group"], slug="a-draft", status=EventStatus.DRAFT, starts_at=utcnow() + timedelta(days=3))
    session.commit()
    client = signed_in_client(world["organizer"])
    page = parse(client.get(URL).get_data(as_text=True))
    closed = page.find(id="followers-message-closed").get_text(" ", strip=True)
    assert "has an event coming up (Linked Data Round-table" in closed and "nothing scheduled" in closed
    assert page.find("textarea") is None and page.find("button", string=re.compile("Send")) is None

    refused = post(client, URL, message_form())  # a form opened before the event was published
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "has an event coming up" in html and "Same room as before." in html
    assert mails(session, kind=KIND) == [] and count_messages(session) == 0


def test_a_draft_or_a_cancelled_event_leaves_the_group_dormant(signed_in_client, world, session):
    create_event(world["group"], slug="a-draft", status=EventStatus.DRAFT, starts_at=utcnow() + timedelta(days=3))
    create_event(world["group"], slug="called-off", status=EventStatus.CANCELLED,
                 starts_at=utcnow() + timedelta(days=5))
    session.commit()
    assert post(signed_in_client(world["organizer"]), URL, message_form()).status_code == 303


def test_with_nobody_to_write_to_the_page_says_so(signed_in_client, session):
    group = create_group(slug="metadata", organizers=[])
    cast = create_cast(group, create_group())
    session.commit()
    client = signed_in_client(cast["organizer"])
    closed = parse(client.get(URL).get_data(as_text=True)).find(id="followers-message-closed")
    assert closed.get_text().startswith(f"Nobody follows {group.name} yet, so there’s nobody to write to.")
    refused = post(client, URL, message_form())
    assert refused.status_code == 422 and f"Nobody follows {group.name} yet" in refused.get_data(as_text=True)
    assert mails(session, kind=KIND) == []

    # Followers who all chose no mail from followed groups: said so, and still nothing is sent.
    for member in (cast["member"], cast["other_organizer"]):
        follow_group(session, group.id, member=member, now=utcnow())
        set_follow_mail_choice(session, member, FollowMail.NONE, now=utcnow())
    session.commit()
    closed = parse(client.get(URL).get_data(as_text=True)).find(id="followers-message-closed")
    assert closed.get_text().startswith(f"The 2 members who follow {group.name} chose no mail")
    assert post(client, URL, message_form()).status_code == 422
    assert mails(session, kind=KIND) == []


BAD = [
    (dict(subject=""), "followers-message-subject", "Please give the message a subject."),
    (dict(subject="s" * 151), "followers-message-subject", "at most 150 characters"),
    (dict(subject="Meeting\nagain"), "followers-message-subject", "Please remove line breaks"),
    (dict(body="  "), "followers-message-body", "Please write the message."),
    (dict(body="b" * 5001), "followers-message-body", "at most 5,000 characters"),
    (dict(body="Hello\x85there"), "followers-message-body", "Please remove special control characters"),
]


@pytest.mark.parametrize("changes,field,message", BAD)
def test_bad_messages_are_refused_next_to_the_field_with_what_was_typed(
        signed_in_client, world, session, changes, field, message):
    response = post(signed_in_client(world["organizer"]), URL, message_form(**changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'id="{field}-error"' in html and message in html
    if "subject" not in changes:
        assert 'value="We’re meeting again"' in html
    if "body" not in changes:
        assert "Same room as before." in html
    assert 'name="client_key" value="' + "a" * 32 + '"' in html
    assert count_messages(session) == 0 and mails(session, kind=KIND) == []


def test_a_nul_byte_or_a_bad_key_is_refused_before_anything_runs(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    # A NUL byte comes out on the way in: the message comes back to be checked, nothing sent (tests/input).
    cleaned = post(client, URL, message_form(body="Hello\x00there"))
    assert cleaned.status_code == 422 and 'id="followers-message-body-error"' in cleaned.get_data(as_text=True)
    assert count_messages(session) == 0
    assert post(client, URL, message_form(client_key="../x")).status_code == 400
    assert post(client, URL, message_form(subject="Ünïcödé ✓ 会议")).status_code == 303
    assert count_messages(session) == 1


def test_the_form_through_htmx_answers_in_place(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    refused = post(client, URL, message_form(subject=""), headers=HTMX)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and html.lstrip().startswith('<form id="followers-message-form"')
    sent = post(client, URL, message_form(), headers=HTMX)
    assert sent.status_code == 200 and sent.headers["HX-Redirect"].startswith(URL + "?sent=")


def test_the_group_page_and_my_groups_link_to_it_for_organizers_only(client, signed_in_client, world, session):
    assert URL not in client.get("/groups/metadata").get_data(as_text=True)
    organizer = signed_in_client(world["organizer"])
    assert URL in organizer.get("/groups/metadata").get_data(as_text=True)
    assert URL in organizer.get("/my/groups").get_data(as_text=True)
