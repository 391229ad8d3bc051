"""A member's registration journey over HTTP: registering while signed out (needs and name kept
with the sign-in request, on the server), changing needs afterwards, cancelling that asks first
and says what happened, and the event's "before you register" note."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_for
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.outbox import mails
from webapp.accounts.models import SignInRequest, User
from webapp.db import utcnow
from webapp.registrations import services
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.tokens import manage_token

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
HTMX = {"HX-Request": "true"}
NEEDS = "Live captions, please; I use a screen reader <b>too</b>."


def register_by_mail(client, slug, htmx=True, **form):
    data = {"csrf_token": csrf_token_for(client), "accessibility_needs": NEEDS, "email": "ada@example.org",
            "display_name": "Ada Lovelace", **form}
    return client.post(f"/events/{slug}/register", data=data, headers=HTMX if htmx else {})


def sign_in_link(session) -> str:
    body = mails(session, kind="sign_in")[-1].body_text
    return re.search(r"http://meetups\.test(/sign-in/\S+)", body).group(1)


def open_link_in_another_browser(app, session):
    """The mailed link, opened where none of the first browser's cookies are (a phone's mail app)."""
    other = app.test_client()
    link = sign_in_link(session)
    assert other.get(link).status_code == 200
    return other, other.post(link, data={"csrf_token": csrf_token_for(other), "remember": "y"})


def registration_of(session, email, event) -> Registration | None:
    session.expire_all()
    return session.scalar(select(Registration).join(User, User.id == Registration.user_id)
                          .where(User.email == email, Registration.event_id == event.id))


def text(response) -> str:
    return response.get_data(as_text=True)


# --- Registering while signed out ----------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no js"])
def test_signed_out_register_mails_the_link_and_answers_check_your_inbox(client, session, htmx):
    create_event(slug="book-club", title="PLSN Book Club", capacity=5)
    session.commit()
    answer = register_by_mail(client, "book-club", htmx=htmx)
    assert answer.status_code == 200
    page = text(answer)
    assert "Check your inbox" in page
    assert ("We sent a link to <strong>ada@example.org</strong>; open it to finish registering for "
            "PLSN Book Club.") in page
    assert ("<html" in page) is not htmx  # a fragment in place, or the whole page without JavaScript
    assert answer.headers["Cache-Control"] == "no-store"
    mail = mails(session, kind="sign_in")[-1]
    assert "Open this link to finish registering for PLSN Book Club" in mail.body_text
    assert "Finish registering for PLSN Book Club</a>" in mail.body_html
    # The needs are health information: kept on the server, never in the mail or a link.
    assert "captions" not in mail.body_text and "captions" not in mail.body_html
    request = session.scalars(select(SignInRequest)).one()
    assert request.intent_note == NEEDS and request.display_name == "Ada Lovelace"
    assert "captions" not in (request.next_url or "")


def test_the_link_opened_in_another_browser_registers_with_the_needs_and_the_name(app, client, session):
    event = create_event(slug="book-club", title="PLSN Book Club", capacity=5)
    session.commit()
    register_by_mail(client, "book-club")
    other, signed_in = open_link_in_another_browser(app, session)
    assert signed_in.status_code == 303
    registration = registration_of(session, "ada@example.org", event)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.accessibility_needs == NEEDS
    assert registration.user.display_name == "Ada Lovelace"
    confirmation = mails(session, kind="registration_confirmed")[-1]
    assert confirmation.body_text.startswith("Hello Ada Lovelace,")
    # Kept no longer than needed: the request row forgets the needs once they are handed over.
    assert session.scalars(select(SignInRequest)).one().intent_note is None
    # The name was asked already: the welcome page is still offered, with it filled in.
    assert "/events/book-club" in signed_in.headers["Location"]


def test_without_a_name_the_first_mail_says_hello_and_no_more(app, client, session):
    event = create_event(slug="talk", capacity=5)
    session.commit()
    register_by_mail(client, "talk", display_name="", accessibility_needs="")
    open_link_in_another_browser(app, session)
    assert registration_of(session, "ada@example.org", event).accessibility_needs == ""
    confirmation = mails(session, kind="registration_confirmed")[-1]
    assert confirmation.body_text.startswith("Hello,\n")
    assert "Hello there" not in confirmation.body_text and "Hello there" not in confirmation.body_html
    assert "<p>Hello,</p>" in confirmation.body_html


def test_the_name_on_the_form_never_renames_a_member(app, client, session):
    event = create_event(slug="talk", capacity=5)
    create_user(email="ada@example.org", display_name="Ada")
    session.commit()
    register_by_mail(client, "talk", display_name="Someone Else")
    open_link_in_another_browser(app, session)
    registration = registration_of(session, "ada@example.org", event)
    assert registration.user.display_name == "Ada"
    assert mails(session, kind="registration_confirmed")[-1].body_text.startswith("Hello Ada,")


@pytest.mark.parametrize("field, value, message", [
    ("email", "ada@", "Enter an email address like name@example.org."),
    ("email", "", "Enter your email address."),
    ("accessibility_needs", "x" * 1001, "Accessibility needs can be at most 1,000 characters (this has 1,001)."),
    ("display_name", "n" * 101, "Your name can be at most 100 characters (this has 101)."),
    ("display_name", "Ada\u202eevil", "Please remove line breaks and other special control characters."),
])
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no js"])
def test_a_refused_register_form_keeps_what_was_typed_and_says_what_to_fix(client, session, field, value,
                                                                             message, htmx):
    create_event(slug="talk", capacity=5)
    session.commit()
    answer = register_by_mail(client, "talk", htmx=htmx, **{field: value})
    assert answer.status_code == (200 if htmx else 422)
    page = text(answer)
    assert message in page and 'aria-invalid="true"' in page
    if field != "accessibility_needs":
        # Escaped, and kept for the next try.
        assert "Live captions, please; I use a screen reader &lt;b&gt;too&lt;/b&gt;." in page
    assert mails(session, kind="sign_in") == []


def test_a_nul_byte_or_non_ascii_never_ends_in_a_500(client, session):
    create_event(slug="talk", capacity=5)
    session.commit()
    # A NUL byte comes out on the way in; the form comes back with what is left to check (tests/input).
    for field, value in (("accessibility_needs", "ramp\x00"), ("email", "ada\x00@example.org")):
        answer = register_by_mail(client, "talk", htmx=False, **{field: value})
        assert answer.status_code == 422 and "an invisible character" in text(answer)
        assert value.replace("\x00", "") in text(answer)
    assert mails(session, kind="sign_in") == []
    typed = dict(display_name="José Ñúñez", accessibility_needs="手话翻译")
    assert register_by_mail(client, "talk", **typed).status_code == 200
    assert session.scalars(select(SignInRequest)).one().intent_note == "手话翻译"


def test_the_sign_in_page_with_an_intent_still_works_and_asks_for_the_name(client, session):
    event = create_event(slug="talk", title="The Talk", capacity=5)
    session.commit()
    page = text(client.get(f"/sign-in?next=/events/talk&intent=register:{event.id}"))
    assert "Your name" in page and "Sign in to finish registering for The Talk." in page
    sent = client.post("/sign-in", data={"csrf_token": csrf_token_for(client), "email": "bo@example.org",
                                         "display_name": "Bo", "next": "/events/talk",
                                         "intent": f"register:{event.id}"})
    assert ("We sent a link to <strong>bo@example.org</strong>; open it to finish registering for The Talk."
            in text(sent))
    link = sign_in_link(session)
    client.post(link, data={"csrf_token": csrf_token_for(client)})
    assert registration_of(session, "bo@example.org", event).user.display_name == "Bo"


def test_an_expired_link_asks_again_with_the_needs_kept(app, client, session):
    event = create_event(slug="talk", capacity=5)
    session.commit()
    register_by_mail(client, "talk")
    request = session.scalars(select(SignInRequest)).one()
    request.expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    other = app.test_client()
    page = text(other.get(sign_in_link(session)))
    assert 'name="intent_note"' in page and "captions" in page  # in the form's body, not its address
    form = dict(re.findall(r'name="(next|intent|intent_note|display_name)" value="([^"]*)"', page))
    form = {k: html.unescape(v) for k, v in form.items()}
    other.post("/sign-in", data={"csrf_token": csrf_token_for(other), "email": "ada@example.org", **form})
    other.post(sign_in_link(session), data={"csrf_token": csrf_token_for(other)})
    registration = registration_of(session, "ada@example.org", event)
    assert registration.accessibility_needs == NEEDS and registration.user.display_name == "Ada Lovelace"


def forget_unused_sign_in_notes(session) -> int:
    """What the hourly retention sweep (tasks.privacy) does for this row, on the test's session."""
    from webapp.accounts.services import forget_unused_intent_notes

    erased = forget_unused_intent_notes(session, now=utcnow())
    session.commit()
    return erased


def test_needs_of_a_link_never_used_are_erased_a_day_after_it_expired(app, client, session):
    create_event(slug="talk", capacity=5)
    session.commit()
    register_by_mail(client, "talk")
    request = session.scalars(select(SignInRequest)).one()
    request.expires_at = utcnow() - timedelta(hours=23)  # SIGN_IN_NOTE_HOURS is 24
    session.commit()
    assert forget_unused_sign_in_notes(session) == 0
    session.expire_all()
    assert request.intent_note == NEEDS and request.display_name == "Ada Lovelace"
    request.expires_at = utcnow() - timedelta(hours=25)
    session.commit()
    assert forget_unused_sign_in_notes(session) == 1
    session.expire_all()
    assert request.intent_note is None and request.display_name is None
    assert request.intent == f"register:{request.intent.partition(':')[2]}"  # the intent itself stays
    assert forget_unused_sign_in_notes(session) == 0  # once
    page = text(app.test_client().get(sign_in_link(session)))
    assert "captions" not in page and "Ada Lovelace" not in page


# --- Changing the needs after registering ---------------------------------------------------------


@pytest.fixture
def registered(signed_in_client, session):
    group = create_group(name="Zines")
    event = create_event(group, slug="zine-fair", title="Zine Fair", capacity=1)
    member = create_user(email="ada@example.org", display_name="Ada")
    waiting = create_user(email="ben@example.org", display_name="Ben")
    organizer = organizer_of(group, email="org@example.org", display_name="Olu")
    registration = services.register(session, event.id, member=member, now=utcnow()).registration
    services.register(session, event.id, member=waiting, now=utcnow())
    session.commit()
    client = signed_in_client(member)
    return dict(client=client, event=event, member=member, registration=registration, organizer=organizer)


@pytest.mark.parametrize("back", ["event", "my-events"])
def test_a_member_changes_their_needs_in_place_and_organizers_see_when(registered, session, back,
                                                                        signed_in_client):
    client, registration = registered["client"], registered["registration"]
    answer = client.post(f"/registrations/{registration.id}/needs", headers=HTMX, data={
        "csrf_token": csrf_token_for(client), "back": back, "accessibility_needs": "  A ramp, please  "})
    assert answer.status_code == 200
    page = text(answer)
    assert "Saved. The organizers see your updated needs." in page and "<html" not in page
    assert ('id="registration-panel"' in page) is (back == "event")
    session.expire_all()
    saved = session.get(Registration, registration.id)
    assert saved.accessibility_needs == "A ramp, please" and saved.accessibility_needs_updated_at is not None
    organizer = signed_in_client(registered["organizer"])
    attendees = text(organizer.get("/events/zine-fair/attendees"))
    assert "A ramp, please" in attendees and "(updated " in attendees


def test_without_javascript_saving_the_needs_goes_back_to_the_page(registered, session):
    client, registration = registered["client"], registered["registration"]
    answer = client.post(f"/registrations/{registration.id}/needs", data={
        "csrf_token": csrf_token_for(client), "back": "my-events", "accessibility_needs": "Captions"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/my/events#registration-{registration.id}")
    assert "Captions" in text(client.get("/my/events"))


@pytest.mark.parametrize("back", ["event", "my-events"])
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no js"])
def test_needs_too_long_are_refused_next_to_the_field_and_kept(registered, session, back, htmx):
    client, registration = registered["client"], registered["registration"]
    answer = client.post(f"/registrations/{registration.id}/needs", headers=HTMX if htmx else {}, data={
        "csrf_token": csrf_token_for(client), "back": back, "accessibility_needs": "é<" * 600})
    assert answer.status_code == (200 if htmx else 422)
    assert "Accessibility needs can be at most 1,000 characters (this has 1,200)." in text(answer)
    assert "é&lt;é&lt;" in text(answer)
    session.expire_all()
    assert session.get(Registration, registration.id).accessibility_needs_updated_at is None


def test_nobody_changes_someone_elses_needs_or_a_cancelled_registrations(registered, session, signed_in_client):
    registration = registered["registration"]
    intruder = signed_in_client(create_user(email="eve@example.org"))
    session.commit()
    assert intruder.post(f"/registrations/{registration.id}/needs", data={
        "csrf_token": csrf_token_for(intruder), "accessibility_needs": "x"}).status_code == 404
    client = signed_in_client(registered["member"])
    services.cancel(session, session.get(Registration, registration.id), now=utcnow())
    session.commit()
    answer = client.post(f"/registrations/{registration.id}/needs", headers=HTMX, data={
        "csrf_token": csrf_token_for(client), "accessibility_needs": "x"})
    assert "This registration is cancelled, so there are no needs to change." in text(answer)


# --- Cancel asks first, says what happened, and can be undone ---------------------------------------


@pytest.mark.parametrize("back, target", [("event", 'id="registration-panel"'), ("my-events", 'id="registration-')])
def test_cancel_asks_first_in_place_and_keep_my_seat_puts_it_back(registered, session, back, target):
    client, registration = registered["client"], registered["registration"]
    question = client.get(f"/registrations/{registration.id}/cancel?back={back}", headers=HTMX)
    page = text(question)
    assert "Cancel your registration for Zine Fair?</strong> Your seat goes to the next person in line." in page
    assert "Yes, cancel" in page and "Keep my seat" in page and target in page and "<html" not in page
    assert registration_of(session, "ada@example.org", registered["event"]).status == RegistrationStatus.CONFIRMED
    kept = text(client.get(f"/registrations/{registration.id}?back={back}", headers=HTMX))
    assert "Yes, cancel" not in kept and "autofocus" in kept and "Cancel" in kept


def test_without_javascript_the_question_is_a_page_and_its_post_cancels(registered, session):
    client, registration = registered["client"], registered["registration"]
    page = client.get(f"/registrations/{registration.id}/cancel?back=my-events")
    assert page.status_code == 200 and "<h1" in text(page) and "Yes, cancel" in text(page)
    assert 'href="/my/events"' in text(page)  # Keep my seat
    done = client.post(f"/registrations/{registration.id}/cancel",
                       data={"csrf_token": csrf_token_for(client), "back": "my-events"})
    assert done.status_code == 200
    assert ("You cancelled your registration for <strong>Zine Fair</strong>.\n  "
            "Your seat went to the next person in line.") in text(done)
    # Ben took the seat, so registering again is honest about the line.
    assert "The event is full now: registering again puts you at the end of the waitlist." in text(done)
    assert registration_of(session, "ben@example.org", registered["event"]).status == RegistrationStatus.CONFIRMED


@pytest.mark.parametrize("back", ["event", "my-events"])
def test_a_replayed_cancel_answers_already_cancelled_and_promotes_once(registered, session, back):
    client, registration = registered["client"], registered["registration"]
    data = {"csrf_token": csrf_token_for(client), "back": back}
    first = client.post(f"/registrations/{registration.id}/cancel", data=data, headers=HTMX)
    assert "Your seat went to the next person in line." in text(first)
    assert "Register again" in text(first) or "Join the waitlist" in text(first)
    again = client.post(f"/registrations/{registration.id}/cancel", data=data, headers=HTMX)
    assert again.status_code == 200
    assert "was already cancelled, so nothing changed." in text(again)
    plain = client.post(f"/registrations/{registration.id}/cancel", data=data)
    assert plain.status_code == 200 and "was already cancelled" in text(plain)
    assert len(mails(session, kind="registration_promoted")) == 1
    assert len(mails(session, kind="registration_cancelled")) == 1


def test_leaving_the_waitlist_says_so(signed_in_client, session):
    event = create_event(slug="full", title="Full Talk", capacity=1)
    services.register(session, event.id, member=create_user(), now=utcnow())
    member = create_user(email="wait@example.org")
    registration = services.register(session, event.id, member=member, now=utcnow()).registration
    session.commit()
    client = signed_in_client(member)
    question = text(client.get(f"/registrations/{registration.id}/cancel", headers=HTMX))
    assert "Leave the waitlist for Full Talk?" in question and "Keep my place" in question
    done = text(client.post(f"/registrations/{registration.id}/cancel",
                            data={"csrf_token": csrf_token_for(client)}, headers=HTMX))
    assert "You cancelled your registration for <strong>Full Talk</strong>.\n  You left the waitlist." in done


def test_the_mailed_cancel_link_asks_and_answers_the_same(client, session):
    event = create_event(slug="talk", title="The Talk", capacity=5)
    registration = services.register(session, event.id, member=create_user(), now=utcnow()).registration
    session.commit()
    path = f"/r/{manage_token(registration)}"
    asked = text(client.get(path))
    assert "Cancel your registration for The Talk?</strong> Your seat goes to the next person in line." in asked
    assert "Keep my seat" in asked
    done = client.post(path, data={"csrf_token": csrf_token_for(client)})
    assert done.status_code == 200
    assert ("You cancelled your registration for <strong>The Talk</strong>.\n  Your seat is free for someone else."
            in text(done))
    assert "A seat is free now: registering again gives it to you." in text(done)
    again = client.post(path, data={"csrf_token": csrf_token_for(client)})
    assert again.status_code == 200 and "was already cancelled, so nothing changed." in text(again)


# --- Before you register ---------------------------------------------------------------------------


def test_the_please_read_note_comes_before_the_register_button(client, session):
    create_event(slug="club", capacity=5, description=(
        "Welcome to the club.\n\nPlease read before you register: this is a **capped** event.\n\nMore."))
    create_event(slug="plain", capacity=5, description="Nothing to read first.")
    session.commit()
    page = text(client.get("/events/club"))
    panel = page[page.index('id="registration-panel"'):page.index("</section>", page.index('id="registration-panel"'))]
    assert "Please read before you register: this is a <strong>capped</strong> event." in panel
    assert panel.index("before you register") < panel.index('type="submit"')
    assert "before-you-register" not in text(client.get("/events/plain"))


def test_a_closed_event_or_too_many_links_send_nothing_and_say_why(app, client, session):
    create_event(slug="gone", capacity=5, status="cancelled")
    create_event(slug="talk", capacity=5)
    session.commit()
    closed = register_by_mail(client, "gone", htmx=False)
    assert closed.status_code == 409 and mails(session, kind="sign_in") == []
    assert "This event was cancelled, so registration is closed." in text(closed)
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "1 per 15 minutes"
    assert "Check your inbox" in text(register_by_mail(client, "talk"))
    refused = register_by_mail(client, "talk", htmx=False)
    assert refused.status_code == 429
    assert "We’ve just sent a few links to this address." in text(refused)
    assert "Live captions" in text(refused)  # kept to try again
    assert len(mails(session, kind="sign_in")) == 1


def test_an_intent_for_no_event_is_harmless(client, session):
    for intent in ("register:99999999999999", "register:abc", "register:٣"):
        assert client.get(f"/sign-in?intent={intent}").status_code == 200
