"""A NUL byte (or another control character) anywhere in a request: never a 500 (PostgreSQL refuses
NUL in text). In the path, the query, a form field's name or an htmx header: a 400 on the site's
error page, and nothing written. In a form value: it comes out on the way in, and what a person
typed comes back with an error next to it (tests/input/test_cleaned_form_values.py has the forms)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import String, func, select

from tests.conftest import csrf_token_for
from tests.factories import create_event, create_group, create_proposal, create_user, organizer_of
from webapp.accounts.models import Role
from webapp.db import db
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.requests import CONTROL_CHARACTERS

pytestmark = pytest.mark.usefixtures("fresh_request_globals")

NUL_MESSAGE = "The address or form contained a character we can’t accept (a NUL byte)."
CLEANED = "This contained an invisible character we can’t keep"

# Every query argument each GET route reads (a new route must be added here: see the test below).
GET_ARGS = {
    "/": [], "/about": [], "/privacy": [], "/account/data": [], "/account/data.json": [], "/account/delete": [],
    "/account/delete/<token>": [],
    "/account": ["welcome", "next", "calendar"], "/dev/mail": [], "/dev/mail/<name>": [],
    "/events": ["q", "group", "format", "when", "start", "end", "page"],
    "/events/<slug>": ["done"],
    "/events/<slug>/attendees": ["done", "who", "seated", "raised", "q"],
    "/events/<slug>/attendees.csv": ["q"],
    "/events/<slug>/slots": ["done"],
    "/events/<slug>/slots/withdraw": [], "/events/<slug>/slots/section": [],
    "/events/<slug>/attendees/<int:registration_id>/remove": ["q"],
    "/events/<slug>/calendar.ics": [], "/events/<slug>/cancel-event": [], "/events/<slug>/duplicate": [],
    "/events/<slug>/edit": ["done"], "/events/<slug>/messages": ["sent"],
    "/groups": [], "/groups/<slug>": ["done"], "/groups/<slug>/drafts": [], "/groups/<slug>/edit": [],
    "/groups/<slug>/events/new": [], "/groups/<slug>/organizers": ["done"],
    "/groups/<slug>/organizers/<int:organizer_id>/remove": [],
    "/guidelines": [], "/healthz": [], "/hello": [], "/invitations/<token>": [], "/join/<token>": [],
    "/my/events": [], "/my/groups": [], "/outbox": [], "/proposals": [], "/proposals/<int:proposal_id>": ["done"],
    "/proposals/<int:proposal_id>/edit": [], "/proposals/new": [], "/r/<token>": [], "/review": ["state"],
    "/registrations/<int:registration_id>": ["back"], "/registrations/<int:registration_id>/cancel": ["back"],
    "/sign-in": ["next", "intent"], "/sign-in/<token>": [], "/static/<path:filename>": [],
    "/unsubscribe/<token>": [], "/groups/<slug>/followers/message": ["sent"],
    "/staff/groups": ["q", "show", "sort", "order"], "/staff/groups.csv": ["q", "show", "sort", "order"],
    "/calendar.ics": [], "/groups/<slug>/calendar.ics": [], "/events.atom": [], "/groups/<slug>/events.atom": [],
    "/my/calendar/<secret>.ics": [], "/still-coming/<token>/<answer>": [],
    "/series/<slug>": [], "/series/<slug>/calendar.ics": [], "/groups/<slug>/series/new": [],
    "/series/<slug>/manage": [], "/series/<slug>/schedule": [],
    "/outbox/zoom": [],
}

# The fields each POST route's form sends (one gets the NUL in turn).
POST_FIELDS = {
    "/account": ["display_name", "institution", "pronouns"],
    "/account/sign-out-everywhere": ["x"],
    "/account/delete": ["x"], "/account/delete/<token>": ["x"],
    "/registrations/<int:registration_id>/show-name": ["show_name", "back"],
    "/account/calendar/reset": ["x"],
    "/dev/mail/clear": ["x"],
    "/events/<slug>/attendees/<int:registration_id>/check-in": ["checked_in", "q"],
    "/events/<slug>/attendees/<int:registration_id>/promote": ["capacity", "q"],
    "/events/<slug>/attendees/<int:registration_id>/remove": ["q"],
    "/events/<slug>/cancel-event": ["x"],
    "/events/<slug>/duplicate": ["title", "description"],
    "/events/<slug>/edit": ["title", "description", "venue_name", "venue_accessibility", "meeting_url",
                            "capacity", "starts_at"],
    "/events/<slug>/messages": ["subject", "body", "audience", "client_key"],
    "/events/<slug>/publish": ["x"],
    "/events/<slug>/slots/claim": ["offer_id", "title", "abstract"],
    "/events/<slug>/slots/offer": ["label", "minutes", "how_many"],
    "/events/<slug>/slots/<int:claim_id>/approve": ["x"],
    "/events/<slug>/slots/<int:claim_id>/release": ["x"],
    "/events/<slug>/slots/<int:claim_id>/move": ["direction"],
    "/events/<slug>/slots/<int:claim_id>/withdraw": ["generation"],
    "/events/<slug>/register": ["accessibility_needs", "email", "display_name"],
    "/groups/<slug>/edit": ["description", "external_url"],
    "/groups/<slug>/events/new": ["title", "description", "meeting_source"],
    "/groups/<slug>/invitations/<int:invitation_id>/withdraw": ["x"],
    "/groups/<slug>/organizers": ["name", "email"],
    "/groups/<slug>/organizers/<int:organizer_id>/remove": ["x"],
    "/invitations/<token>": ["x"],
    "/outbox/<int:mail_id>/retry": ["x"],
    "/proposals/<int:proposal_id>/act": ["message", "action", "expected_state"],
    "/proposals/<int:proposal_id>/edit": ["name", "topic", "description", "coorganizers-0-name"],
    "/proposals/new": ["name", "topic", "description", "need", "cadence", "coorganizers-0-email"],
    "/proposals/similar": ["name", "topic"],
    "/proposals/validate": ["name"],
    "/r/<token>": ["x"],
    "/registrations/<int:registration_id>/cancel": ["back"],
    "/registrations/<int:registration_id>/needs": ["accessibility_needs", "back"],
    "/sign-in": ["email", "next", "intent", "display_name", "intent_note"],
    "/sign-in/<token>": ["remember"],
    "/sign-out": ["x"],
    "/groups/<slug>/follow": ["next"],
    "/groups/<slug>/unfollow": ["next"],
    "/account/follow-mail": ["follow_mail"],
    "/unsubscribe/<token>": ["List-Unsubscribe"],
    "/groups/<slug>/followers/message": ["subject", "body", "client_key"],
    "/still-coming/<token>/<answer>": ["x"],
    "/registrations/<int:registration_id>/still-coming": ["back"],
    "/groups/<slug>/series/new": ["title", "description", "custom_rule", "first_on", "start_time", "end_on",
                                  "meeting_source"],
    "/series/<slug>/register": ["x"],
    "/series/<slug>/cancel": ["x"],
    "/series/<slug>/schedule": ["recurrence", "custom_rule", "first_on", "end_count", "end_on", "version", "step"],
    "/series/<slug>/slots": ["label", "minutes", "how_many"],
    "/series/<slug>/slots/<offer_id>": ["label", "minutes", "how_many"],
    "/series/<slug>/slots/<offer_id>/remove": ["x"],
    "/outbox/zoom/<int:intent_id>/retry": ["x"],
    "/zoom/webhook": ["x"],
}
# Values a form needs to get as far as its fields (a message's key, an action); every other one is "fine".
GOOD_VALUES = {"client_key": "a" * 32, "audience": "confirmed"}
# The fields above a person types into whose form comes back with the cleaned text and the error
# (with the others "fine"). Every other value is cleaned without a word: hidden fields and choices,
# which a person never types, and forms that stop before their fields (a draft's actions, no series).
TYPED = {
    "/account": ["display_name", "institution", "pronouns"],
    "/events/<slug>/duplicate": ["title", "description"],
    "/events/<slug>/edit": ["title", "description", "venue_name", "venue_accessibility", "meeting_url",
                            "capacity", "starts_at"],
    "/events/<slug>/messages": ["subject", "body"],
    "/events/<slug>/slots/offer": ["label", "minutes", "how_many"],
    "/events/<slug>/register": ["accessibility_needs"],
    "/groups/<slug>/edit": ["description", "external_url"],
    "/groups/<slug>/events/new": ["title", "description"],
    "/groups/<slug>/organizers": ["name", "email"],
    "/proposals/<int:proposal_id>/edit": ["name", "topic", "description", "coorganizers-0-name"],
    "/proposals/new": ["name", "topic", "description", "need", "cadence", "coorganizers-0-email"],
    "/proposals/validate": ["name"],
    "/registrations/<int:registration_id>/needs": ["accessibility_needs"],
    "/sign-in": ["email", "display_name"],
    "/groups/<slug>/followers/message": ["subject", "body"],
    "/groups/<slug>/series/new": ["title", "description", "custom_rule", "first_on", "start_time", "end_on"],
}


@pytest.fixture
def world(session):
    """One of everything a route names, and a member who organizes, reviews and is staff."""
    from webapp.registrations.tokens import manage_token

    group = create_group(slug="knit")
    event = create_event(group, slug="knit-night", capacity=5)
    me = organizer_of(group, email="ada@example.org", roles=[Role.STAFF, Role.REVIEWER, Role.ADMIN])
    registration = Registration(event_id=event.id, user_id=me.id, status=RegistrationStatus.CONFIRMED)
    session.add(registration)
    event.confirmed_count = 1
    proposal = create_proposal(proposer=me)
    session.commit()
    values = {"slug": event.slug, "registration_id": registration.id, "organizer_id": group.organizers[0].id,
              "invitation_id": 1, "mail_id": 1, "claim_id": 1, "offer_id": 1, "intent_id": 1,
              "proposal_id": proposal.id, "name": "x",
              "token": manage_token(registration), "filename": "site.css", "secret": "A" * 43,
              "answer": "yes"}
    return dict(me=me, values=values, group_slug=group.slug)


def fill(rule: str, values: dict, group_slug: str) -> str:
    if rule.startswith("/groups/<slug>"):
        values = {**values, "slug": group_slug}
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(values[m.group(1)]), rule)


def row_counts() -> dict[str, int]:
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def assert_refused(response, message=NUL_MESSAGE):
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:500]
    assert message in html and "Nothing was changed" in html
    assert '<h1 id="error-title">' in html  # the site's error page, not a bare 400


def test_every_route_is_in_the_matrix(app):
    rules = {(rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods
             if method in ("GET", "POST")}
    assert {r for r, m in rules if m == "GET"} == set(GET_ARGS)
    assert {r for r, m in rules if m == "POST"} == set(POST_FIELDS)


def test_nul_in_the_path_of_every_get_route(client, signed_in_client, world, app):
    client = signed_in_client(world["me"])
    for rule in GET_ARGS:
        # A NUL in each place the path carries a value, or at the end of a path that has none.
        values = {k: f"{v}%00" for k, v in world["values"].items()}
        path = fill(rule, values, world["group_slug"] + "%00")
        if path == rule:
            path += "%00"
        assert_refused(client.get(path))


@pytest.mark.parametrize("path", ["/events/%00", "/groups/%00", "/events/knit%00night", "/%00"])
def test_nul_in_the_path_signed_out(client, world, path):
    assert_refused(client.get(path))


def test_nul_in_every_query_argument_of_every_get_route(signed_in_client, world):
    client = signed_in_client(world["me"])
    for rule, args in GET_ARGS.items():
        path = fill(rule, world["values"], world["group_slug"])
        for arg in args:
            assert_refused(client.get(f"{path}?{arg}=a%00b"))
        assert_refused(client.get(f"{path}?unknown%00=1"))


@pytest.mark.parametrize("arg", ["q", "group"])
def test_the_issue_examples_signed_out(client, world, arg):
    assert_refused(client.get(f"/events?{arg}=%00"))


def stored_control_characters() -> list[tuple[str, str]]:
    """Every (table, column) of text holding a control character: none may reach the database."""
    found = []
    for table in db.metadata.sorted_tables:
        columns = [column for column in table.columns if isinstance(column.type, String)]
        for row in db.session.execute(select(*columns)) if columns else ():
            found += [(table.name, column.name) for column, value in zip(columns, row, strict=True)
                      if isinstance(value, str) and CONTROL_CHARACTERS.search(value)]
    return found


def test_the_typed_fields_are_fields_of_the_matrix():
    assert all(set(fields) <= set(POST_FIELDS[rule]) for rule, fields in TYPED.items())


@pytest.mark.parametrize("rule", list(POST_FIELDS))
def test_a_nul_in_any_value_of_every_post_form_comes_out_and_typed_text_comes_back(signed_in_client, world,
                                                                                    rule):
    client = signed_in_client(world["me"])
    path = fill(rule, world["values"], world["group_slug"])
    fields = POST_FIELDS[rule]
    for field in fields:
        before = row_counts()
        data = {"csrf_token": csrf_token_for(client), **{f: GOOD_VALUES.get(f, "fine") for f in fields},
                field: "bad\x00value"}
        response = client.post(path, data=data)
        html = response.get_data(as_text=True)
        # Never a 500, never the refusal page (a 400 for another reason, a 404, a redirect may be right).
        assert response.status_code < 500 and NUL_MESSAGE not in html, (field, response.status_code)
        if field in TYPED.get(rule, ()):
            assert response.status_code in (200, 422) and CLEANED in html and "badvalue" in html, field
            db.session.expire_all()
            assert row_counts() == before, field
    db.session.expire_all()
    assert stored_control_characters() == []


def test_a_nul_in_a_field_name_of_every_post_form_is_refused_and_writes_nothing(signed_in_client, world):
    client = signed_in_client(world["me"])
    before = row_counts()
    for rule in POST_FIELDS:
        path = fill(rule, world["values"], world["group_slug"])
        assert_refused(client.post(path, data={"csrf_token": csrf_token_for(client), "odd\x00name": "1"}))
    db.session.expire_all()
    assert row_counts() == before


def register_with_needs(signed_in_client, session, needs: str):
    """A new member registers for a new event, typing `needs` as their accessibility needs."""
    create_event(slug="needs", capacity=3)
    member = create_user()
    session.commit()
    client = signed_in_client(member)
    return client.post("/events/needs/register", data={"csrf_token": csrf_token_for(client),
                                                       "accessibility_needs": needs})


def test_accessibility_needs_with_a_nul_come_back_without_it_and_register_nobody(signed_in_client, session):
    response = register_with_needs(signed_in_client, session, "Step-free access\x00 please, a long note")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and '<h1 id="error-title">' not in html
    # What was typed comes back in the box, without the NUL, to send again.
    assert "Step-free access please, a long note</textarea>" in html and CLEANED in html
    session.expire_all()
    assert session.scalar(select(func.count(Registration.id))) == 0


def test_htmx_gets_the_explanation_in_place(signed_in_client, world):
    client = signed_in_client(world["me"])
    response = client.post("/events/knit-night/register", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf_token_for(client), "accessibility_needs": "ramp", "odd\x00name": "1"})
    # htmx swaps only 2xx: the page's content is replaced by the explanation.
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#main > .wrap"
    html = response.get_data(as_text=True)
    assert NUL_MESSAGE in html and "<html" not in html


def test_a_nul_in_an_htmx_header_is_refused(client, world):
    assert_refused(client.get("/events", headers={"HX-Request": "true", "HX-Current-URL": "/events?\x00",
                                                  "HX-Boosted": "true"}))


@pytest.mark.parametrize("char", ["\x01", "\x08", "\x1b", "\x7f"])
def test_other_control_characters_come_out_of_a_form_value_and_refuse_a_field_name(signed_in_client, world,
                                                                                  char):
    client = signed_in_client(world["me"])
    response = client.post("/account", data={"csrf_token": csrf_token_for(client), "display_name": f"Ada{char} L."})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'value="Ada L."' in html and CLEANED in html
    response = client.post("/account", data={"csrf_token": csrf_token_for(client), "display_name": "Ada",
                                             f"odd{char}": "1"})
    assert_refused(response, "an invisible control character")


def test_tab_and_line_breaks_are_fine_in_a_form(signed_in_client, session):
    response = register_with_needs(signed_in_client, session, "Captions\tplease\r\nand a ramp")
    assert response.status_code == 303
    session.expire_all()
    assert "ramp" in session.scalar(select(Registration.accessibility_needs))


@pytest.mark.parametrize("path", ["/events?q=%ff", "/events?group=%ff%fe", "/events/%ff", "/groups/%ff",
                                  "/events?q=%c3%28", "/r/%ff", "/sign-in?next=%ff"])
def test_invalid_utf8_is_never_a_500(client, world, path):
    assert client.get(path).status_code in (200, 404)


def test_invalid_utf8_in_a_form_is_never_a_500(signed_in_client, session):
    create_event(slug="bytes", capacity=3)
    member = create_user()
    session.commit()
    client = signed_in_client(member)
    response = client.post("/events/bytes/register", data=b"csrf_token=" + csrf_token_for(client).encode()
                           + b"&accessibility_needs=caf%e9", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 303


def test_a_huge_query_value_is_refused_not_searched(client, world):
    assert_refused(client.get("/events?q=" + "a" * 5000), "The address was too long")
    assert client.get("/events?q=" + "a" * 1500).status_code == 200


def test_a_json_body_with_a_nul_is_refused_not_stored(signed_in_client, session):
    """Flask-WTF reads a JSON body as the form: it gets the refusal, not PostgreSQL's error."""
    client = signed_in_client(create_user(display_name="Jay Son"))
    response = client.post("/account", json={"csrf_token": csrf_token_for(client), "display_name": "Jay\u0000Son",
                                            "institution": "x"})
    assert response.status_code == 400
    assert "a character we can’t accept" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(db.table("users")).where(
        db.literal_column("display_name") == "Jay Son")) == 1
