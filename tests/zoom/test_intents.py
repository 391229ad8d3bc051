"""Zoom intents: written with their cause, carried out once at Zoom, whatever runs twice or fails."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.conftest import post_form
from tests.factories import create_event, create_group, create_user, organizer_of
from webapp.db import db, utcnow
from webapp.events.changes import cancel_event
from webapp.events.models import Event, EventStatus
from webapp.organize import services as organize
from webapp.outbox.models import OutboxMail
from webapp.outbox.services import send_outbox_mail
from webapp.registrations import services as registrations
from webapp.registrations import still_coming
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.zoom import services as zoom
from webapp.zoom.models import IntentKind, IntentState, ZoomIntent


def intents(session, kind=None) -> list[ZoomIntent]:
    session.expire_all()
    query = select(ZoomIntent).order_by(ZoomIntent.id)
    if kind:
        query = query.where(ZoomIntent.kind == kind)
    return list(session.scalars(query))


def run_all(session, now=None) -> None:
    """What the workers would do: every intent due now, carried out (the sweep)."""
    zoom.sweep(session, now=now or utcnow())


def zoom_draft(session, **fields) -> Event:
    group = fields.pop("group", None) or create_group()
    return create_event(group, status=EventStatus.DRAFT, meeting_url=None, is_zoom_meeting=True, **fields)


def published_zoom_event(session, **fields) -> Event:
    event = zoom_draft(session, **fields)
    organize.publish_event(session, event.id, actor=None, now=utcnow())
    session.commit()
    run_all(session)
    return db.session.get(Event, event.id, populate_existing=True)


def join_status(url: str) -> int:
    try:
        return urllib.request.urlopen(url).status
    except urllib.error.HTTPError as error:
        return error.code


# --- the meeting -------------------------------------------------------------------------------------

def test_publishing_through_the_page_makes_the_meeting_once_even_when_the_task_runs_twice(
        app, session, fake_zoom, signed_in_client):
    group = create_group(slug="metadata")
    organizer = organizer_of(group)
    event = zoom_draft(session, group=group, slug="zoom-round-table", title="Zoom round-table")
    session.commit()
    response = post_form(signed_in_client(organizer), "/events/zoom-round-table/publish")
    assert response.status_code == 303
    [intent] = intents(session)
    assert intent.kind == IntentKind.CREATE_MEETING and intent.state == IntentState.QUEUED
    assert fake_zoom.meeting_creates() == 0  # never in the web request

    assert zoom.run_intent(session, intent.id) == IntentState.DONE
    assert zoom.run_intent(session, intent.id) is None  # the task again (a redelivery): nothing to do
    intent_twin = zoom.queue_intent(session, IntentKind.CREATE_MEETING, dedup_key="a second cause",
                                    now=utcnow(), event_id=event.id)
    session.commit()
    assert zoom.run_intent(session, intent_twin) == IntentState.DONE  # another intent: finds the meeting

    assert fake_zoom.meeting_creates() == 1
    event = session.get(Event, event.id, populate_existing=True)
    meeting = fake_zoom.meetings[event.zoom_meeting_id]
    assert meeting["topic"] == "Zoom round-table"
    assert meeting["settings"]["waiting_room"] is True and meeting["settings"]["approval_type"] == 0
    assert meeting["duration"] == 60 and meeting["timezone"] == "America/New_York"


def test_a_create_whose_answer_was_lost_finds_the_meeting_instead_of_making_another(app, session, fake_zoom):
    event = zoom_draft(session)
    organize.publish_event(session, event.id, actor=None, now=utcnow())
    session.commit()
    # Zoom made it, but the worker died before writing the id down.
    from webapp.zoom.client import ZoomClient

    ZoomClient().create_meeting(zoom.meeting_payload(event))
    run_all(session)
    assert fake_zoom.meeting_creates() == 1
    event = session.get(Event, event.id, populate_existing=True)
    assert event.zoom_meeting_id in fake_zoom.meetings


def test_a_rolled_back_publish_calls_nothing(app, session, fake_zoom):
    event = zoom_draft(session)
    session.commit()
    organize.publish_event(session, event.id, actor=None, now=utcnow())
    session.rollback()
    run_all(session)
    assert intents(session) == [] and fake_zoom.meeting_creates() == 0


def test_a_pasted_link_event_never_calls_zoom(app, session, fake_zoom):
    event = create_event(create_group(), status=EventStatus.DRAFT, capacity=3)
    organize.publish_event(session, event.id, actor=None, now=utcnow())
    registrations.register(session, event.id, member=create_user(), now=utcnow())
    session.commit()
    run_all(session)
    assert intents(session) == [] and fake_zoom.calls == []


def test_a_new_title_or_time_changes_the_meeting(app, session, fake_zoom):
    event = published_zoom_event(session, title="Before")
    fields = organize.EventFields.of(event)
    fields.title = "After"
    fields.starts_at = event.starts_at + timedelta(days=1)
    fields.ends_at = fields.starts_at + timedelta(minutes=90)
    organize.update_event(session, event.id, fields, actor=None, now=utcnow())
    session.commit()
    assert len(intents(session, IntentKind.UPDATE_MEETING)) == 1  # one change, one intent
    run_all(session)
    meeting = fake_zoom.meetings[event.zoom_meeting_id]
    assert meeting["topic"] == "After" and meeting["duration"] == 90
    assert meeting["start_time"] == fields.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_change_made_while_the_meeting_is_being_made_still_reaches_zoom(app, session, fake_zoom):
    event = zoom_draft(session, title="Before")
    organize.publish_event(session, event.id, actor=None, now=utcnow())
    session.commit()
    [create] = intents(session)
    event.title = "After"  # renamed before any worker made the meeting: its update finds no meeting yet
    zoom.meeting_changed(session, event, now=utcnow())
    session.commit()
    update_intent = intents(session, IntentKind.UPDATE_MEETING)[0].id
    assert zoom.run_intent(session, update_intent) == IntentState.DONE
    assert zoom.run_intent(session, create.id) == IntentState.DONE
    assert fake_zoom.meetings[session.get(Event, event.id).zoom_meeting_id]["topic"] == "After"


def test_cancelling_the_event_deletes_the_meeting_and_every_link_dies(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=5)
    member = create_user()
    registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    run_all(session)
    link = registrations.registration_for_id(session, event.id, member.id).zoom_join_url
    assert join_status(link) == 200
    meeting_id = event.zoom_meeting_id
    cancel_event(session, event.id, now=utcnow())
    session.commit()
    run_all(session)
    assert meeting_id not in fake_zoom.meetings and join_status(link) == 404
    assert [i.state for i in intents(session, IntentKind.DELETE_MEETING)] == [IntentState.DONE]


def test_deleting_a_draft_that_has_a_meeting_deletes_it(app, session, fake_zoom):
    from webapp.zoom.client import ZoomClient

    event = zoom_draft(session)
    meeting_id = str(ZoomClient().create_meeting({"topic": "stray"})["id"])
    event.zoom_meeting_id = meeting_id
    session.commit()
    organize.discard_draft(session, event.id, actor=None, now=utcnow())
    session.commit()
    run_all(session)
    assert meeting_id not in fake_zoom.meetings


# --- registrants -------------------------------------------------------------------------------------

def test_confirmed_attendees_become_registrants_and_the_waitlisted_never(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=1)
    seated, waiting = create_user(display_name="Ada Lovelace"), create_user()
    registrations.register(session, event.id, member=seated, now=utcnow())
    registrations.register(session, event.id, member=waiting, now=utcnow())
    session.commit()
    # Queued by the registration itself, in its transaction (not left for the sweep to find).
    [queued] = intents(session, IntentKind.ADD_REGISTRANT)
    assert queued.state == IntentState.QUEUED
    run_all(session)
    [registrant] = fake_zoom.approved(event.zoom_meeting_id)
    assert registrant["email"] == seated.email and registrant["first_name"] == "Ada"
    assert registrant["last_name"] == "Lovelace"
    stored = registrations.registration_for_id(session, event.id, seated.id)
    assert stored.zoom_join_url == registrant["join_url"]
    assert registrations.registration_for_id(session, event.id, waiting.id).zoom_join_url is None
    assert [i.registration_id for i in intents(session, IntentKind.ADD_REGISTRANT)] == [stored.id]


def test_cancelling_cancels_the_registrant_and_the_old_url_is_refused_while_the_promoted_get_theirs(
        app, session, fake_zoom, signed_in_client):
    event = published_zoom_event(session, capacity=1, slug="one-seat")
    seated, waiting = create_user(), create_user()
    registrations.register(session, event.id, member=seated, now=utcnow())
    registrations.register(session, event.id, member=waiting, now=utcnow())
    session.commit()
    run_all(session)
    old_link = registrations.registration_for_id(session, event.id, seated.id).zoom_join_url
    assert join_status(old_link) == 200

    registration_id = registrations.registration_for_id(session, event.id, seated.id).id
    response = post_form(signed_in_client(seated), f"/registrations/{registration_id}/cancel")
    assert response.status_code in (200, 303)
    # The cancellation queued its Zoom cancel, and the promotion its registrant, in that same request.
    assert [i.registration_id for i in intents(session, IntentKind.CANCEL_REGISTRANT)] == [registration_id]
    promoted_id = registrations.registration_for_id(session, event.id, waiting.id).id
    assert promoted_id in [i.registration_id for i in intents(session, IntentKind.ADD_REGISTRANT)]
    run_all(session)
    assert join_status(old_link) == 403  # the copied Zoom URL is dead at Zoom's side
    assert registrations.registration_for_id(session, event.id, seated.id).zoom_join_url is None
    [registrant] = fake_zoom.approved(event.zoom_meeting_id)
    assert registrant["email"] == waiting.email  # promoted from the waitlist: registered


def test_an_organizer_removing_someone_cancels_their_registrant(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=3)
    member = create_user()
    outcome = registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    run_all(session)
    link = registrations.registration_for_id(session, event.id, member.id).zoom_join_url
    registrations.remove(session, event.id, outcome.registration.id, actor=create_user(), now=utcnow())
    session.commit()
    assert len(intents(session, IntentKind.CANCEL_REGISTRANT)) == 1
    run_all(session)
    assert join_status(link) == 403 and fake_zoom.approved(event.zoom_meeting_id) == []


def test_a_registration_before_the_meeting_exists_waits_for_it_then_goes(app, session, fake_zoom):
    event = zoom_draft(session, capacity=3)
    organize.publish_event(session, event.id, actor=None, now=utcnow())
    registrations.register(session, event.id, member=create_user(), now=utcnow())
    session.commit()
    add = intents(session, IntentKind.ADD_REGISTRANT)[0]
    assert zoom.run_intent(session, add.id) == IntentState.RETRY  # no meeting yet: it waits, uncounted
    add = intents(session, IntentKind.ADD_REGISTRANT)[0]
    assert add.attempts == 0 and "waiting" in add.last_error
    create = intents(session, IntentKind.CREATE_MEETING)[0]
    assert zoom.run_intent(session, create.id) == IntentState.DONE
    assert zoom.run_intent(session, add.id) == IntentState.DONE  # woken by the meeting: due at once
    assert len(fake_zoom.approved(session.get(Event, event.id).zoom_meeting_id)) == 1


def test_cancelling_before_the_add_ran_leaves_no_registrant(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=3)
    member = create_user()
    outcome = registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    registrations.cancel(session, outcome.registration, now=utcnow())
    session.commit()
    run_all(session)
    assert fake_zoom.approved(event.zoom_meeting_id) == []
    assert fake_zoom.count("POST", f"/v2/meetings/{event.zoom_meeting_id}/registrants") == 0


def test_the_end_of_the_event_cancels_its_registrants(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=3)
    member = create_user()
    registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    run_all(session)
    link = registrations.registration_for_id(session, event.id, member.id).zoom_join_url
    run_all(session, now=event.ends_at + timedelta(minutes=1))
    assert join_status(link) == 403
    run_all(session, now=event.ends_at + timedelta(minutes=2))  # the sweep again: nothing new
    assert len(intents(session, IntentKind.CANCEL_REGISTRANT)) == 1


def test_a_confirmed_attendee_no_cause_registered_is_found_by_the_sweep(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=3)
    member = create_user()
    # As Register for all does it (webapp/series): a seat taken below `register`.
    locked = registrations.lock_event(session, event.id)
    registrations.take_place(session, locked, None, user_id=member.id, now=utcnow())
    session.commit()
    run_all(session)
    assert [r["email"] for r in fake_zoom.approved(event.zoom_meeting_id)] == [member.email]


def test_zoom_failing_then_answering_carries_everything_out_once(app, session, fake_zoom):
    app.config.update(ZOOM_RETRY_BASE_SECONDS=1, ZOOM_RETRY_MAX_SECONDS=1)
    event = zoom_draft(session, capacity=3)
    organize.publish_event(session, event.id, actor=None, now=utcnow())
    members = [create_user() for _ in range(3)]
    for member in members:
        registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    fake_zoom.fail_next(3)
    fake_zoom.rate_limit_next(2, retry_after=1)
    now = utcnow()
    for minute in range(6):
        run_all(session, now=now + timedelta(minutes=minute))
    assert {i.state for i in intents(session)} == {IntentState.DONE}
    meeting_id = session.get(Event, event.id, populate_existing=True).zoom_meeting_id
    assert fake_zoom.meeting_creates() == 1
    assert sorted(r["email"] for r in fake_zoom.approved(meeting_id)) == sorted(m.email for m in members)


def test_a_429_retries_no_sooner_than_retry_after(app, session, fake_zoom):
    app.config.update(ZOOM_RETRY_BASE_SECONDS=1, ZOOM_RETRY_MAX_SECONDS=1)
    event = zoom_draft(session)
    organize.publish_event(session, event.id, actor=None, now=utcnow())
    session.commit()
    fake_zoom.rate_limit_next(1, retry_after=120)
    now = utcnow()
    [intent] = intents(session)
    assert zoom.run_intent(session, intent.id, now=now) == IntentState.RETRY
    [intent] = intents(session)
    assert intent.next_attempt_at >= now + timedelta(seconds=120) and "429" in intent.last_error


def test_a_refusal_fails_at_once_with_zooms_answer(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=3)
    del fake_zoom.meetings[event.zoom_meeting_id]  # someone deleted it by hand at Zoom
    registrations.register(session, event.id, member=create_user(), now=utcnow())
    session.commit()
    run_all(session)
    [add] = intents(session, IntentKind.ADD_REGISTRANT)
    assert add.state == IntentState.FAILED and "Meeting does not exist" in add.last_error and add.attempts == 1


@pytest.mark.postgres_only
def test_fifty_simultaneous_registrations_on_twenty_seats_make_twenty_registrants(app, session, fake_zoom,
                                                                                 db_kind):
    if db_kind != "postgres":
        pytest.skip("fifty writers at once: PostgreSQL's row locks, as production")
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 25, "max_overflow": 30}
    event = published_zoom_event(session, capacity=20)
    members = [create_user() for _ in range(50)]
    event_id, member_ids, meeting_id = event.id, [m.id for m in members], event.zoom_meeting_id
    session.commit()
    session.remove()
    barrier = threading.Barrier(len(member_ids))
    errors: list[BaseException] = []

    def press_register(member_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=90)
                registrations.register(db.session, event_id, member=SimpleNamespace(id=member_id), now=utcnow())
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=press_register, args=(m,)) for m in member_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    run_all(session)
    confirmed = session.scalars(select(Registration).where(
        Registration.event_id == event_id, Registration.status == RegistrationStatus.CONFIRMED)).all()
    assert len(confirmed) == 20 and len(fake_zoom.approved(meeting_id)) == 20
    assert {r["email"] for r in fake_zoom.approved(meeting_id)} == {r.user.email for r in confirmed}
    assert len(intents(session, IntentKind.ADD_REGISTRANT)) == 20


def test_a_released_seat_cancels_the_registrant_and_the_promoted_member_is_registered(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=1)
    seated, waiting = create_user(), create_user()
    registrations.register(session, event.id, member=seated, now=utcnow())
    registrations.register(session, event.id, member=waiting, now=utcnow())
    session.commit()
    run_all(session)
    held = registrations.registration_for_id(session, event.id, seated.id)
    link = held.zoom_join_url
    event = session.get(Event, event.id)
    event.is_releasing_unconfirmed_seats = True
    session.commit()
    # Asked "Still coming?" (the question really delivered, as the release requires), never answered.
    asked = event.starts_at - timedelta(hours=72)
    still_coming.queue_due_still_coming(session, now=asked)
    session.commit()
    for mail in session.scalars(select(OutboxMail).where(OutboxMail.kind == "still_coming")).all():
        send_outbox_mail(session, mail.id, now=asked)
    now = event.starts_at - timedelta(hours=20)
    release = registrations.release_unconfirmed_seats(session, event.id, now=now)
    session.commit()
    assert [r.user_id for r in release.released] == [seated.id]
    assert [i.registration_id for i in intents(session, IntentKind.CANCEL_REGISTRANT)] == [held.id]
    run_all(session, now=now)
    assert join_status(link) == 403
    assert [r["email"] for r in fake_zoom.approved(event.zoom_meeting_id)] == [waiting.email]


def test_a_cancellation_zoom_refuses_for_good_is_not_queued_again_by_every_sweep(app, session, fake_zoom):
    event = published_zoom_event(session, capacity=3)
    member = create_user()
    outcome = registrations.register(session, event.id, member=member, now=utcnow())
    session.commit()
    run_all(session)
    fake_zoom.fail_next(2, status=400)  # Zoom refuses the cancel: a failure retrying can't mend
    registrations.cancel(session, outcome.registration, now=utcnow())
    session.commit()
    for minute in range(4):
        run_all(session, now=utcnow() + timedelta(minutes=minute))
    cancels = intents(session, IntentKind.CANCEL_REGISTRANT)
    # The cause's own intent failed; the sweep queued its fallback once, which failed too: no more.
    assert [i.state for i in cancels] == [IntentState.FAILED, IntentState.FAILED]
    assert "HTTP 400" in cancels[-1].last_error
    # Staff retry it from the Zoom tasks page once Zoom takes it: then it goes through.
    zoom.retry_intent(session, cancels[-1].id, actor=SimpleNamespace(email="staff@example.org"), now=utcnow())
    session.commit()
    run_all(session)
    assert fake_zoom.approved(event.zoom_meeting_id) == []
