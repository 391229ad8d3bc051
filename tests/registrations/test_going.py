"""The Going list: confirmed attendees who chose to show their name are named to other signed-in
members; everyone else is counted, never named; visitors see no names at all."""

from __future__ import annotations

from bs4 import BeautifulSoup

from tests.conftest import post_form
from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.db import utcnow
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration


def _going(client, slug="chat"):
    page = BeautifulSoup(client.get(f"/events/{slug}").get_data(as_text=True), "html.parser")
    section = page.select_one(".going")
    return section.get_text(" ", strip=True) if section else None


def _world(session):
    group = create_group(slug="chat-group")
    event = create_event(group, slug="chat", capacity=3)
    shown = create_user(display_name="Shown <em>Sam</em>")
    hidden = create_user(display_name="Hidden Hana")
    waiting_shown = create_user(display_name="Waiting Wes")
    viewer = create_user(display_name="Viewer")
    now = utcnow()
    registrations.register(session, event.id, member=shown, show_name=True, now=now)
    registrations.register(session, event.id, member=hidden, now=now)
    registrations.register(session, event.id, member=viewer, now=now)
    registrations.register(session, event.id, member=waiting_shown, show_name=True, now=now)  # full: waitlisted
    session.commit()
    return event, shown, hidden, viewer


def test_names_only_of_those_who_chose_and_only_to_signed_in_members(client, signed_in_client, session):
    _event, _shown, _hidden, viewer = _world(session)
    assert _going(client) is None  # a visitor: no names, the page (and the page cache) as before
    text = _going(signed_in_client(viewer))
    assert "Going (3)" in text and "Shown <em>Sam</em>" in text and "and 2 others not named" in text
    assert "Hidden Hana" not in text and "Waiting Wes" not in text  # waitlisted people are not "going"
    html = signed_in_client(viewer).get("/events/chat").get_data(as_text=True)
    assert "<em>Sam</em>" not in html  # escaped


def test_the_choice_is_made_when_registering_and_changed_later(signed_in_client, session):
    event, _shown, hidden, viewer = _world(session)
    client = signed_in_client(hidden)
    registration = session.query(Registration).filter_by(user_id=hidden.id).one()
    response = post_form(client, f"/registrations/{registration.id}/show-name", {"show_name": "1", "back": "event"})
    assert response.status_code == 303
    assert post_form(client, f"/registrations/{registration.id}/show-name",
                     {"show_name": "1", "back": "event"}).status_code == 303  # a replay changes nothing
    assert "Hidden Hana" in _going(signed_in_client(viewer))
    client = signed_in_client(hidden)  # one test client: signed in as each member in turn
    fragment = post_form(client, f"/registrations/{registration.id}/show-name", {"show_name": "0", "back": "my-events"},
                         headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Your name is not on the “Going” list" in fragment and "Saved." in fragment
    assert "Hidden Hana" not in _going(signed_in_client(viewer))


def test_only_the_member_changes_their_own_choice(signed_in_client, session):
    _event, shown, _hidden, viewer = _world(session)
    registration = session.query(Registration).filter_by(user_id=shown.id).one()
    response = post_form(signed_in_client(viewer), f"/registrations/{registration.id}/show-name", {"show_name": "0"})
    assert response.status_code in (403, 404)
    session.refresh(registration)
    assert registration.show_name is True


def test_the_register_form_offers_the_choice_off_by_default(signed_in_client, session):
    group = create_group()
    create_event(group, slug="open", capacity=None)
    member = create_user()
    session.commit()
    client = signed_in_client(member)
    page = BeautifulSoup(client.get("/events/open").get_data(as_text=True), "html.parser")
    box = page.select_one("#register-show-name")
    assert box is not None and not box.has_attr("checked")
    post_form(client, "/events/open/register", {"show_name": "1"})
    session.expire_all()
    assert session.query(Registration).filter_by(user_id=member.id).one().show_name is True


def test_organizers_still_see_everyone_on_the_attendee_list(signed_in_client, session):
    event, _shown, _hidden, _viewer = _world(session)
    organizer = organizer_of(event.group)
    session.commit()
    text = signed_in_client(organizer).get("/events/chat/attendees").get_data(as_text=True)
    assert "Hidden Hana" in text and "Waiting Wes" in text
