"""Following a group: the button on the group page and its events' pages (htmx and without JS),
a replayed Follow, Follow pressed while signed out, the count and the organizers' list; the mail a
new event sends to followers; the unsubscribe link and the RFC 8058 one-click POST."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_for, post_form
from tests.factories import create_cast, create_event, create_group, create_user
from tests.support.outbox import mails
from webapp.db import db, utcnow
from webapp.events.models import EventStatus
from webapp.follows.models import FollowMail, GroupFollow
from webapp.follows.services import follow_group, set_follow_mail_choice
from webapp.follows.tokens import unsubscribe_token
from webapp.organize.services import publish_event

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(session):
    group = create_group(slug="metadata", name="Metadata & <Practitioners>")
    other = create_group(slug="archives", name="Archivists")
    event = create_event(group, slug="round-table", title="Round-table")
    draft = create_event(group, slug="secret-draft", title="Secret draft", status=EventStatus.DRAFT,
                         starts_at=utcnow() + timedelta(days=10))
    people = create_cast(group, other)
    session.commit()
    return dict(group=group, other=other, event=event, draft=draft, **people)


def follows(session, group=None, user=None) -> int:
    session.expire_all()
    query = select(func.count(GroupFollow.id))
    if group is not None:
        query = query.where(GroupFollow.group_id == group.id)
    if user is not None:
        query = query.where(GroupFollow.user_id == user.id)
    return session.scalar(query)


def text(response) -> str:
    return response.get_data(as_text=True)


# --- following and unfollowing -------------------------------------------------------------------

def test_follow_in_place_with_htmx_then_unfollow(signed_in_client, session, world):
    client = signed_in_client(world["member"])
    page = text(client.get("/groups/metadata"))
    assert "0 followers" in page and ">Follow<" in page

    answer = post_form(client, "/groups/metadata/follow", {"next": "/groups/metadata"}, headers=HTMX)
    assert answer.status_code == 200
    fragment = text(answer)
    assert fragment.lstrip().startswith('<form class="follow-form"')  # the button alone, not the page
    assert "Following ✓" in fragment and "Unfollow" in fragment and "1 follower<" in fragment
    assert 'id="follow-button-' in fragment  # the same id in both states: htmx gives the focus back
    assert follows(session, world["group"], world["member"]) == 1
    assert "1 follower<" in text(client.get("/groups/metadata"))

    answer = post_form(client, "/groups/metadata/unfollow", {"next": "/groups/metadata"}, headers=HTMX)
    assert ">Follow<" in text(answer) and "0 followers" in text(answer)
    assert follows(session, world["group"]) == 0


def test_follow_without_javascript_comes_back_to_the_page_it_was_on(signed_in_client, session, world):
    client = signed_in_client(world["member"])
    event_page = text(client.get("/events/round-table"))
    assert 'action="/groups/metadata/follow"' in event_page and 'name="next" value="/events/round-table"' in event_page

    answer = post_form(client, "/groups/metadata/follow", {"next": "/events/round-table"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/events/round-table"
    assert "Following ✓" in text(client.get("/events/round-table"))
    # Another site as `next` is never followed: back to the group page instead.
    answer = post_form(client, "/groups/metadata/unfollow", {"next": "https://evil.example/"})
    assert answer.headers["Location"] == "/groups/metadata"
    assert follows(session) == 0


def test_a_replayed_follow_is_one_row_and_a_replayed_unfollow_is_harmless(signed_in_client, session, world):
    client = signed_in_client(world["member"])
    for _ in range(3):
        assert post_form(client, "/groups/metadata/follow").status_code == 303
    assert follows(session, world["group"], world["member"]) == 1
    # The service itself, as two requests at the same moment would call it.
    assert follow_group(session, world["group"].id, member=world["member"], now=utcnow()) is False
    session.commit()
    assert follows(session) == 1
    for _ in range(2):
        assert post_form(client, "/groups/metadata/unfollow").status_code == 303
    assert follows(session) == 0


def test_follow_needs_the_csrf_token_and_a_real_group(signed_in_client, session, world):
    client = signed_in_client(world["member"])
    assert client.post("/groups/metadata/follow").status_code == 400
    assert post_form(client, "/groups/no-such-group/follow").status_code == 404
    assert post_form(client, "/groups/no-such-group/unfollow").status_code == 404
    assert follows(session) == 0


def test_no_follow_button_on_a_draft_or_an_event_without_a_group(signed_in_client, session, world):
    create_event(None, slug="metro-itself", title="Hosted by METRO")
    session.commit()
    client = signed_in_client(world["organizer"])
    assert "follow-form" not in text(client.get("/events/secret-draft"))
    assert "follow-form" not in text(client.get("/events/metro-itself"))


def test_signed_out_follow_keeps_the_intent_through_the_mailed_sign_in_link(client, session, world):
    answer = post_form(client, "/groups/metadata/follow", {"next": "/events/round-table"})
    assert answer.status_code == 303
    sign_in_url = answer.headers["Location"]
    query = parse_qs(urlsplit(sign_in_url).query)
    assert query["intent"] == [f"follow:{world['group'].id}"] and query["next"] == ["/events/round-table"]
    htmx = post_form(client, "/groups/metadata/follow", {"next": "/events/round-table"}, headers=HTMX)
    assert htmx.headers["HX-Redirect"] == sign_in_url
    # The sign-in page and its mail say what the link finishes.
    assert "follow Metadata &amp; &lt;Practitioners&gt;" in text(client.get(sign_in_url))
    client.post("/sign-in", data={"csrf_token": csrf_token_for(client), "email": "grace@example.org",
                                  "next": query["next"][0], "intent": query["intent"][0]})
    sign_in_mail = mails(session)[-1]
    assert "follow Metadata & <Practitioners>" in sign_in_mail.body_text
    link = re.search(r"http://meetups\.test(/sign-in/\S+)", sign_in_mail.body_text).group(1)
    client.post(link, data={"csrf_token": csrf_token_for(client)})

    from webapp.accounts.models import User

    grace = session.scalar(select(User).where(User.email == "grace@example.org"))
    assert follows(session, world["group"], grace) == 1


@pytest.mark.parametrize("intent", ["follow:99999999999999", "follow:abc", "follow:٣", "follow:", "follow:0"])
def test_an_intent_for_no_group_is_harmless(client, intent):
    assert client.get(f"/sign-in?intent={intent}").status_code == 200


def test_the_count_is_for_everyone_and_the_list_for_organizers_only(signed_in_client, client, session, world):
    for email in ("a@example.org", "b@example.org"):
        follower = create_user(email=email, display_name=f"Follower {email[0].upper()}")
        follow_group(session, world["group"].id, member=follower, now=utcnow())
    session.commit()
    anonymous = text(client.get("/groups/metadata"))
    assert "2 followers" in anonymous and "Follower A" not in anonymous
    member = text(signed_in_client(world["member"]).get("/groups/metadata"))
    assert "2 followers" in member and "Follower A" not in member
    stranger = text(signed_in_client(world["other_organizer"]).get("/groups/metadata"))
    assert "Follower A" not in stranger
    organizer = text(signed_in_client(world["organizer"]).get("/groups/metadata"))
    assert "Follower A" in organizer and "Follower B" in organizer
    admin = text(signed_in_client(world["admin"]).get("/groups/metadata"))
    assert "Follower A" in admin


# --- the account page's choice ---------------------------------------------------------------------

def test_the_mail_choice_on_the_account_page(signed_in_client, session, world):
    client = signed_in_client(world["member"])
    page = text(client.get("/account"))
    assert 'id="follow-mail-each" name="follow_mail" value="each" checked' in page
    # A series is one mail or one digest entry, whichever is chosen (tests/follows/test_series_follows.py).
    assert 'aria-describedby="follow-mail-hint"' in page and "A new series comes as one mail" in page
    answer = post_form(client, "/account/follow-mail", {"follow_mail": "weekly"}, headers=HTMX)
    assert "Saved: a weekly digest" in text(answer)
    assert 'value="weekly" checked' in text(client.get("/account"))
    answer = post_form(client, "/account/follow-mail", {"follow_mail": "none"})
    assert answer.status_code == 303
    assert 'value="none" checked' in text(client.get("/account"))


@pytest.mark.parametrize("value", ["", "hourly", "hour\x00ly", "x" * 10_000, "ėach", "<b>each</b>"])
def test_a_bad_mail_choice_is_refused_and_changes_nothing(signed_in_client, session, world, value):
    client = signed_in_client(world["member"])
    answer = post_form(client, "/account/follow-mail", {"follow_mail": value})
    assert answer.status_code in (400, 422)
    assert 'value="each" checked' in text(client.get("/account"))


# --- the mail a new event sends ------------------------------------------------------------------------

def publish(client, slug):
    return post_form(client, f"/events/{slug}/publish")


def test_publishing_mails_followers_who_chose_each_event_once(signed_in_client, session, world):
    each = create_user(email="each@example.org")
    default = create_user(email="default@example.org")
    weekly = create_user(email="weekly@example.org")
    nothing = create_user(email="none@example.org")
    elsewhere = create_user(email="elsewhere@example.org")
    for member in (each, default, weekly, nothing, world["organizer"]):
        follow_group(session, world["group"].id, member=member, now=utcnow())
    follow_group(session, world["other"].id, member=elsewhere, now=utcnow())
    set_follow_mail_choice(session, each, FollowMail.EACH, now=utcnow())
    set_follow_mail_choice(session, weekly, FollowMail.WEEKLY, now=utcnow())
    set_follow_mail_choice(session, nothing, FollowMail.NONE, now=utcnow())
    session.commit()
    organizer = signed_in_client(world["organizer"])
    assert mails(session, kind="followed_group_event") == []  # the draft alone sent nothing

    assert publish(organizer, "secret-draft").status_code == 303
    sent = mails(session, kind="followed_group_event")
    # Never to the organizer who published it, though they follow the group.
    assert sorted(m.recipient for m in sent) == ["default@example.org", "each@example.org"]
    mail = sent[0]
    assert mail.subject == "New from Metadata & <Practitioners>: Secret draft"
    assert mail.event_id == world["draft"].id
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<http://meetups\.test/unsubscribe/\S+>", mail.headers["List-Unsubscribe"])
    assert mail.headers["List-Unsubscribe"][1:-1] in mail.body_text

    # Published again (a double click, a replayed POST): nobody gets a second mail.
    assert publish(organizer, "secret-draft").status_code == 303
    assert len(mails(session, kind="followed_group_event")) == 2


def test_a_publish_that_rolls_back_mails_nobody(session, world):
    follow_group(session, world["group"].id, member=world["member"], now=utcnow())
    session.commit()
    publish_event(session, world["draft"].id, actor=world["organizer"], now=utcnow())
    session.rollback()
    assert mails(session, kind="followed_group_event") == []
    assert session.get(type(world["draft"]), world["draft"].id).status == EventStatus.DRAFT


def test_a_refused_publish_mails_nobody(signed_in_client, session, world):
    follow_group(session, world["group"].id, member=world["member"], now=utcnow())
    late = create_event(world["group"], slug="too-late", status=EventStatus.DRAFT,
                        starts_at=utcnow() - timedelta(hours=1))
    session.commit()
    assert publish(signed_in_client(world["organizer"]), late.slug).status_code == 409
    assert mails(session, kind="followed_group_event") == []


def test_an_unfollowed_group_mails_nothing(signed_in_client, session, world):
    client = signed_in_client(world["member"])
    post_form(client, "/groups/metadata/follow")
    post_form(client, "/groups/metadata/unfollow")
    publish_event(session, world["draft"].id, actor=world["organizer"], now=utcnow())
    session.commit()
    assert mails(session, kind="followed_group_event") == []


# --- unsubscribing ---------------------------------------------------------------------------------------

def _mailed_unsubscribe_path(session, world) -> str:
    follow_group(session, world["group"].id, member=world["member"], now=utcnow())
    session.commit()
    publish_event(session, world["draft"].id, actor=world["organizer"], now=utcnow())
    session.commit()
    [mail] = mails(session, kind="followed_group_event")
    return re.search(r"http://meetups\.test(/unsubscribe/\S+)", mail.body_text).group(1)


def test_the_unsubscribe_link_asks_then_unfollows_without_sign_in(client, session, world):
    path = _mailed_unsubscribe_path(session, world)
    page = client.get(path)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Unfollow Metadata &amp; &lt;Practitioners&gt;</button>" in text(page)
    assert follows(session) == 1  # a GET (a mail scanner) changes nothing
    done = client.post(path)
    assert done.status_code == 200 and "you no longer follow" in text(done)
    assert follows(session) == 0
    assert client.post(path).status_code == 200  # again: harmless
    assert "You don’t follow" in text(client.get(path))


def test_the_rfc_8058_one_click_post_unfollows_without_csrf_or_sign_in(client, session, world):
    path = _mailed_unsubscribe_path(session, world)
    answer = client.post(path, data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert follows(session) == 0


@pytest.mark.parametrize("token", ["nonsense", "eyJnIjoxLCJ1IjoxfQ.forged", "x" * 5000])
def test_a_forged_unsubscribe_link_is_404(client, session, world, token):
    follow_group(session, world["group"].id, member=world["member"], now=utcnow())
    session.commit()
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.post(f"/unsubscribe/{token}").status_code == 404
    assert follows(session) == 1


def test_an_unsubscribe_link_for_a_group_out_of_range_is_404(client, app):
    with app.test_request_context():
        token = unsubscribe_token(2**40, 1)
        gone = unsubscribe_token(12345, 1)
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.post(f"/unsubscribe/{gone}").status_code == 404


def test_the_delivered_mail_carries_both_unsubscribe_headers(app, session, world, smtp_sink):
    from webapp.extensions import mail as mail_ext
    from webapp.outbox.services import send_outbox_mail

    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port)
    mail_ext.init_app(app)
    _mailed_unsubscribe_path(session, world)
    [mail] = mails(session, kind="followed_group_event")
    send_outbox_mail(session, mail.id)
    [message] = smtp_sink.wait_for(1)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"] == mail.headers["List-Unsubscribe"]
    assert db.session.get(type(mail), mail.id) is not None
