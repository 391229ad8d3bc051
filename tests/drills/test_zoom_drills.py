"""Zoom down, then rate-limiting, while an organizer publishes and members register and cancel: once
Zoom answers again, a real worker carries every intent out once (issue 22)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from tests.drills.support import wait_until
from tests.factories import create_event, create_group, create_user
from tests.support.fake_zoom import zoom_env
from webapp.db import utcnow
from webapp.events.models import Event, EventStatus
from webapp.organize.services import publish_event
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.zoom.models import IntentState, ZoomIntent

FAST = {"ZOOM_SWEEP_SECONDS": "1", "ZOOM_RETRY_BASE_SECONDS": "1", "ZOOM_RETRY_MAX_SECONDS": "2",
        "ZOOM_WAIT_SECONDS": "1", "ZOOM_MAX_ATTEMPTS": "50"}


def intent_states(session) -> dict[str, int]:
    session.expire_all()
    return {str(state): count for state, count in
            session.execute(select(ZoomIntent.state, func.count()).group_by(ZoomIntent.state))}


def test_drill_zoom_down_then_rate_limiting_then_everything_applied_once(app, session, fake_zoom, start_worker):
    fake_zoom.down = True  # every API call answers 503
    start_worker("zoom1", beat=True, **zoom_env(fake_zoom), **FAST)
    now = utcnow()
    event = create_event(create_group(), meeting_url=None, is_zoom_meeting=True, status=EventStatus.DRAFT,
                         capacity=6, starts_at=now + timedelta(days=2))
    publish_event(session, event.id, actor=None, now=now)
    session.commit()  # the commit hands the create to the worker, which finds Zoom down
    members = [create_user(email=f"zoomer{n}@example.org") for n in range(9)]
    session.commit()
    outcomes = []
    for member in members:
        outcomes.append(registrations.register(session, event.id, member=member, now=utcnow()).registration)
        session.commit()
    for registration in outcomes[:2]:  # two seated members give up their seats: two waiting get them
        registrations.cancel(session, registration, now=utcnow())
        session.commit()

    assert wait_until(lambda: intent_states(session).get("retry", 0) >= 3, timeout=20)
    time.sleep(3)  # a few more rounds of failures
    # Nothing reached Zoom; the only intents done are those of the two who cancelled (nothing to do for them).
    assert fake_zoom.calls == []
    done_for = set(session.scalars(select(ZoomIntent.registration_id).where(ZoomIntent.state == IntentState.DONE)))
    assert done_for <= {r.id for r in outcomes[:2]}

    fake_zoom.rate_limit_next(4, retry_after=1)
    fake_zoom.down = False
    assert wait_until(lambda: set(intent_states(session)) == {"done"}, timeout=60), intent_states(session)

    session.expire_all()
    meeting_id = session.get(Event, event.id).zoom_meeting_id
    confirmed = session.scalars(select(Registration).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.CONFIRMED)).all()
    assert len(confirmed) == 6
    assert fake_zoom.meeting_creates() == 1
    approved = fake_zoom.approved(meeting_id)
    assert sorted(r["email"] for r in approved) == sorted(r.user.email for r in confirmed)
    # Once each: one POST per attendee who holds a seat now; the two who cancelled were never sent,
    # and the waitlisted never are.
    assert fake_zoom.count("POST", f"/v2/meetings/{meeting_id}/registrants") == 6
    assert {r.zoom_join_url for r in confirmed} == {r["join_url"] for r in approved}
    assert session.scalar(select(func.count()).select_from(ZoomIntent).where(
        ZoomIntent.state == IntentState.FAILED)) == 0


def test_drill_worker_killed_after_zoom_made_the_meeting_the_next_one_finds_it(app, session, fake_zoom,
                                                                              start_worker):
    # Zoom makes the meeting but its answer is held back; the worker dies waiting for it, so the id is
    # never written down. The next worker, once the lease runs out, must find that meeting, not make another.
    fake_zoom.hold_answer = ("POST", "/v2/users/me/meetings", 30)
    worker = start_worker("zoom-killed", beat=True, **zoom_env(fake_zoom), **FAST, ZOOM_CLAIM_LEASE_SECONDS="3")
    event = create_event(create_group(), meeting_url=None, is_zoom_meeting=True, status=EventStatus.DRAFT,
                         capacity=3, starts_at=utcnow() + timedelta(days=2))
    publish_event(session, event.id, actor=None, now=utcnow())
    session.commit()
    assert fake_zoom.held.wait(20), worker.log()[-3000:]
    worker.kill()
    assert intent_states(session) == {"working": 1} and fake_zoom.meeting_creates() == 1
    fake_zoom.hold_answer = None

    start_worker("zoom-again", beat=True, **zoom_env(fake_zoom), **FAST, ZOOM_CLAIM_LEASE_SECONDS="3")
    assert wait_until(lambda: intent_states(session) == {"done": 1}, timeout=30), intent_states(session)
    session.expire_all()
    assert fake_zoom.meeting_creates() == 1  # found by its marker, not made twice
    assert session.get(Event, event.id).zoom_meeting_id in fake_zoom.meetings
