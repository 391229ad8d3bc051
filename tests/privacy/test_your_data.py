"""A member's own data (/account/data and its JSON download): everything the site holds about them,
from every table that names a member, and nothing of anyone else's."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup

from tests.factories import create_event, create_group, create_proposal, create_user
from webapp.db import db, utcnow
from webapp.follows.services import follow_group
from webapp.outbox.services import queue_mail
from webapp.privacy.export import EXPORTED, member_data
from webapp.privacy.views import SECTIONS
from webapp.registrations import services as registrations
from webapp.slots.services import claim_slot, offer_slots


def test_every_table_that_names_a_member_is_in_the_export(app):
    naming = {table.name for table in db.metadata.sorted_tables
              if any(fk.column.table.name == "users" for column in table.columns for fk in column.foreign_keys)
              or {"email", "recipient"} & set(table.columns.keys())} - {"users"} | {"users"}
    assert naming <= set(EXPORTED), naming - set(EXPORTED)
    assert set(EXPORTED.values()) <= {key for key, _ in SECTIONS} | {"profile"}


@pytest.fixture
def world(session):
    now = utcnow()
    group = create_group(slug="a11y", name="Accessibility in Libraries")
    member = create_user(email="rae@example.org", display_name="Rae <b>Reader</b>", institution="Queens Library")
    other = create_user(email="other@example.org", display_name="Someone Else")
    talk = create_event(group, slug="captions", title="Captions for everyone", capacity=1)
    full = create_event(group, slug="full-house", title="A full house", capacity=1,
                        starts_at=now + timedelta(days=9))
    registrations.register(session, talk.id, member=member, accessibility_needs="Live captions <script>", now=now)
    registrations.register(session, full.id, member=other, accessibility_needs="OTHER-NEEDS", now=now)
    registrations.register(session, full.id, member=member, now=now)  # waitlisted, #1
    offer = offer_slots(session, talk.id, label="15-minute talk", minutes=15, how_many=1, now=now)
    claim_slot(session, talk.id, offer.id, member=member, title="Alt text at scale", now=now)
    follow_group(session, group.id, member=member, now=now)
    create_proposal(proposer=member, name="Zine Librarians")
    create_proposal(proposer=other, name="OTHER-PROPOSAL", coorganizers=[("Rae", "rae@example.org", "QL")])
    queue_mail(session, kind="test", dedup_key="t1", recipient="rae@example.org", subject="Hello Rae", body_text="x")
    queue_mail(session, kind="test", dedup_key="t2", recipient="other@example.org", subject="OTHER-MAIL", body_text="y")
    session.commit()
    return member


def test_the_page_shows_each_section_and_only_the_members_own(signed_in_client, world):
    response = signed_in_client(world).get("/account/data")
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    page = BeautifulSoup(html, "html.parser")
    assert [h.get_text() for h in page.select("section h2")] == [heading for _, heading in SECTIONS]
    text = page.get_text(" ", strip=True)
    for expected in ("rae@example.org", "Queens Library", "Captions for everyone", "Live captions <script>",
                     "A full house", "Alt text at scale", "Accessibility in Libraries", "Zine Librarians",
                     "OTHER-PROPOSAL", "Hello Rae"):  # named as a co-organizer on someone else's proposal
        assert expected in text, expected
    for foreign in ("OTHER-NEEDS", "OTHER-MAIL", "other@example.org"):
        assert foreign not in text
    assert "<script>" not in html and "<b>Reader</b>" not in html  # what members typed is escaped


def test_the_download_is_the_same_data_as_json(signed_in_client, world, session):
    response = signed_in_client(world).get("/account/data.json")
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"] and "no-store" in response.headers["Cache-Control"]
    data = json.loads(response.get_data(as_text=True))
    assert data["profile"]["email"] == "rae@example.org"
    by_event = {r["event"]: r for r in data["registrations"]}
    assert by_event["Captions for everyone"]["accessibility_needs"] == "Live captions <script>"
    assert by_event["A full house"]["status"] == "waitlisted" and by_event["A full house"]["place_in_line"] == 1
    assert [c["title"] for c in data["slot_claims"]] == ["Alt text at scale"]
    assert [g["group"] for g in data["follows"]["groups"]] == ["Accessibility in Libraries"]
    subjects = [m["subject"] for m in data["mails"]]
    assert "Hello Rae" in subjects and "You’re registered: Captions for everyone" in subjects
    assert set(data) == set(member_data(session, world, now=utcnow()))
    assert "OTHER" not in json.dumps({k: v for k, v in data.items() if k != "named_on_proposals"})


def test_erased_needs_say_so(signed_in_client, world, session):
    from webapp.privacy.sweeps import erase_accessibility_needs

    erase_accessibility_needs(session, now=utcnow() + timedelta(days=60))
    session.commit()
    data = signed_in_client(world).get("/account/data.json").get_json()
    captions = [r for r in data["registrations"] if r["event"] == "Captions for everyone"]
    assert captions and all("erased" in r["accessibility_needs"] for r in captions)


def test_signed_out_is_asked_to_sign_in(client):
    for url in ("/account/data", "/account/data.json"):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/sign-in" in response.headers["Location"]
