"""A group's organizers edit its page, invite co-organizers and remove them, over HTTP (issue 12)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_for
from tests.conftest import post_form as post
from tests.factories import create_cast, create_group, create_user
from tests.support.html import by_id, text
from tests.support.outbox import mails
from webapp.accounts.models import User
from webapp.db import utcnow
from webapp.extensions import mail as mail_ext
from webapp.groups.invitations import OrganizerInvitation
from webapp.groups.models import Group, GroupOrganizer
from webapp.groups.services import LAST_ORGANIZER
from webapp.outbox import services as outbox
from webapp.outbox.models import OutboxMail

pytestmark = pytest.mark.usefixtures("fresh_request_globals")




@pytest.fixture
def world(session):
    """`metadata`: a seeded organizer (a name only) and one with an account, one invitation waiting."""
    group = create_group(slug="metadata", name="Metadata Practitioners", organizers=["Ada Seeded"],
                         description="The old description.", external_url="https://old.example.org/")
    other = create_group(slug="archives")
    people = create_cast(group, other, display_name="Olga Organizer")
    now = utcnow()
    waiting = OrganizerInvitation(group_id=group.id, email="wendy@example.org", name="Wendy Waiting",
                                  created_at=now, expires_at=now + timedelta(days=14))
    session.add(waiting)
    session.flush()
    ids = dict(
        ada=group.organizers[0].id, waiting=waiting.id,
        foreign_organizer=other.organizers[0].id,
    )
    session.commit()
    return dict(group=group, other=other, ids=ids, **people)


def snapshot(session) -> dict:
    """Everything the organizer pages can change, to show a refusal changed none of it."""
    session.expire_all()
    group = session.scalar(select(Group).where(Group.slug == "metadata"))
    return dict(
        description=group.description, external_url=group.external_url,
        organizers=sorted((o.name, o.user_id, o.email) for o in group.organizers),
        invitations=sorted((i.email, i.revoked_at, i.accepted_at)
                           for i in session.scalars(select(OrganizerInvitation))),
        mails=session.scalar(select(func.count()).select_from(OutboxMail)),
    )


def organizer_names(session, slug="metadata") -> list[str]:
    session.expire_all()
    group = session.scalar(select(Group).where(Group.slug == slug))
    return [o.name for o in group.organizers]


def invitation_mails(session) -> list[OutboxMail]:
    return mails(session, kind="group_invitation")


def invitation_path(mail: OutboxMail) -> str:
    return re.search(r"http://meetups\.test(/invitations/\S+)", mail.body_text).group(1)


def field_error(html: str, field_id: str) -> str:
    """The message shown next to one field (the form macro's `<id>-error`)."""
    found = re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


def refused_next_to_the_field(session, client, path, data, *, status, field_id, message) -> str:
    """Posts a form that must be refused: it comes back with `status` and `message` next to the field,
    and nothing in the database changed. Returns the page, for the test's own checks."""
    before = snapshot(session)
    response = post(client, path, data)
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in field_error(html, field_id)
    assert snapshot(session) == before
    return html


GOOD_PAGE = dict(description="We meet **monthly**.", external_url="https://www.meetup.com/metadata/")
GOOD_INVITE = dict(name="Nell New", email="Nell@Example.org")


# --- who may do what -------------------------------------------------------------------------------

def pages(ids) -> list[str]:
    return ["/groups/metadata/edit", "/groups/metadata/organizers",
            f"/groups/metadata/organizers/{ids['ada']}/remove"]


def posts(ids) -> list[tuple[str, dict]]:
    return [
        ("/groups/metadata/edit", dict(description="Hijacked", external_url="https://evil.example.org/")),
        ("/groups/metadata/organizers", dict(name="Mallory", email="mallory@example.org")),
        (f"/groups/metadata/invitations/{ids['waiting']}/withdraw", {}),
        (f"/groups/metadata/organizers/{ids['ada']}/remove", {}),
    ]


def test_signed_out_visitors_are_sent_to_sign_in_and_their_posts_change_nothing(client, world, session):
    before = snapshot(session)
    for url in pages(world["ids"]):
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in?next=" in response.location, url
    for url, data in posts(world["ids"]):
        assert post(client, url, data).status_code == 403, url
    assert snapshot(session) == before


@pytest.mark.parametrize("who", ["member", "other_organizer"])
def test_members_and_other_groups_organizers_are_refused_and_change_nothing(signed_in_client, world, session,
                                                                            who):
    before = snapshot(session)
    client = signed_in_client(world[who])
    for url in pages(world["ids"]):
        assert client.get(url).status_code == 403, url
    for url, data in posts(world["ids"]):
        assert post(client, url, data).status_code == 403, url
    assert snapshot(session) == before


@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_organizers_and_admins_see_the_pages_never_stored_by_caches(signed_in_client, world, who):
    client = signed_in_client(world[who])
    for url in pages(world["ids"]):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store"


def test_program_staff_read_the_organizers_page_to_reach_them_but_change_nothing(signed_in_client, world,
                                                                               session):
    """The group health page links here, so staff can reach a group's organizers; the buttons stay theirs."""
    from webapp.accounts.models import Role

    staff = create_user(email="staff@example.org", roles=[Role.STAFF])
    session.commit()
    before = snapshot(session)
    client = signed_in_client(staff)
    response = client.get("/groups/metadata/organizers")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "org@example.org" in text(by_id(html, "organizer-rows"))
    assert "wendy@example.org" in text(by_id(html, "invitation-rows"))
    assert "You’re reading this as program staff" in html
    assert 'id="invite-form"' not in html and "Withdraw" not in html and "/remove" not in html
    # Every other organizer page, and every post, stays the organizers' (and admins') own.
    for url in pages(world["ids"]):
        if url != "/groups/metadata/organizers":
            assert client.get(url).status_code == 403, url
    for url, data in posts(world["ids"]):
        assert post(client, url, data).status_code == 403, url
    assert snapshot(session) == before


def test_unknown_groups_and_other_groups_rows_are_not_found(signed_in_client, world, session):
    before = snapshot(session)
    client = signed_in_client(world["organizer"])
    assert client.get("/groups/nope/edit").status_code == 404
    assert client.get("/groups/nope/organizers").status_code == 404
    foreign = world["ids"]["foreign_organizer"]
    assert client.get(f"/groups/metadata/organizers/{foreign}/remove").status_code == 404
    assert post(client, f"/groups/metadata/organizers/{foreign}/remove").status_code == 404
    assert post(client, "/groups/metadata/invitations/999999/withdraw").status_code == 404
    # An invitation of another group, through this group's address.
    other_invitation = OrganizerInvitation(group_id=world["other"].id, email="x@example.org", name="X",
                                           created_at=utcnow(), expires_at=utcnow() + timedelta(days=1))
    session.add(other_invitation)
    session.commit()
    assert post(client, f"/groups/metadata/invitations/{other_invitation.id}/withdraw").status_code == 404
    session.refresh(other_invitation)
    assert other_invitation.revoked_at is None
    assert organizer_names(session, "archives") == ["Ada Organizer", world["other_organizer"].display_name]
    assert snapshot(session)["organizers"] == before["organizers"]


def test_only_organizers_and_admins_see_the_group_page_links(signed_in_client, client, world, app):
    anonymous = app.test_client()
    assert "/groups/metadata/edit" not in anonymous.get("/groups/metadata").get_data(as_text=True)
    for who in ("member", "other_organizer"):
        page = signed_in_client(world[who]).get("/groups/metadata").get_data(as_text=True)
        assert "Edit group" not in page and "/groups/metadata/organizers" not in page
    for who in ("organizer", "admin"):
        page = signed_in_client(world[who]).get("/groups/metadata").get_data(as_text=True)
        assert 'href="/groups/metadata/edit">Edit group</a>' in page
        assert 'href="/groups/metadata/organizers">Manage organizers</a>' in page


# --- the group's page ----------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_an_edit_shows_on_the_public_page_at_once_even_when_it_was_cached(app, signed_in_client, world, session,
                                                                          who):
    anonymous = app.test_client()
    cache = app.extensions["pagecache"]
    assert "The old description." in anonymous.get("/groups/metadata").get_data(as_text=True)
    anonymous.get("/groups/metadata")
    assert cache.hits == 1  # the public page is served from the cache

    client = signed_in_client(world[who])
    form = client.get("/groups/metadata/edit").get_data(as_text=True)
    assert "The old description." in form and 'value="https://old.example.org/"' in form
    response = post(client, "/groups/metadata/edit", GOOD_PAGE)
    assert response.status_code == 303 and response.location.endswith("/groups/metadata?done=saved")
    assert "The group page is saved." in client.get(response.location).get_data(as_text=True)

    page = anonymous.get("/groups/metadata").get_data(as_text=True)
    assert "We meet <strong>monthly</strong>." in page and "The old description." not in page
    assert 'href="https://www.meetup.com/metadata/"' in page
    group = session.scalar(select(Group).where(Group.slug == "metadata"))
    session.refresh(group)
    assert group.description == "We meet **monthly**." and group.external_url == "https://www.meetup.com/metadata/"


def test_clearing_the_link_removes_it_and_markdown_links_stay_safe(app, signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    response = post(client, "/groups/metadata/edit", dict(
        description="[Click](javascript:alert(1)) and [our site](https://ok.example.org/)", external_url=""))
    assert response.status_code == 303
    page = app.test_client().get("/groups/metadata").get_data(as_text=True)
    assert 'href="javascript:' not in page and 'href="https://ok.example.org/"' in page
    assert "Group’s own page" not in page
    assert snapshot(session)["external_url"] is None


BAD_PAGES = [
    (dict(description="d" * 5001), "group-description", "at most 5,000 characters"),
    (dict(description="<script>alert(1)</script>"), "group-description", "HTML isn’t allowed here"),
    (dict(description="Be\x85ll"), "group-description", "special control characters"),
    (dict(external_url="javascript:alert(1)"), "group-external-url", "web address starting with https://"),
    (dict(external_url="ftp://files.example.org/"), "group-external-url", "web address starting with https://"),
    (dict(external_url="https://"), "group-external-url", "web address starting with https://"),
    (dict(external_url="https://localhost/"), "group-external-url", "web address starting with https://"),
    (dict(external_url="https://example.org/a b"), "group-external-url", "web address starting with https://"),
    (dict(external_url='https://example.org/"onmouseover="x'), "group-external-url", "web address"),
    (dict(external_url="https://[::1/"), "group-external-url", "web address starting with https://"),
    (dict(external_url="https://example.org:port/"), "group-external-url", "web address starting with https://"),
    (dict(external_url="https://example.org/" + "p" * 500), "group-external-url", "at most 500 characters"),
]


@pytest.mark.parametrize("changes,field_id,message", BAD_PAGES)
def test_bad_page_input_is_shown_again_with_a_message_next_to_the_field(signed_in_client, world, session,
                                                                        changes, field_id, message):
    html = refused_next_to_the_field(session, signed_in_client(world["organizer"]), "/groups/metadata/edit",
                                     {**GOOD_PAGE, **changes}, status=422, field_id=field_id, message=message)
    assert f'id="{field_id}" name=' in html and 'aria-invalid="true"' in html
    # What was typed is still there.
    assert "We meet **monthly**." in html or "description" in changes


def test_http_links_are_accepted_too(signed_in_client, world, session):
    response = post(signed_in_client(world["organizer"]), "/groups/metadata/edit",
                    dict(description="", external_url="http://sites.example.org/group"))
    assert response.status_code == 303
    assert snapshot(session)["external_url"] == "http://sites.example.org/group"


# --- inviting ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_an_invitation_is_a_row_and_a_mail_with_a_signed_expiring_link(signed_in_client, world, session, who):
    client = signed_in_client(world[who])
    response = post(client, "/groups/metadata/organizers", GOOD_INVITE)
    assert response.status_code == 303 and response.location.endswith("/groups/metadata/organizers?done=invited")

    invitation = session.scalars(select(OrganizerInvitation).where(OrganizerInvitation.name == "Nell New")).one()
    assert invitation.email == "nell@example.org" and invitation.group_id == world["group"].id
    assert invitation.invited_by_id == world[who].id and invitation.organizer_id is None
    assert invitation.proposal_id is None
    assert invitation.expires_at - invitation.created_at == timedelta(days=14)
    [mail] = invitation_mails(session)
    assert mail.recipient == "nell@example.org"
    assert mail.subject == "You’re invited to co-organize Metadata Practitioners"
    assert mail.reply_to == "org@example.org"  # replies reach the group's organizers
    assert "Hello Nell New," in mail.body_text and "/invitations/" in mail.body_text
    assert "http://meetups.test/groups/metadata" in mail.body_text and "works for 14 days" in mail.body_text
    # The invitee is not an organizer yet: not listed on the public page.
    assert "Nell New" not in organizer_names(session)

    page = client.get(response.location).get_data(as_text=True)
    assert "The invitation is on its way." in page
    waiting = text(by_id(page, "invitation-rows"))
    assert "Nell New" in waiting and "nell@example.org" in waiting


def test_the_invitation_mail_reaches_an_smtp_server_through_the_outbox(app, signed_in_client, world, session,
                                                                        smtp_sink):
    post(signed_in_client(world["organizer"]), "/groups/metadata/organizers", GOOD_INVITE)
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port)
    mail_ext.init_app(app)
    [mail] = invitation_mails(session)
    assert outbox.send_outbox_mail(session, mail.id).value == "sent"
    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "nell@example.org" and message["Reply-To"] == "org@example.org"
    assert "co-organize Metadata Practitioners" in message["Subject"]


BAD_INVITES = [
    (dict(name=""), "invite-name", "Please enter their name"),
    (dict(name="   "), "invite-name", "Please enter their name"),
    (dict(name="n" * 201), "invite-name", "at most 200 characters"),
    (dict(name="<b>Nell</b>"), "invite-name", "plain text"),
    (dict(name="Nell\nNew"), "invite-name", "line breaks"),
    (dict(email=""), "invite-email", "Please enter their email address."),
    (dict(email="not-an-address"), "invite-email", "like name@example.org"),
    (dict(email="a@b"), "invite-email", "like name@example.org"),
    (dict(email="x" * 250 + "@example.org"), "invite-email", "at most 254 characters"),
]


@pytest.mark.parametrize("changes,field_id,message", BAD_INVITES)
def test_bad_invitations_are_shown_again_with_a_message_next_to_the_field(signed_in_client, world, session,
                                                                          changes, field_id, message):
    html = refused_next_to_the_field(session, signed_in_client(world["organizer"]), "/groups/metadata/organizers",
                                     {**GOOD_INVITE, **changes}, status=422, field_id=field_id, message=message)
    kept = "email" if "name" in changes else "name"
    assert f'value="{GOOD_INVITE[kept]}"' in html


@pytest.mark.parametrize("data,field_id,message", [
    (dict(name="Someone", email="ORG@example.org"), "invite-email", "org@example.org is already an organizer"),
    (dict(name="Ada Seeded", email="ada@example.org"), "invite-name", "already lists an organizer called Ada"),
    (dict(name="Wendy W.", email="wendy@example.org"), "invite-email", "hasn’t answered yet"),
])
def test_duplicates_are_refused_without_a_second_mail(signed_in_client, world, session, data, field_id, message):
    refused_next_to_the_field(session, signed_in_client(world["organizer"]), "/groups/metadata/organizers", data,
                              status=409, field_id=field_id, message=message)


def test_an_organizer_known_by_their_account_address_is_a_duplicate_too(signed_in_client, world, session):
    # Linked by account only (no address on the organizer row).
    world["group"].organizers.append(GroupOrganizer(name="Kim Known", user_id=world["member"].id, position=7))
    session.commit()
    response = post(signed_in_client(world["organizer"]), "/groups/metadata/organizers",
                    dict(name="Kim", email="member@example.org"))
    assert response.status_code == 409 and invitation_mails(session) == []


def test_an_expired_invitation_can_be_sent_again_and_the_old_one_leaves_the_list(signed_in_client, world,
                                                                                   session):
    old = session.get(OrganizerInvitation, world["ids"]["waiting"])
    old.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    client = signed_in_client(world["organizer"])
    assert "Expired" in client.get("/groups/metadata/organizers").get_data(as_text=True)
    response = post(client, "/groups/metadata/organizers", dict(name="Wendy Waiting", email="wendy@example.org"))
    assert response.status_code == 303
    session.refresh(old)
    assert old.revoked_at is not None
    assert len(invitation_mails(session)) == 1
    page = text(by_id(client.get("/groups/metadata/organizers").get_data(as_text=True), "invitation-rows"))
    assert page.count("wendy@example.org") == 1 and "Expired" not in page


def test_invitations_are_rate_limited_per_organizer_with_a_polite_message(app, signed_in_client, world, session):
    app.config["GROUP_INVITE_LIMIT"] = "2 per hour"
    client = signed_in_client(world["organizer"])
    # A refused duplicate sends nothing, so it does not count.
    assert post(client, "/groups/metadata/organizers", dict(name="W", email="wendy@example.org")).status_code == 409
    for n in (1, 2):
        assert post(client, "/groups/metadata/organizers",
                    dict(name=f"Person {n}", email=f"p{n}@example.org")).status_code == 303
    before = snapshot(session)
    third = post(client, "/groups/metadata/organizers", dict(name="Person 3", email="p3@example.org"))
    html = third.get_data(as_text=True)
    assert third.status_code == 429 and "sent several invitations in a short time" in html
    assert 'value="Person 3"' in html and 'value="p3@example.org"' in html
    assert snapshot(session) == before
    # Another organizer has their own allowance.
    other = post(signed_in_client(world["admin"]), "/groups/metadata/organizers",
                 dict(name="Person 3", email="p3@example.org"))
    assert other.status_code == 303


# --- accepting -----------------------------------------------------------------------------------------

def invite_nell(signed_in_client, world, session) -> str:
    post(signed_in_client(world["organizer"]), "/groups/metadata/organizers", GOOD_INVITE)
    return invitation_path(invitation_mails(session)[-1])


def test_the_invitee_accepts_through_sign_in_and_becomes_an_organizer(client, signed_in_client, world, session):
    path = invite_nell(signed_in_client, world, session)
    client.post("/sign-out", data={"csrf_token": csrf_token_for(client)})

    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Co-organize Metadata Practitioners" in html
    assert "a METRO Meetup group" in html and "a new METRO Meetup group" not in html
    sign_in_href = re.search(r'href="(/sign-in\?[^"]+)">Sign in to accept', html).group(1).replace("&amp;", "&")
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(sign_in_href).query)
    client.post("/sign-in", data={"csrf_token": csrf_token_for(client), "email": "nell@example.org",
                                  "next": query["next"][0], "intent": query["intent"][0]})
    link = re.search(r"http://meetups\.test(/sign-in/\S+)", session.scalars(
        select(OutboxMail).where(OutboxMail.kind == "sign_in")).one().body_text).group(1)
    landed = client.post(link, data={"csrf_token": csrf_token_for(client)})
    assert landed.status_code == 303  # first sign-in: the profile step, then back to the invitation

    session.expire_all()
    nell = session.scalar(select(User).where(User.email == "nell@example.org"))
    organizer = session.scalars(select(GroupOrganizer).where(GroupOrganizer.name == "Nell New")).one()
    assert organizer.user_id == nell.id and organizer.group_id == world["group"].id
    assert organizer.role == "Co-organizer" and organizer.email == "nell@example.org"
    invitation = session.scalars(select(OrganizerInvitation).where(OrganizerInvitation.name == "Nell New")).one()
    assert invitation.accepted_by_id == nell.id and invitation.organizer_id == organizer.id
    assert "You’re an organizer of" in client.get(path).get_data(as_text=True)
    assert client.get("/groups/metadata/organizers").status_code == 200
    assert "Nell New" in client.get("/groups/metadata").get_data(as_text=True)


def test_a_different_address_is_refused_clearly_and_nothing_changes(signed_in_client, world, session):
    path = invite_nell(signed_in_client, world, session)
    before = snapshot(session)
    client = signed_in_client(world["member"])
    assert "This invitation was sent to nell@example.org" in client.get(path).get_data(as_text=True)
    refused = post(client, path)
    assert refused.status_code == 403
    assert "Please sign in with that address to accept it." in refused.get_data(as_text=True)
    assert snapshot(session) == before
    assert client.get("/groups/metadata/organizers").status_code == 403


def test_accepting_while_signed_in_with_the_invited_address(signed_in_client, world, session):
    path = invite_nell(signed_in_client, world, session)
    nell = create_user(email="nell@example.org", display_name="Nell N.")
    session.commit()
    client = signed_in_client(nell)
    assert post(client, path).status_code == 303
    assert post(client, path).status_code == 303  # pressed twice: still one organizer
    assert organizer_names(session).count("Nell New") == 1
    assert client.get("/groups/metadata/organizers").status_code == 200


def test_a_name_taken_meanwhile_gives_way_to_the_account_name(signed_in_client, world, session):
    path = invite_nell(signed_in_client, world, session)
    world["group"].organizers.append(GroupOrganizer(name="Nell New", position=8))
    nell = create_user(email="nell@example.org", display_name="Nell Newcomer")
    session.commit()
    assert post(signed_in_client(nell), path).status_code == 303
    assert {"Nell New", "Nell Newcomer"} <= set(organizer_names(session))


def test_expired_withdrawn_and_forged_links_get_a_clear_page(signed_in_client, client, world, session):
    path = invite_nell(signed_in_client, world, session)
    invitation = session.scalars(select(OrganizerInvitation).where(OrganizerInvitation.name == "Nell New")).one()
    nell = create_user(email="nell@example.org")
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    expired = signed_in_client(nell).get(path)
    assert expired.status_code == 410 and "This invitation has expired." in expired.get_data(as_text=True)
    assert post(signed_in_client(nell), path).status_code == 410

    invitation.expires_at = utcnow() + timedelta(days=1)
    invitation.revoked_at = utcnow()
    session.commit()
    withdrawn = signed_in_client(nell).get(path)
    assert withdrawn.status_code == 410 and "withdrawn" in withdrawn.get_data(as_text=True)
    assert post(signed_in_client(nell), path).status_code == 410
    assert "Nell New" not in organizer_names(session)

    assert client.get(path[:-3] + "xyz").status_code == 404
    assert client.get("/invitations/forged").status_code == 404


# --- withdrawing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_withdrawing_an_invitation_kills_its_link(signed_in_client, world, session, who):
    path = invite_nell(signed_in_client, world, session)
    invitation = session.scalars(select(OrganizerInvitation).where(OrganizerInvitation.name == "Nell New")).one()
    client = signed_in_client(world[who])
    response = post(client, f"/groups/metadata/invitations/{invitation.id}/withdraw")
    assert response.status_code == 303 and response.location.endswith("?done=withdrawn")
    page = client.get(response.location).get_data(as_text=True)
    assert "The invitation is withdrawn" in page and "nell@example.org" not in page
    session.refresh(invitation)
    assert invitation.revoked_at is not None
    assert client.get(path).status_code == 410
    # Withdrawing twice is harmless.
    assert post(client, f"/groups/metadata/invitations/{invitation.id}/withdraw").status_code == 303


def test_an_accepted_invitation_cannot_be_withdrawn(signed_in_client, world, session):
    path = invite_nell(signed_in_client, world, session)
    nell = create_user(email="nell@example.org")
    session.commit()
    post(signed_in_client(nell), path)
    invitation = session.scalars(select(OrganizerInvitation).where(OrganizerInvitation.name == "Nell New")).one()
    response = post(signed_in_client(world["organizer"]), f"/groups/metadata/invitations/{invitation.id}/withdraw")
    assert response.status_code == 409 and "already accepted" in response.get_data(as_text=True)
    assert "Nell New" in organizer_names(session)


# --- removing and leaving ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_removing_an_organizer_asks_first_then_takes_them_off_the_page(app, signed_in_client, world, session,
                                                                       who):
    client = signed_in_client(world[who])
    url = f"/groups/metadata/organizers/{world['ids']['ada']}/remove"
    confirm = client.get(url).get_data(as_text=True)
    assert "Remove Ada Seeded from the organizers?" in confirm and "Ada Seeded" in organizer_names(session)
    response = post(client, url)
    assert response.status_code == 303 and response.location.endswith("/groups/metadata/organizers?done=removed")
    assert "Ada Seeded" not in organizer_names(session)
    assert "Ada Seeded" not in app.test_client().get("/groups/metadata").get_data(as_text=True)


def test_a_removed_organizer_loses_access(signed_in_client, world, session):
    olga_row = session.scalars(select(GroupOrganizer).where(GroupOrganizer.user_id == world["organizer"].id)).one()
    assert post(signed_in_client(world["admin"]), f"/groups/metadata/organizers/{olga_row.id}/remove").status_code \
        == 303
    client = signed_in_client(world["organizer"])
    assert client.get("/groups/metadata/organizers").status_code == 403
    assert post(client, "/groups/metadata/edit", GOOD_PAGE).status_code == 403


def test_an_organizer_leaves_the_group_themselves(signed_in_client, world, session):
    client = signed_in_client(world["organizer"])
    page = client.get("/groups/metadata/organizers").get_data(as_text=True)
    olga_row = session.scalars(select(GroupOrganizer).where(GroupOrganizer.user_id == world["organizer"].id)).one()
    url = f"/groups/metadata/organizers/{olga_row.id}/remove"
    assert f'href="{url}">Leave the group</a>' in page
    assert "Leave the organizers of Metadata Practitioners?" in client.get(url).get_data(as_text=True)
    response = post(client, url)
    assert response.status_code == 303 and response.location.endswith("/groups/metadata?done=left")
    assert "You’ve left the group’s organizers." in client.get(response.location).get_data(as_text=True)
    assert organizer_names(session) == ["Ada Seeded"]
    assert client.get("/groups/metadata/organizers").status_code == 403


@pytest.mark.parametrize("who", ["organizer", "admin"])
def test_the_last_organizer_can_neither_leave_nor_be_removed(signed_in_client, world, session, who):
    session.delete(session.get(GroupOrganizer, world["ids"]["ada"]))
    session.commit()
    before = snapshot(session)
    olga_row = session.scalars(select(GroupOrganizer).where(GroupOrganizer.user_id == world["organizer"].id)).one()
    client = signed_in_client(world[who])
    page = client.get("/groups/metadata/organizers").get_data(as_text=True)
    assert "The last organizer stays" in page and "/remove" not in page
    response = post(client, f"/groups/metadata/organizers/{olga_row.id}/remove")
    assert response.status_code == 409 and LAST_ORGANIZER in response.get_data(as_text=True)
    assert snapshot(session) == before


def test_a_seeded_name_counts_as_an_organizer_for_the_rule(signed_in_client, world, session):
    """Counting rows: a group whose only organizer is a seeded name keeps that name."""
    lone = create_group(slug="lone", organizers=["Sam Seeded"])
    session.commit()
    row = lone.organizers[0].id
    response = post(signed_in_client(world["admin"]), f"/groups/lone/organizers/{row}/remove")
    assert response.status_code == 409 and organizer_names(session, "lone") == ["Sam Seeded"]


def test_removing_an_approved_proposals_invitee_stops_their_pending_link(signed_in_client, world, session):
    """Co-organizers named in a proposal have a row and an invitation from its approval on."""
    row = GroupOrganizer(group_id=world["group"].id, name="Pia Proposed", email="pia@example.org", position=6)
    session.add(row)
    session.flush()
    invitation = OrganizerInvitation(group_id=world["group"].id, organizer_id=row.id, email="pia@example.org",
                                     name="Pia Proposed", created_at=utcnow(),
                                     expires_at=utcnow() + timedelta(days=14))
    session.add(invitation)
    session.commit()
    from webapp.groups.invitations import invitation_token

    path = f"/invitations/{invitation_token(invitation)}"
    page = signed_in_client(world["organizer"]).get("/groups/metadata/organizers").get_data(as_text=True)
    assert "Invited as pia@example.org, hasn’t signed in yet" in page
    assert post(signed_in_client(world["organizer"]), f"/groups/metadata/organizers/{row.id}/remove").status_code \
        == 303
    session.refresh(invitation)
    assert invitation.organizer_id is None and invitation.revoked_at is not None
    pia = create_user(email="pia@example.org")
    session.commit()
    client = signed_in_client(pia)
    assert client.get(path).status_code == 410 and post(client, path).status_code == 410
    assert "Pia Proposed" not in organizer_names(session)
    assert client.get("/groups/metadata/organizers").status_code == 403


def test_the_roster_says_who_has_signed_in(signed_in_client, world, session):
    world["organizer"].last_signed_in_at = utcnow()
    never = create_user(email="never@example.org", display_name="Nora Never")
    world["group"].organizers.append(GroupOrganizer(name="Nora Never", user_id=never.id, position=10))
    session.commit()
    page = signed_in_client(world["organizer"]).get("/groups/metadata/organizers").get_data(as_text=True)
    rows = text(by_id(page, "organizer-rows"))
    assert "Signed in (org@example.org)" in rows
    assert "Has an account (never@example.org), hasn’t signed in yet" in rows
    assert "Listed by name only (no account)" in rows


# --- with htmx -----------------------------------------------------------------------------------------

def hx_post(client, url, data=None):
    return client.post(url, data={"csrf_token": csrf_token_for(client), **(data or {})},
                       headers={"HX-Request": "true"})


def test_with_htmx_a_refused_form_comes_back_alone_and_success_redirects(signed_in_client, world, session):
    """htmx swaps only 2xx answers: the form's block comes back with its messages (200); a success
    answers with HX-Redirect. Without JavaScript the same forms answer 422/409 and 303 (above)."""
    client = signed_in_client(world["organizer"])
    bad = hx_post(client, "/groups/metadata/edit", dict(description="", external_url="nope"))
    html = bad.get_data(as_text=True)
    assert bad.status_code == 200 and html.lstrip().startswith('<form id="group-form"') and "<html" not in html
    assert "web address starting with https://" in field_error(html, "group-external-url")

    duplicate = hx_post(client, "/groups/metadata/organizers", dict(name="W", email="wendy@example.org"))
    html = duplicate.get_data(as_text=True)
    assert duplicate.status_code == 200 and html.lstrip().startswith('<form id="invite-form"')
    assert "hasn’t answered yet" in field_error(html, "invite-email")

    sent = hx_post(client, "/groups/metadata/organizers", GOOD_INVITE)
    assert sent.status_code == 200 and sent.headers["HX-Redirect"] == "/groups/metadata/organizers?done=invited"
    saved = hx_post(client, "/groups/metadata/edit", GOOD_PAGE)
    assert saved.headers["HX-Redirect"] == "/groups/metadata?done=saved"


def test_with_htmx_the_last_organizer_refusal_comes_back_in_the_form(signed_in_client, world, session):
    session.delete(session.get(GroupOrganizer, world["ids"]["ada"]))
    session.commit()
    olga_row = session.scalars(select(GroupOrganizer).where(GroupOrganizer.user_id == world["organizer"].id)).one()
    response = hx_post(signed_in_client(world["organizer"]), f"/groups/metadata/organizers/{olga_row.id}/remove")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<form id="remove-form"')
    assert 'role="alert">' + LAST_ORGANIZER in html
    assert organizer_names(session) == ["Olga Organizer"]
