"""Slots over HTTP: the organizers offer, approve, reorder and release; a member claims from the event
page; every form re-renders with its input and a specific error, and nothing is half written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import post_form as post
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.outbox import mails
from webapp.db import db, utcnow
from webapp.registrations import services as registrations
from webapp.slots.models import ClaimStatus, SlotClaim, SlotOffer

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(session):
    group = create_group(slug="chat", name="METRO Community Chat")
    starts = utcnow() + timedelta(days=5)
    event = create_event(group, slug="chat-dec", title="Community Chat", starts_at=starts,
                         ends_at=starts + timedelta(hours=1))
    organizer = organizer_of(group, email="org@example.org", display_name="Olga")
    ada = create_user(display_name="Ada Presenter")
    registrations.register(session, event.id, member=ada, now=utcnow())
    session.commit()
    return dict(event=event, organizer=organizer, ada=ada)


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def offer(client, **data):
    return post(client, "/events/chat-dec/slots/offer", {"label": "15-minute talk", "minutes": "15",
                                                         "how_many": "2", **data})


def test_the_journey_offer_claim_approve_and_the_agenda_shows(signed_in_client, world):
    client = signed_in_client(world["organizer"])
    response = offer(client)
    assert response.status_code == 303
    assert "The slots are offered" in client.get(response.headers["Location"]).get_data(as_text=True)
    client = signed_in_client(world["ada"])
    page = client.get("/events/chat-dec").get_data(as_text=True)
    assert "Claim this slot" in page
    offer_id = db.session.scalar(select(SlotOffer.id))
    response = post(client, "/events/chat-dec/slots/claim", {"offer_id": offer_id, "title": "Zines <b>now</b>",
                                                             "abstract": "Why zines."}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="slots-section"' in html and "<html" not in html
    assert "awaiting the organizers" in html and "Zines &lt;b&gt;now&lt;/b&gt;" in html
    claim_id = db.session.scalar(select(SlotClaim.id))
    client = signed_in_client(world["organizer"])
    assert "Why zines." in client.get("/events/chat-dec/slots").get_data(as_text=True)
    response = post(client, f"/events/chat-dec/slots/{claim_id}/approve", headers=HTMX)
    assert "on the agenda" in response.get_data(as_text=True)
    public = db.session.get(SlotClaim, claim_id)
    assert public.status == ClaimStatus.APPROVED
    page = signed_in_client(create_user()).get("/events/chat-dec").get_data(as_text=True)
    assert "Agenda" in page and "Zines &lt;b&gt;now&lt;/b&gt;" in page and "Ada Presenter" in page
    assert "Why zines." in page  # the abstract, in a <details>
    ics = client.get("/events/chat-dec/calendar.ics").get_data(as_text=True).replace("\r\n ", "")
    assert "Ada Presenter: Zines <b>now</b>" in ics


@pytest.mark.parametrize(("data", "message"), [
    ({"label": ""}, "Please name the slots"),
    ({"minutes": "abc"}, "must be a whole number"),
    ({"minutes": "9" * 5000}, "must be between"),
    ({"how_many": "5"}, "would run past the end of the event"),
    ({"label": "ü" * 101}, "at most 100 characters"),
])
def test_a_refused_offer_comes_back_with_the_input_and_the_reason(signed_in_client, world, data, message):
    client = signed_in_client(world["organizer"])
    response = offer(client, **data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert 'aria-invalid="true"' in html
    assert count(SlotOffer) == 0


def test_a_refused_claim_comes_back_with_what_was_typed(signed_in_client, world):
    offer(signed_in_client(world["organizer"]))
    client = signed_in_client(world["ada"])
    offer_id = db.session.scalar(select(SlotOffer.id))
    abstract = "<script>alert(1)</script> " + "long " * 300
    response = post(client, "/events/chat-dec/slots/claim", {"offer_id": offer_id, "title": "Kept title",
                                                             "abstract": abstract})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "The abstract can be at most 1,000 characters" in html
    assert 'value="Kept title"' in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    response = post(client, "/events/chat-dec/slots/claim", {"offer_id": "99999999999", "title": "T"})
    assert response.status_code == 422 and "Please choose one of the slots" in response.get_data(as_text=True)
    assert count(SlotClaim) == 0


def test_a_waitlisted_member_sees_the_slots_but_is_told_a_claim_needs_a_seat(signed_in_client, session, world):
    offer(signed_in_client(world["organizer"]))
    event = world["event"]
    registrations.change_capacity(session, event.id, 1, now=utcnow())
    waiting = create_user()
    registrations.register(session, event.id, member=waiting, now=utcnow())
    session.commit()
    page = signed_in_client(waiting).get("/events/chat-dec").get_data(as_text=True)
    assert "15-minute talk, 15 minutes: 2 of 2 free" in page
    assert "claiming a slot needs a seat" in page and "Claim this slot" not in page


def test_only_the_organizers_manage_slots(signed_in_client, world, client):
    assert client.post("/events/chat-dec/slots/offer").status_code in (400, 403)
    member = signed_in_client(world["ada"])
    assert member.get("/events/chat-dec/slots").status_code == 403
    assert offer(member).status_code == 403
    assert count(SlotOffer) == 0


def test_reorder_and_release_without_javascript(signed_in_client, session, world):
    organizer = signed_in_client(world["organizer"])
    offer(organizer)
    offer_id = db.session.scalar(select(SlotOffer.id))
    bo = create_user(display_name="Bo")
    registrations.register(session, world["event"].id, member=bo, now=utcnow())
    session.commit()
    for member, title in ((world["ada"], "First"), (bo, "Second")):
        post(signed_in_client(member), "/events/chat-dec/slots/claim", {"offer_id": offer_id, "title": title})
    organizer = signed_in_client(world["organizer"])
    ids = list(db.session.scalars(select(SlotClaim.id).order_by(SlotClaim.id)))
    for claim_id in ids:
        post(organizer, f"/events/chat-dec/slots/{claim_id}/approve")
    response = post(organizer, f"/events/chat-dec/slots/{ids[1]}/move", {"direction": "up"})
    assert response.status_code == 303
    html = organizer.get(response.headers["Location"]).get_data(as_text=True)
    assert html.index("Second") < html.index("First")
    assert post(organizer, f"/events/chat-dec/slots/{ids[1]}/move", {"direction": "sideways"}).status_code == 422
    post(organizer, f"/events/chat-dec/slots/{ids[0]}/release")
    (mail,) = mails(db.session, kind="slot_released")
    assert mail.recipient == world["ada"].email
    assert post(organizer, "/events/chat-dec/slots/424242/approve").status_code == 404


def test_the_cancel_question_says_the_slot_goes_too_and_cancelling_frees_it(signed_in_client, world):
    offer(signed_in_client(world["organizer"]))
    client = signed_in_client(world["ada"])
    offer_id = db.session.scalar(select(SlotOffer.id))
    post(client, "/events/chat-dec/slots/claim", {"offer_id": offer_id, "title": "My talk"})
    registration = registrations.registration_for(db.session, world["event"].id, world["ada"])
    page = client.get(f"/registrations/{registration.id}/cancel").get_data(as_text=True)
    assert "Your slot, “My talk”, is freed too, and the organizers are told." in page
    assert post(client, f"/registrations/{registration.id}/cancel").status_code in (200, 303)
    assert db.session.scalar(select(SlotClaim.status)) == ClaimStatus.RELEASED
    (mail,) = mails(db.session, kind="slot_freed")
    assert mail.recipient == "org@example.org"
    assert "freed too" not in client.get(f"/registrations/{registration.id}/cancel").get_data(as_text=True)


def test_an_approved_talk_shows_to_visitors_on_the_very_next_request(client, session, world):
    """The anonymous page cache: a slot change bumps the content version like any public change."""
    from webapp.slots import services

    event, now = world["event"], utcnow()
    slot = services.offer_slots(session, event.id, label="Talk", minutes="15", how_many="1", now=now)
    claim = services.claim_slot(session, event.id, slot.id, member=world["ada"], title="Fresh talk", now=now)
    session.commit()
    cache = client.application.extensions["pagecache"]
    client.get("/events/chat-dec")
    hits = cache.hits
    assert "Fresh talk" not in client.get("/events/chat-dec").get_data(as_text=True)
    assert cache.hits == hits + 1  # that one came from the cache
    services.approve(session, event.id, claim.id, now=now)
    session.commit()
    assert "Fresh talk" in client.get("/events/chat-dec").get_data(as_text=True)


def test_once_the_event_is_cancelled_the_slots_cannot_be_claimed(signed_in_client, session, world):
    from webapp.events import changes

    offer(signed_in_client(world["organizer"]))
    changes.cancel_event(session, world["event"].id, now=utcnow())
    session.commit()
    page = signed_in_client(world["ada"]).get("/events/chat-dec").get_data(as_text=True)
    assert "This event was cancelled, so its slots can’t change." in page and "Claim this slot" not in page


def claimed(signed_in_client, world, title="My talk"):
    """The organizer offers two slots and Ada claims one: her signed-in client and the claim."""
    offer(signed_in_client(world["organizer"]))
    client = signed_in_client(world["ada"])
    post(client, "/events/chat-dec/slots/claim", {"offer_id": db.session.scalar(select(SlotOffer.id)),
                                                  "title": title})
    return client, db.session.scalar(select(SlotClaim))


def test_approving_over_http_mails_the_member_once_even_when_the_post_is_replayed(signed_in_client, world):
    _, claim = claimed(signed_in_client, world, title="Zines <now>")
    organizer = signed_in_client(world["organizer"])
    for _ in range(2):  # a double click, a replayed form
        assert post(organizer, f"/events/chat-dec/slots/{claim.id}/approve").status_code == 303
    (mail,) = mails(db.session, kind="slot_approved")
    assert mail.recipient == world["ada"].email and '"Zines <now>" (15-minute talk) is on the agenda' in mail.body_text
    assert mail.subject == "Your talk is on the agenda: Community Chat"


def test_a_member_withdraws_their_talk_without_javascript_asked_first(signed_in_client, world):
    client, claim = claimed(signed_in_client, world)
    post(signed_in_client(world["organizer"]), f"/events/chat-dec/slots/{claim.id}/approve")
    client = signed_in_client(world["ada"])
    page = client.get("/events/chat-dec").get_data(as_text=True)
    assert 'href="/events/chat-dec/slots/withdraw#slots"' in page and "Yes, withdraw my talk" not in page
    # Asked first: the question changes nothing.
    question = client.get("/events/chat-dec/slots/withdraw")
    html = question.get_data(as_text=True)
    assert question.status_code == 200 and "<html" in html and question.headers["Cache-Control"] == "no-store"
    assert "Withdraw “My talk”?" in html and "Your seat stays yours." in html
    assert f'name="generation" value="{claim.generation}"' in html
    assert db.session.scalar(select(SlotClaim.status)) == ClaimStatus.APPROVED and not mails(db.session,
                                                                                             kind="slot_freed")
    response = post(client, f"/events/chat-dec/slots/{claim.id}/withdraw", {"generation": str(claim.generation)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "You withdrew your talk" in html and "<html" in html
    assert "No talks are on the agenda yet." in html and "Claim this slot" in html
    assert db.session.scalar(select(SlotClaim.status)) == ClaimStatus.RELEASED
    registration = registrations.registration_for(db.session, world["event"].id, world["ada"])
    assert registration.status == "confirmed"
    (mail,) = mails(db.session, kind="slot_freed")
    assert mail.recipient == "org@example.org" and "Ada Presenter withdrew their talk from" in mail.body_text
    # Replayed (a stale tab, the back button and send again): calm words, nothing changed, nothing mailed.
    again = post(client, f"/events/chat-dec/slots/{claim.id}/withdraw", {"generation": str(claim.generation)})
    assert again.status_code == 200 and "already withdrawn or released, so nothing changed" in again.get_data(
        as_text=True)
    assert len(mails(db.session, kind="slot_freed")) == 1


def test_withdrawing_through_htmx_redraws_the_slot_section_alone(signed_in_client, world):
    client, claim = claimed(signed_in_client, world)
    question = client.get("/events/chat-dec/slots/withdraw", headers=HTMX)
    html = question.get_data(as_text=True)
    assert 'id="slots-section"' in html and "<html" not in html and "Yes, withdraw my talk" in html
    assert 'id="slot-withdraw-question" tabindex="-1" autofocus' in html
    # "No, keep my talk" (or Escape) puts the Withdraw link back, and the keyboard on it.
    kept = client.get("/events/chat-dec/slots/section", headers=HTMX).get_data(as_text=True)
    assert "<html" not in kept and "Yes, withdraw my talk" not in kept
    assert "data-focus-after-swap>Withdraw my talk" in kept
    no_js = client.get("/events/chat-dec/slots/section")
    assert no_js.status_code == 303 and no_js.headers["Location"].endswith("/events/chat-dec#slots")
    assert client.get("/events/nowhere/slots/section", headers=HTMX).status_code == 404
    assert db.session.scalar(select(SlotClaim.status)) == ClaimStatus.PENDING
    response = post(client, f"/events/chat-dec/slots/{claim.id}/withdraw", {"generation": "1"}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "You withdrew your talk" in html
    assert db.session.scalar(select(SlotClaim.status)) == ClaimStatus.RELEASED
    (mail,) = mails(db.session, kind="slot_freed")
    assert "which was awaiting your approval" in mail.body_text


def test_only_the_claimant_can_withdraw_and_only_with_the_csrf_token(signed_in_client, world, client):
    _, claim = claimed(signed_in_client, world)
    url = f"/events/chat-dec/slots/{claim.id}/withdraw"
    bo = create_user(display_name="Bo")
    registrations.register(db.session, world["event"].id, member=bo, now=utcnow())
    db.session.commit()
    for someone in (signed_in_client(bo), signed_in_client(world["organizer"])):
        response = post(someone, url, {"generation": "1"})
        assert response.status_code == 403 and "Only the member who claimed this slot" in response.get_data(
            as_text=True)
    ada = signed_in_client(world["ada"])
    assert ada.post(url, data={"generation": "1"}).status_code == 400  # no CSRF token
    assert client.post(url, data={"generation": "1"}).status_code in (302, 303, 400)  # signed out
    assert post(ada, "/events/chat-dec/slots/424242/withdraw", {"generation": "1"}).status_code == 404
    assert post(ada, "/events/nowhere/slots/1/withdraw", {"generation": "1"}).status_code == 404
    assert db.session.scalar(select(SlotClaim.status)) == ClaimStatus.PENDING and not mails(db.session,
                                                                                            kind="slot_freed")


def test_withdrawing_is_refused_once_the_event_started(signed_in_client, session, world):
    client, claim = claimed(signed_in_client, world)
    event = world["event"]
    event.starts_at = utcnow() - timedelta(minutes=1)
    session.commit()
    response = post(client, f"/events/chat-dec/slots/{claim.id}/withdraw", {"generation": "1"})
    assert response.status_code == 409 and "has started" in response.get_data(as_text=True)
    assert db.session.scalar(select(SlotClaim.status)) == ClaimStatus.PENDING
    assert "Withdraw my talk" not in client.get("/events/chat-dec").get_data(as_text=True)


def test_withdrawals_count_towards_the_members_limit_and_a_refused_one_sends_nothing(app, signed_in_client,
                                                                                       world):
    """Each withdrawal mails the organizers: claim, withdraw, claim, withdraw... stops at the limit."""
    app.config["REGISTRATION_LIMIT_PER_MEMBER"] = "1 per hour"
    client, claim = claimed(signed_in_client, world)
    offer_id = db.session.scalar(select(SlotOffer.id))
    url = f"/events/chat-dec/slots/{claim.id}/withdraw"
    assert "You withdrew your talk" in post(client, url, {"generation": "1"}).get_data(as_text=True)
    # A replay counts nothing and is not refused: it changed nothing.
    assert "nothing changed" in post(client, url, {"generation": "1"}, headers=HTMX).get_data(as_text=True)
    post(client, "/events/chat-dec/slots/claim", {"offer_id": offer_id, "title": "Again"})
    refused = post(client, url, {"generation": "2"})
    assert refused.status_code == 429 and "many times in a short while" in refused.get_data(as_text=True)
    assert db.session.scalar(select(SlotClaim.status)) == ClaimStatus.PENDING
    assert len(mails(db.session, kind="slot_freed")) == 1
