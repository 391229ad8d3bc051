"""A NUL byte (or another control character) typed or pasted into a form: it comes out on the way in
(webapp/requests.py), and the form comes back with the cleaned text, everything else as typed and a
specific error next to the field. Nothing is written until the form is sent again; never the error
page, never a 500 (PostgreSQL refuses NUL in text)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_for
from tests.conftest import post_form as post
from tests.factories import create_event, create_group, create_proposal, create_user, organizer_of
from tests.support.html import by_id, parse, text
from webapp.accounts.models import Role, User
from webapp.db import db, utcnow
from webapp.events.models import Event
from webapp.outbox.models import OutboxMail
from webapp.proposals.guidelines import COMMITMENTS
from webapp.proposals.models import Proposal, ProposalState, ProposalTransition
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration
from webapp.slots.models import SlotClaim, SlotOffer

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
HTMX = {"HX-Request": "true"}
NY = ZoneInfo("America/New_York")
LOCAL = "%Y-%m-%dT%H:%M"
# The error's words (webapp/requests.py CLEANED_MESSAGE), spelled out so a test fails, not errs, without it.
CLEANED = ("This contained an invisible character we can’t keep (perhaps from copying and pasting). "
           "We removed it: please check the text and send it again.")


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def error_of(html: str, field_id: str) -> str:
    return text(by_id(html, f"{field_id}-error"))


# --- the proposal form --------------------------------------------------------------------------------

def proposal_form(client, **overrides) -> dict:
    data = {
        "csrf_token": csrf_token_for(client), "client_key": "a" * 32, "name": "Metadata Practitioners",
        "topic": "Cataloging and metadata", "description": "We **describe** collections.",
        "need": "Catalogers working alone.", "difference": "No group covers metadata.", "meeting_format": "online",
        "cadence": "Every other month", "first_event": "A linked-data round-table.",
        "acknowledged": [g.anchor for g in COMMITMENTS], "coorganizers-0-name": "Nell New",
        "coorganizers-0-email": "nell@example.org", "coorganizers-0-institution": "Brooklyn Public Library",
        "send": "1",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("htmx", [False, True], ids=["no js", "htmx"])
def test_a_nul_in_a_proposals_description_comes_back_cleaned_then_sends(signed_in_client, session, htmx):
    client = signed_in_client(create_user())
    response = client.post("/proposals/new", headers=HTMX if htmx else {},
                           data=proposal_form(client, description="We **describe**\x00 collections.\r\nAll day."))
    html = response.get_data(as_text=True)
    assert response.status_code == (200 if htmx else 422)
    if htmx:
        assert html.lstrip().startswith('<form id="proposal-form"') and "<html" not in html
    assert by_id(html, "proposal-description").string == "We **describe** collections.\nAll day."
    assert error_of(html, "proposal-description") == CLEANED
    assert by_id(html, "proposal-description")["aria-invalid"] == "true"
    assert "Please check the 1 field marked below" in text(parse(html))
    # Everything else as it was typed.
    assert by_id(html, "proposal-name")["value"] == "Metadata Practitioners"
    assert by_id(html, "proposal-cadence")["value"] == "Every other month"
    assert by_id(html, "coorganizers-0-email")["value"] == "nell@example.org"
    assert by_id(html, "proposal-format-online").has_attr("checked")
    assert 'name="client_key" value="' + "a" * 32 + '"' in html
    assert count(Proposal) == 0 and count(OutboxMail) == 0
    # Sent again as it came back: saved and sent, with the text as it now reads.
    again = client.post("/proposals/new", data=proposal_form(client, description="We **describe** collections."))
    assert again.status_code == 303
    assert session.scalars(select(Proposal.description)).one() == "We **describe** collections."


def test_a_control_character_in_a_co_organizers_name_comes_back_next_to_that_name(signed_in_client, session):
    client = signed_in_client(create_user())
    response = client.post("/proposals/new", data=proposal_form(client, **{"coorganizers-0-name": "Nell\x1b New"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert by_id(html, "coorganizers-0-name")["value"] == "Nell New"
    assert error_of(html, "coorganizers-0-name") == CLEANED
    assert "Please check the 1 field marked below" in text(parse(html))
    assert count(Proposal) == 0


def test_adding_a_co_organizer_row_says_at_once_what_came_out(signed_in_client, session):
    client = signed_in_client(create_user())
    response = client.post("/proposals/new", data=proposal_form(client, send=None, add_coorganizer="1",
                                                                need="Catalogers\x00 alone."))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="coorganizers-1-name"' in html
    assert by_id(html, "proposal-need").string == "Catalogers alone." and error_of(html, "proposal-need") == CLEANED
    assert count(Proposal) == 0


def test_inline_validation_under_htmx_shows_the_cleaned_field_with_its_error(signed_in_client, session):
    client = signed_in_client(create_user())
    response = client.post("/proposals/validate", headers={**HTMX, "X-CSRFToken": csrf_token_for(client)},
                           data={"name": "Zine\x00 Librarians"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    field = by_id(html, "proposal-name-field")
    assert field.input["value"] == "Zine Librarians" and text(field.find(class_="field-error")) == CLEANED


def test_an_expired_form_with_a_nul_is_rescued_with_the_cleaned_text_and_its_error(signed_in_client, session):
    """The CSRF rescue (webapp/errors.py) draws the proposal form again from the cleaned values."""
    client = signed_in_client(create_user())
    response = client.post("/proposals/new", data=proposal_form(client, csrf_token="expired-token",
                                                                description="A long\x00, careful text."))
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "everything you typed is still here" in html
    assert by_id(html, "proposal-description").string == "A long, careful text."
    assert error_of(html, "proposal-description") == CLEANED
    assert by_id(html, "proposal-name")["value"] == "Metadata Practitioners"
    assert count(Proposal) == 0


def test_a_reviewers_message_with_a_nul_comes_back_and_nothing_happens(signed_in_client, session):
    proposal = create_proposal(state=ProposalState.SUBMITTED)
    reviewer = create_user(roles=[Role.REVIEWER])
    session.commit()
    client = signed_in_client(reviewer)
    before = count(ProposalTransition)
    response = post(client, f"/proposals/{proposal.id}/act", {"action": "comment", "expected_state": "submitted",
                                                              "message": "Looks\x00 good."})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert by_id(html, "action-message").string == "Looks good." and error_of(html, "action-message") == CLEANED
    assert count(ProposalTransition) == before and count(OutboxMail) == 0


# --- the profile ------------------------------------------------------------------------------------

@pytest.mark.parametrize("htmx", [False, True], ids=["no js", "htmx"])
def test_the_profile_comes_back_cleaned_and_keeps_what_was_saved_until_sent_again(signed_in_client, session,
                                                                                    htmx):
    ada = create_user(display_name="Ada", institution="BPL", pronouns="she/her")
    session.commit()
    client = signed_in_client(ada)
    # A value that was nothing but the invisible character: empty now, still not saved unseen.
    response = client.post("/account", headers=HTMX if htmx else {}, data={
        "csrf_token": csrf_token_for(client), "display_name": "Ada\x00 L.", "institution": "\x07",
        "pronouns": "she/her"})
    html = response.get_data(as_text=True)
    assert response.status_code == (200 if htmx else 422)
    assert by_id(html, "display-name")["value"] == "Ada L." and error_of(html, "display-name") == CLEANED
    assert by_id(html, "institution")["value"] == "" and error_of(html, "institution") == CLEANED
    assert by_id(html, "pronouns")["value"] == "she/her"
    session.expire_all()
    assert (ada.display_name, ada.institution) == ("Ada", "BPL")
    again = client.post("/account", data={"csrf_token": csrf_token_for(client), "display_name": "Ada L.",
                                          "institution": "", "pronouns": "she/her"})
    assert "Your profile is saved." in again.get_data(as_text=True)
    session.expire_all()
    assert (ada.display_name, ada.institution) == ("Ada L.", None)


# --- the event form ---------------------------------------------------------------------------------

@pytest.fixture
def organized(session):
    group = create_group(slug="metadata")
    starts = utcnow() + timedelta(days=10)
    event = create_event(group, slug="round-table", title="Round-table", description="Bring questions.",
                         starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=20)
    organizer = organizer_of(group)
    session.commit()
    return dict(group=group, event=event, organizer=organizer)


def event_form(**changes) -> dict:
    starts = (utcnow() + timedelta(days=10)).astimezone(NY)
    data = dict(title="Round-table", description="Bring questions.", starts_at=starts.strftime(LOCAL),
                ends_at=(starts + timedelta(hours=2)).strftime(LOCAL), meeting_format="online",
                meeting_url="https://zoom.us/j/555", capacity="20")
    return {**data, **changes}


def test_editing_an_event_with_a_nul_comes_back_cleaned_and_changes_nothing(signed_in_client, session, organized):
    event = organized["event"]
    client = signed_in_client(organized["organizer"])
    response = post(client, "/events/round-table/edit", event_form(
        title="Round-table, again", description="Bring\x00 questions\x0c and snacks."))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert by_id(html, "event-description").string == "Bring questions and snacks."
    assert error_of(html, "event-description") == CLEANED
    assert by_id(html, "event-title")["value"] == "Round-table, again"
    assert by_id(html, "event-capacity")["value"] == "20"
    db.session.expire_all()
    stored = db.session.get(Event, event.id)
    assert (stored.title, stored.description) == ("Round-table", "Bring questions.")
    assert count(OutboxMail) == 0
    again = post(client, "/events/round-table/edit", event_form(
        title="Round-table, again", description="Bring questions and snacks."))
    assert again.status_code == 303
    db.session.expire_all()
    assert db.session.get(Event, event.id).description == "Bring questions and snacks."


def test_a_new_event_through_htmx_comes_back_in_place_and_makes_no_event(signed_in_client, session, organized):
    client = signed_in_client(organized["organizer"])
    response = post(client, "/groups/metadata/events/new", event_form(title="Linked\x00 Data"), headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<form id="event-form"')
    assert by_id(html, "event-title")["value"] == "Linked Data" and error_of(html, "event-title") == CLEANED
    assert count(Event) == 1


# --- registering, and the needs after ---------------------------------------------------------------

@pytest.fixture
def member_and_event(session):
    create_event(slug="needs", capacity=3)
    member = create_user()
    session.commit()
    return member


def test_register_under_htmx_with_a_nul_in_the_needs_comes_back_in_the_panel(signed_in_client, session,
                                                                              member_and_event):
    client = signed_in_client(member_and_event)
    needs = "Step-free access\x00 please,\r\na ramp"
    response = post(client, "/events/needs/register", {"accessibility_needs": needs, "show_name": "1"}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="registration-panel"' in html
    assert by_id(html, "accessibility_needs").string.replace("\r\n", "\n") == "Step-free access please,\na ramp"
    assert error_of(html, "accessibility_needs") == CLEANED
    assert count(Registration) == 0
    again = post(client, "/events/needs/register", {"accessibility_needs": "Step-free access please, a ramp"},
                 headers=HTMX)
    assert again.status_code == 200 and "<html" not in again.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalars(select(Registration.accessibility_needs)).one() == "Step-free access please, a ramp"


def test_register_without_javascript_with_a_nul_in_the_needs_comes_back_on_the_page(signed_in_client, session,
                                                                                     member_and_event):
    client = signed_in_client(member_and_event)
    response = post(client, "/events/needs/register", {"accessibility_needs": "Captions\x7f, please"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and '<h1 id="error-title">' not in html
    assert by_id(html, "accessibility_needs").string == "Captions, please"
    assert error_of(html, "accessibility_needs") == CLEANED
    assert count(Registration) == 0


@pytest.mark.parametrize("back", ["event", "my-events"])
@pytest.mark.parametrize("htmx", [False, True], ids=["no js", "htmx"])
def test_changing_the_needs_with_a_nul_comes_back_and_keeps_the_old_ones(signed_in_client, session,
                                                                         member_and_event, back, htmx):
    event_id = db.session.scalar(select(Event.id).where(Event.slug == "needs"))
    registration = registrations.register(session, event_id, member=member_and_event, accessibility_needs="Ramp",
                                          now=utcnow()).registration
    session.commit()
    client = signed_in_client(member_and_event)
    response = post(client, f"/registrations/{registration.id}/needs",
                    {"accessibility_needs": "Ramp\x00 and captions", "back": back}, headers=HTMX if htmx else {})
    html = response.get_data(as_text=True)
    assert response.status_code == (200 if htmx else 422)
    assert "Ramp and captions" in html and CLEANED in text(parse(html))
    db.session.expire_all()
    assert db.session.get(Registration, registration.id).accessibility_needs == "Ramp"


# --- a talk slot ------------------------------------------------------------------------------------

def test_claiming_a_slot_with_a_nul_in_the_title_comes_back_with_the_cleaned_title(signed_in_client, session):
    group = create_group(slug="chat")
    starts = utcnow() + timedelta(days=5)
    event = create_event(group, slug="chat-dec", starts_at=starts, ends_at=starts + timedelta(hours=1))
    organizer = organizer_of(group)
    ada = create_user()
    registrations.register(session, event.id, member=ada, now=utcnow())
    session.commit()
    offered = post(signed_in_client(organizer), "/events/chat-dec/slots/offer",
                   {"label": "15-minute\x00 talk", "minutes": "15", "how_many": "2"})
    assert offered.status_code == 422 and by_id(offered.get_data(as_text=True), "offer-label")["value"] == \
        "15-minute talk"
    assert CLEANED in text(by_id(offered.get_data(as_text=True), "offer-label-field")) and count(SlotOffer) == 0
    post(signed_in_client(organizer), "/events/chat-dec/slots/offer",
         {"label": "15-minute talk", "minutes": "15", "how_many": "2"})
    client = signed_in_client(ada)
    offer_id = db.session.scalar(select(SlotOffer.id))
    response = post(client, "/events/chat-dec/slots/claim", {"offer_id": offer_id, "title": "Zines\x00 now",
                                                             "abstract": "Why zines."}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert by_id(html, "slot-title")["value"] == "Zines now" and error_of(html, "slot-title") == CLEANED
    assert "Why zines." in html and count(SlotClaim) == 0


# --- what is still refused ------------------------------------------------------------------------

def test_a_nul_in_a_field_name_is_still_refused_with_the_typed_text_to_copy(signed_in_client, session,
                                                                           member_and_event):
    client = signed_in_client(member_and_event)
    response = post(client, "/events/needs/register", {"accessibility_needs": "Step-free access please, a long note",
                                                       "odd\x00name": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and '<h1 id="error-title">' in html and "(a NUL byte)" in html
    assert "Step-free access please, a long note" in html  # shown for copying, as before
    assert count(Registration) == 0 and count(User) == 1
