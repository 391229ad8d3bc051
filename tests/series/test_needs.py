"""Accessibility needs on Register for all: the event page's box, check and limit, kept on every
session's registration; a signed-out visitor's needs wait with the sign-in request like the event page's."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_for
from tests.factories import create_cast, create_group
from tests.series.helpers import series_fields
from tests.support.html import by_id, parse, text
from tests.support.outbox import mails
from webapp.accounts.models import SignInRequest, User
from webapp.db import utcnow
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.series import services
from webapp.series.models import SeriesRegistration

pytestmark = pytest.mark.usefixtures("fresh_request_globals")
HTMX = {"HX-Request": "true"}
NEEDS = "Live captions, please; I use a screen reader <b>too</b>."


@pytest.fixture
def series(session):
    group = create_group(slug="metro-chat", name="METRO Community Chat")
    people = create_cast(group, create_group(slug="archives"))
    now = utcnow()
    made = services.create_series(session, group, series_fields(now), actor=None, now=now)
    session.commit()
    return dict(series=made, **people)


def register_all(client, slug, htmx=True, **form):
    data = {"csrf_token": csrf_token_for(client), "accessibility_needs": NEEDS, **form}
    return client.post(f"/series/{slug}/register", data=data, headers=HTMX if htmx else {})


def needs_of(session, email) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(Registration.accessibility_needs).join(User, User.id == Registration.user_id)
                                .where(User.email == email, Registration.status != RegistrationStatus.CANCELLED)))


def count_rows(session) -> tuple[int, int]:
    session.expire_all()
    return (session.scalar(select(func.count(Registration.id))),
            session.scalar(select(func.count(SeriesRegistration.id))))


def test_the_series_page_asks_for_needs_with_the_event_pages_label_and_hint(client, series):
    page = parse(client.get(f"/series/{series['series'].slug}").get_data(as_text=True))
    box = page.select_one("form.series-register textarea[name=accessibility_needs]")
    label = page.select_one(f"label[for={box['id']}]")
    assert "Accessibility needs or accommodations" in label.get_text()
    assert "Seen only by the organizers" in page.select_one("form.series-register").get_text()


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no js"])
def test_register_for_all_keeps_the_needs_on_every_sessions_registration(signed_in_client, series, session, htmx):
    client = signed_in_client(series["member"])
    answer = register_all(client, series["series"].slug, htmx=htmx)
    assert answer.status_code == 200 and "Registered for" in answer.get_data(as_text=True)
    kept = needs_of(session, series["member"].email)
    assert len(kept) == len(services.sessions_of(session, series["series"].id)) > 1
    assert set(kept) == {NEEDS}


@pytest.mark.parametrize("needs, message", [
    ("x" * 1001, "Accessibility needs can be at most 1,000 characters (this has 1,001)."),
    ("x" * 200_000, "Accessibility needs can be at most 1,000 characters"),
])
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no js"])
def test_needs_too_long_are_refused_next_to_the_box_kept_and_nothing_written(signed_in_client, series, session,
                                                                             needs, message, htmx):
    client = signed_in_client(series["member"])
    answer = register_all(client, series["series"].slug, htmx=htmx, accessibility_needs=needs)
    assert answer.status_code == (200 if htmx else 422)
    page = answer.get_data(as_text=True)
    assert message in page
    box = parse(page).select_one("textarea[name=accessibility_needs]")
    assert box["aria-invalid"] == "true" and box.get_text().strip().startswith("xxxx")
    assert count_rows(session) == (0, 0) and mails(session) == []


def test_markup_and_non_ascii_are_kept_as_typed_and_shown_escaped(signed_in_client, series, session):
    client = signed_in_client(series["member"])
    too_long = "<script>alert(1)</script>手话" + "x" * 1000
    page = register_all(client, series["series"].slug, accessibility_needs=too_long).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;手话" in page and "<script>alert(1)" not in page
    assert register_all(client, series["series"].slug, accessibility_needs="手话翻译 <i>ramp</i>").status_code == 200
    assert set(needs_of(session, series["member"].email)) == {"手话翻译 <i>ramp</i>"}


def test_a_nul_byte_comes_out_and_the_needs_come_back_to_check_with_nothing_written(
        signed_in_client, series, session):
    client = signed_in_client(series["member"])
    answer = register_all(client, series["series"].slug, htmx=False, accessibility_needs="A ramp\x00, please")
    assert answer.status_code == 422
    box = by_id(answer.get_data(as_text=True), "series-accessibility-needs-field")
    assert box.textarea.string == "A ramp, please" and "an invisible character" in text(box)
    assert count_rows(session) == (0, 0)
    # Sent again as it came back: registered, with the needs as they now read.
    assert register_all(client, series["series"].slug, accessibility_needs="A ramp, please").status_code == 200
    assert set(needs_of(session, series["member"].email)) == {"A ramp, please"}


def sign_in_link(session) -> str:
    body = mails(session, kind="sign_in")[-1].body_text
    return re.search(r"http://meetups\.test(/sign-in/\S+)", body).group(1)


def test_signed_out_the_needs_wait_with_the_sign_in_request_and_register_every_session(app, client, series,
                                                                                     session):
    slug = series["series"].slug
    answer = register_all(client, slug, email="ada@example.org", display_name="Ada Lovelace")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Check your inbox" in page and "keeps the needs you told us" in page
    assert answer.headers["Cache-Control"] == "no-store"
    request = session.scalars(select(SignInRequest)).one()
    assert request.intent == f"series:{series['series'].id}" and request.intent_note == NEEDS
    mail = mails(session, kind="sign_in")[-1]
    assert "every session of Community Chat" in mail.body_text
    assert "captions" not in mail.body_text and "captions" not in mail.body_html  # never in a mail or a link
    assert count_rows(session) == (0, 0)

    other = app.test_client()  # the link opened in another browser
    link = sign_in_link(session)
    assert other.get(link).status_code == 200
    assert other.post(link, data={"csrf_token": csrf_token_for(other)}).status_code == 303
    kept = needs_of(session, "ada@example.org")
    assert len(kept) == len(services.sessions_of(session, series["series"].id)) and set(kept) == {NEEDS}
    assert session.scalars(select(SignInRequest)).one().intent_note is None


@pytest.mark.parametrize("field, value, message", [
    ("email", "", "Enter your email address."),
    ("accessibility_needs", "x" * 1001, "Accessibility needs can be at most 1,000 characters (this has 1,001)."),
])
def test_signed_out_a_refused_form_keeps_what_was_typed_and_sends_nothing(client, series, session, field, value,
                                                                          message):
    answer = register_all(client, series["series"].slug, htmx=False,
                          **{"email": "ada@example.org", "display_name": "Ada", field: value})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert message in page and 'aria-invalid="true"' in page
    if field != "accessibility_needs":
        assert "Live captions, please; I use a screen reader &lt;b&gt;too&lt;/b&gt;." in page
    assert mails(session, kind="sign_in") == [] and session.scalars(select(SignInRequest)).all() == []


def test_signed_out_without_the_address_the_sign_in_page_keeps_the_intent(client, series):
    answer = client.post(f"/series/{series['series'].slug}/register", data={"csrf_token": csrf_token_for(client)})
    assert answer.status_code in (302, 303)
    assert "/sign-in" in answer.location and f"intent=series:{series['series'].id}" in answer.location
    page = client.get(answer.location).get_data(as_text=True)
    assert "every session of Community Chat" in page
