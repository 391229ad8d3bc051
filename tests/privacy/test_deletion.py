"""Deleting one's account (webapp/privacy/deletion.py) over HTTP: asked by a mailed link, then the
upcoming seats go down the line, past attendance stays as counts, every session ends, and the
address is left in no table but the outbox's status rows of mails already sent."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import Enum, String, Text, select, text

from tests.conftest import post_form
from tests.factories import create_event, create_group, create_proposal, create_user, organizer_of
from webapp.db import db, utcnow
from webapp.follows.services import follow_group
from webapp.groups.models import GroupOrganizer
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.slots.services import claim_slot, offer_slots

ADDRESS = "rae@example.org"


def _deletion_link(session) -> str:
    session.rollback()
    mail = session.scalars(select(OutboxMail).where(OutboxMail.kind == "account_deletion")
                           .order_by(OutboxMail.id.desc())).first()
    return re.search(r"http://[^/\s]+(/account/delete/\S+)", mail.body_text).group(1)


def _cells_holding(session, needle: str) -> list[str]:
    """table.column of every text cell that still holds `needle`, in any case."""
    found = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String | Text) and not isinstance(column.type, Enum):
                count = session.execute(select(text("count(*)")).select_from(table)
                                        .where(column.ilike(f"%{needle}%"))).scalar()
                if count:
                    found.append(f"{table.name}.{column.name}")
    return found


def test_deleting_an_account_from_the_mailed_link(signed_in_client, session):
    now = utcnow()
    group = create_group(slug="a11y", name="Accessibility in Libraries")
    member = create_user(email=ADDRESS, display_name="Rae Reader", institution="Queens Library", pronouns="she/her")
    waiting = create_user(email="next@example.org", display_name="Next In Line")
    upcoming = create_event(group, slug="captions", capacity=1, starts_at=now + timedelta(days=3))
    past = create_event(group, slug="last-month", capacity=None, starts_at=now - timedelta(days=3))
    registrations.register(session, upcoming.id, member=member, accessibility_needs="Live captions", now=now)
    registrations.register(session, upcoming.id, member=waiting, now=now)
    past_registration = Registration(event_id=past.id, user_id=member.id, status=RegistrationStatus.CONFIRMED,
                                     accessibility_needs="Step-free", created_at=now - timedelta(days=9),
                                     checked_in_at=past.starts_at, queue_number=1)
    session.add(past_registration)
    past.confirmed_count = 1
    offer = offer_slots(session, upcoming.id, label="15-minute talk", minutes=15, how_many=1, now=now)
    claim_slot(session, upcoming.id, offer.id, member=member, title="Alt text at scale", now=now)
    follow_group(session, group.id, member=member, now=now)
    create_proposal(proposer=create_user(), coorganizers=[("Rae", ADDRESS.upper(), "QL")])
    session.commit()

    client = signed_in_client(member)
    client.get("/account")  # makes the private calendar
    page = client.get("/account/delete").get_data(as_text=True)
    assert "Email me the link to delete my account" in page
    assert "We mailed you a link" in post_form(client, "/account/delete").get_data(as_text=True)
    link = _deletion_link(session)

    confirm = client.get(link)
    assert confirm.status_code == 200 and ADDRESS in confirm.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(Registration.status).where(Registration.user_id == member.id,
                                                            Registration.event_id == upcoming.id)) == "confirmed"
    done = post_form(client, link)
    assert done.status_code == 200 and "Your account was deleted" in done.get_data(as_text=True)

    session.rollback()
    # The seat went to the next in line, who is told.
    assert session.scalar(select(Registration.status).where(Registration.user_id == waiting.id)) == "confirmed"
    assert session.scalar(select(OutboxMail.id).where(OutboxMail.recipient == "next@example.org",
                                                      OutboxMail.kind == "registration_promoted")) is not None
    # Past attendance is kept as an anonymous count.
    kept = session.get(Registration, past_registration.id)
    assert kept.status == "confirmed" and kept.checked_in_at is not None and kept.accessibility_needs == ""
    # The cookie this browser (or a copy of it) holds signs nobody in.
    assert client.get("/account").status_code in (302, 303)
    # The address is nowhere but the status rows of mails to it, whose text is gone.
    assert _cells_holding(session, ADDRESS) == ["outbox_mails.recipient"]
    for needle in ("Rae Reader", "Queens Library", "Live captions", "Step-free", "Alt text at scale"):
        assert _cells_holding(session, needle) == [], needle
    rows = session.scalars(select(OutboxMail).where(OutboxMail.recipient == ADDRESS)).all()
    assert rows and all(row.body_text == "" and row.context is None and row.body_erased_at is not None for row in rows)
    assert all(row.state != MailState.QUEUED for row in rows)  # nothing more goes to them
    # The link does it once.
    again = post_form(client, link)
    assert again.status_code == 410 and "already been deleted" in again.get_data(as_text=True)


def test_a_groups_only_organizer_is_asked_to_find_another_first(signed_in_client, session):
    group = create_group(slug="zines", name="Zine Librarians", organizers=[])
    member = create_user(email=ADDRESS)
    session.add(GroupOrganizer(group_id=group.id, name="Rae", user_id=member.id, position=0))
    session.commit()
    client = signed_in_client(member)
    page = client.get("/account/delete").get_data(as_text=True)
    assert "Zine Librarians" in page and "Email me the link" not in page
    refused = post_form(client, "/account/delete")
    assert refused.status_code == 409
    session.rollback()
    assert session.scalar(select(OutboxMail.id).where(OutboxMail.kind == "account_deletion")) is None

    other = organizer_of(group, email="co@example.org", display_name="Co")
    session.commit()
    assert post_form(client, "/account/delete").status_code == 200
    post_form(client, _deletion_link(session))
    session.rollback()
    assert [o.user_id for o in session.scalars(select(GroupOrganizer).where(GroupOrganizer.group_id == group.id))] \
        == [other.id]


def test_a_bad_or_old_link_deletes_nothing(app, client, signed_in_client, session):
    member = create_user(email=ADDRESS)
    session.commit()
    assert client.get("/account/delete/not-a-token").status_code == 410
    app.config["ACCOUNT_DELETION_LINK_MINUTES"] = 0
    signed_in = signed_in_client(member)
    post_form(signed_in, "/account/delete")
    link = _deletion_link(session)
    time.sleep(1.1)
    expired = post_form(signed_in, link)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    session.rollback()
    assert session.get(type(member), member.id).deleted_at is None


def test_the_request_is_rate_limited_and_needs_csrf(app, signed_in_client, session):
    member = create_user(email=ADDRESS)
    session.commit()
    client = signed_in_client(member)
    assert client.post("/account/delete").status_code == 400  # no CSRF token
    app.config["ACCOUNT_DELETION_LIMIT"] = "2 per hour"
    assert [post_form(client, "/account/delete").status_code for _ in range(3)] == [200, 200, 429]


def test_a_deleted_members_zoom_link_dies_at_zoom_too(app, signed_in_client, session, fake_zoom):
    from tests.zoom.test_intents import join_status, published_zoom_event, run_all

    event = published_zoom_event(session, capacity=5)
    member = create_user(email=ADDRESS)
    registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    run_all(session)
    session.expire_all()
    link = session.scalar(select(Registration.zoom_join_url).where(Registration.user_id == member.id))
    assert link and join_status(link) == 200
    client = signed_in_client(member)
    post_form(client, "/account/delete")
    post_form(client, _deletion_link(session))
    run_all(session)
    assert join_status(link) == 403  # cancelled at Zoom: a copied link is dead
    assert _cells_holding(session, ADDRESS) == ["outbox_mails.recipient"]
