"""Attendance from Zoom: the participant report after the event and the signed webhook while it runs
fill check-in for the right people; organizers can still correct it; a bad signature is refused."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import post_form
from tests.factories import create_event, create_group, create_user, organizer_of
from tests.support.fake_zoom import sign_webhook
from tests.support.html import parse
from webapp.db import utcnow
from webapp.events.models import EventStatus
from webapp.organize.services import publish_event
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration
from webapp.zoom import services as zoom
from webapp.zoom.models import IntentKind, IntentState, ZoomIntent

pytestmark = pytest.mark.usefixtures("fresh_request_globals")


def zulu(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def held(session, fake_zoom):
    """A Zoom event starting in an hour with three confirmed attendees (Zoom registered them) and one
    waiting; the test moves the clock past its end."""
    group = create_group(slug="metadata")
    organizer = organizer_of(group)
    now = utcnow()
    event = create_event(group, slug="zoomed", meeting_url=None, is_zoom_meeting=True, status=EventStatus.DRAFT,
                         capacity=3, starts_at=now + timedelta(hours=1))
    event.starts_at = event.starts_at.replace(microsecond=0)  # Zoom's times are whole seconds
    publish_event(session, event.id, actor=None, now=now)
    people = [create_user(email=f"p{n}@example.org") for n in range(4)]
    for person in people:
        registrations.register(session, event.id, member=person, now=now)
    session.commit()
    zoom.sweep(session, now=now)
    session.refresh(event)
    return dict(event=event, organizer=organizer, people=people, meeting_id=event.zoom_meeting_id)


def registration_of(session, event, person) -> Registration:
    session.expire_all()
    return session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                     Registration.user_id == person.id))


def test_the_participant_report_after_the_event_checks_in_the_right_people(session, held, fake_zoom,
                                                                            signed_in_client):
    event, people = held["event"], held["people"]
    start = event.starts_at
    fake_zoom.participants[held["meeting_id"]] = [
        # p0 joined twice (a dropped connection): 40 + 15 minutes, first at the start.
        {"user_email": "p0@example.org", "join_time": zulu(start), "leave_time": zulu(start + timedelta(minutes=40)),
         "duration": 2400},
        {"user_email": "P0@Example.org", "join_time": zulu(start + timedelta(minutes=42)),
         "leave_time": zulu(start + timedelta(minutes=57)), "duration": 900},
        # p3 waited in line and never had a seat: someone Zoom let in is still not on our list.
        {"user_email": "p3@example.org", "join_time": zulu(start), "duration": 600},
        {"user_email": "host@metro.org", "join_time": zulu(start), "duration": 3600},
    ]
    zoom.sweep(session, now=event.ends_at + timedelta(minutes=5))  # too early: the report isn't ready
    assert session.scalars(select(ZoomIntent).where(ZoomIntent.kind == IntentKind.IMPORT_ATTENDANCE)).all() == []
    zoom.sweep(session, now=event.ends_at + timedelta(minutes=20))
    [intent] = session.scalars(select(ZoomIntent).where(ZoomIntent.kind == IntentKind.IMPORT_ATTENDANCE)).all()
    assert intent.state == IntentState.DONE

    first = registration_of(session, event, people[0])
    assert first.checked_in_at == start and first.zoom_joined_at == start and first.zoom_seconds == 3300
    assert registration_of(session, event, people[1]).checked_in_at is None  # never joined: a no-show
    assert registration_of(session, event, people[3]).checked_in_at is None  # waitlisted
    zoom.sweep(session, now=event.ends_at + timedelta(minutes=40))  # again: imported once
    assert len(session.scalars(select(ZoomIntent).where(ZoomIntent.kind == IntentKind.IMPORT_ATTENDANCE)).all()) == 1

    page = parse(signed_in_client(held["organizer"]).get("/events/zoomed/attendees").get_data(as_text=True))
    row = page.select_one(f"#registration-{first.id}")
    assert "On Zoom from" in row.get_text() and "55 minutes" in row.get_text()
    # The CSV carries the same: when they joined and the minutes, for the organizers' records.
    csv_rows = {r["Email"]: r for r in csv.DictReader(io.StringIO(
        signed_in_client(held["organizer"]).get("/events/zoomed/attendees.csv").get_data(as_text=True)))}
    assert csv_rows["p0@example.org"]["Minutes on Zoom"] == "55" and csv_rows["p0@example.org"]["On Zoom from"]
    assert csv_rows["p1@example.org"]["Minutes on Zoom"] == ""


def test_an_organizers_correction_stands_against_later_news_from_zoom(session, held, fake_zoom, signed_in_client):
    event, people = held["event"], held["people"]
    registration = registration_of(session, event, people[0])
    body = json.dumps({"event": "meeting.participant_joined", "event_ts": int(time.time() * 1000), "payload": {
        "object": {"id": held["meeting_id"], "participant": {
            "email": "p0@example.org", "join_time": zulu(event.starts_at)}}}}).encode()
    client = signed_in_client(held["organizer"])
    assert client.post("/zoom/webhook", data=body, headers=sign_webhook(body)).status_code == 200
    assert registration_of(session, event, people[0]).checked_in_at == event.starts_at
    # The organizer knows better: p0 joined by mistake and left at once.
    response = post_form(client, f"/events/zoomed/attendees/{registration.id}/check-in", {"checked_in": "0"})
    assert response.status_code in (200, 303)
    assert registration_of(session, event, people[0]).checked_in_at is None
    fake_zoom.participants[held["meeting_id"]] = [
        {"user_email": "p0@example.org", "join_time": zulu(event.starts_at), "duration": 30}]
    zoom.sweep(session, now=event.ends_at + timedelta(minutes=20))
    after = registration_of(session, event, people[0])
    assert after.checked_in_at is None and after.zoom_seconds == 30


def test_the_webhook_checks_in_a_participant_who_joins_by_registrant_id(client, session, held):
    event, people = held["event"], held["people"]
    registration = registration_of(session, event, people[1])
    joined = event.starts_at + timedelta(minutes=3)
    for kind, participant in (
            ("meeting.participant_joined", {"registrant_id": registration.zoom_registrant_id,
                                            "user_name": "P One", "join_time": zulu(joined)}),
            ("meeting.participant_left", {"registrant_id": registration.zoom_registrant_id,
                                          "leave_time": zulu(joined + timedelta(minutes=20))})):
        body = json.dumps({"event": kind, "payload": {"object": {"id": held["meeting_id"],
                                                                 "participant": participant}}}).encode()
        assert client.post("/zoom/webhook", data=body, headers=sign_webhook(body)).status_code == 200
        client.post("/zoom/webhook", data=body, headers=sign_webhook(body))  # Zoom delivers again: no change
    after = registration_of(session, event, people[1])
    assert after.checked_in_at == joined and after.zoom_seconds == 1200


@pytest.mark.parametrize("tamper", ["wrong secret", "changed body", "old timestamp", "no signature"])
def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(client, session, held, tamper):
    event, people = held["event"], held["people"]
    body = json.dumps({"event": "meeting.participant_joined", "payload": {"object": {
        "id": held["meeting_id"], "participant": {"email": "p2@example.org",
                                                  "join_time": zulu(event.starts_at)}}}}).encode()
    headers = sign_webhook(body, secret="wrong" if tamper == "wrong secret" else "fake-webhook-secret",
                           timestamp=int(time.time()) - 3600 if tamper == "old timestamp" else None)
    if tamper == "changed body":
        body = body.replace(b"p2@", b"p1@")
    if tamper == "no signature":
        headers.pop("x-zm-signature")
    assert client.post("/zoom/webhook", data=body, headers=headers).status_code == 401
    assert registration_of(session, event, people[2]).checked_in_at is None
    assert registration_of(session, event, people[1]).checked_in_at is None


def test_the_url_validation_challenge_is_answered(client, held):
    import hashlib
    import hmac

    body = json.dumps({"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}
                      ).encode()
    response = client.post("/zoom/webhook", data=body, headers=sign_webhook(body))
    assert response.status_code == 200
    assert response.get_json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": hmac.new(b"fake-webhook-secret", b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()}


def test_odd_webhook_bodies_are_refused_without_a_500(client, held):
    weird = {"event": "meeting.participant_joined", "payload": {"object": {"id": held["meeting_id"], "participant": {
        "registrant_id": ["a"], "email": 5, "join_time": 12, "duration": "long"}}}}
    for body in (b"not json", b"{}", b'{"event": "meeting.participant_joined", "payload": "x"}', "é\x00".encode(),
                 b"[1, 2]", json.dumps(weird).encode()):
        assert client.post("/zoom/webhook", data=body, headers=sign_webhook(body)).status_code in (200, 400)
    huge = b"{" + b" " * 70_000 + b"}"
    assert client.post("/zoom/webhook", data=huge, headers=sign_webhook(huge)).status_code == 413


def test_without_a_webhook_secret_there_is_no_webhook(client, app):
    app.config["ZOOM_WEBHOOK_SECRET"] = None
    body = b"{}"
    assert client.post("/zoom/webhook", data=body, headers=sign_webhook(body)).status_code == 404
