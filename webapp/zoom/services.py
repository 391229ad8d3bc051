"""Zoom intents: queued with their cause, carried out once by a worker, swept up when left behind.

The rules, in one place (the outbox's, for Zoom calls):
- a cause (publish, a new title or time, cancel, delete a draft, a seat taken, a seat given up,
  the end of the event) writes a `zoom_intents` row in its own transaction, with a unique dedup
  key; a rolled-back cause calls nothing, a replayed one queues nothing twice;
- after the commit each new row's id goes to a worker (`tasks.zoom.run_zoom_intent`); the sweep
  (`tasks.zoom.sweep_zoom_intents`, every ZOOM_SWEEP_SECONDS) takes whatever was left;
- a worker claims a row with one conditional UPDATE (a lease: a dead worker's rows are taken
  again once it runs out), so two workers never carry out the same row at once;
- carrying out an intent makes Zoom match the site as it is *now* (see `_sync_meeting`,
  `_sync_registrant`), read afresh and checked again after every change: so intents that overtake
  each other, repeat, or race a cancellation still leave Zoom right, and a task that runs twice
  finds nothing left to do. Before creating anything it looks: the meeting id stored on the event
  (and, for a create whose answer was lost, a meeting whose agenda carries the event's marker);
  a registrant that already exists is looked up, not an error;
- retryable failures (Zoom down, 5xx, timeouts, 429) retry with exponential backoff and jitter, at
  least Zoom's Retry-After; others fail at once, with Zoom's answer kept for the staff page.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from webapp.db import insert_on_conflict, utcnow
from webapp.events.models import Event, EventStatus
from webapp.outbox.services import queue_again_by_staff
from webapp.refusals import Refusal
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.zoom.client import ZoomClient, ZoomError, is_configured
from webapp.zoom.models import MEETING_KINDS, IntentKind, IntentState, ZoomIntent

log = logging.getLogger(__name__)

RUN_TASK = "tasks.zoom.run_zoom_intent"
PENDING_KEY = "zoom_pending_ids"
WAITING = (IntentState.QUEUED, IntentState.RETRY)
UNFINISHED = (IntentState.QUEUED, IntentState.RETRY, IntentState.WORKING)


def _setting(name: str, default):
    return current_app.config.get(name, default)


def zoom_available() -> bool:
    """May organizers choose "Create a Zoom meeting"? Only with the site's Zoom credentials."""
    return is_configured(current_app.config)


# --- queueing, in the cause's transaction ------------------------------------------------------------

def queue_intent(session: Session, kind: IntentKind, *, dedup_key: str, now: datetime, event_id: int | None,
                 registration_id: int | None = None, zoom_meeting_id: str | None = None) -> int | None:
    """Add an intent in the caller's transaction; its id, or None if that key was queued before."""
    table = ZoomIntent.__table__
    intent_id = session.scalar(
        insert_on_conflict(session)(table).values(
            kind=kind.value, dedup_key=dedup_key[:200], event_id=event_id, registration_id=registration_id,
            zoom_meeting_id=zoom_meeting_id, state=IntentState.QUEUED.value, attempts=0,
            created_at=now, next_attempt_at=now,
        ).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(table.c.id)
    )
    if intent_id is not None:
        session.info.setdefault(PENDING_KEY, []).append(intent_id)
    return intent_id


def _stamp(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f") if moment else "-"


def meeting_published(session: Session, event: Event, *, now: datetime) -> None:
    """The event was published: its Zoom meeting is to be made (when the organizer chose one)."""
    if event.is_zoom_meeting and event.is_online:
        queue_intent(session, IntentKind.CREATE_MEETING, dedup_key=f"create_meeting:{event.id}", now=now,
                     event_id=event.id)


def meeting_changed(session: Session, event: Event, *, now: datetime) -> None:
    """Its title or time changed: Zoom's meeting follows (the worker sends what the event says then)."""
    if event.is_zoom_meeting and event.status == EventStatus.SCHEDULED:
        queue_intent(session, IntentKind.UPDATE_MEETING, dedup_key=f"update_meeting:{event.id}:{_stamp(now)}",
                     now=now, event_id=event.id)


def meeting_withdrawn(session: Session, event: Event, *, now: datetime) -> None:
    """The event was cancelled or its draft deleted: the meeting goes, and every registrant's link with it."""
    if event.is_zoom_meeting or event.zoom_meeting_id:
        queue_intent(session, IntentKind.DELETE_MEETING, dedup_key=f"delete_meeting:{event.id}", now=now,
                     event_id=event.id, zoom_meeting_id=event.zoom_meeting_id)


def _add_key(registration: Registration) -> str:
    # One per confirmation: a member who lost the seat (a released seat) and got it back is a new one.
    return f"add_registrant:{registration.id}:{registration.generation}:{_stamp(registration.confirmed_at)}"


def seats_taken(session: Session, event: Event, registrations: list[Registration], *, now: datetime) -> None:
    """These registrations were just confirmed (registered, promoted): each becomes a Zoom registrant.
    Waitlisted ones never do."""
    if not event.is_zoom_meeting:
        return
    for registration in registrations:
        if registration.status == RegistrationStatus.CONFIRMED:
            queue_intent(session, IntentKind.ADD_REGISTRANT, dedup_key=_add_key(registration), now=now,
                         event_id=event.id, registration_id=registration.id)


def seats_given_up(session: Session, event: Event, registrations: list[Registration], *, now: datetime) -> None:
    """These registrations lost their seat (cancelled, removed, released): cancelled at Zoom too,
    so a copied Zoom link stops working."""
    if not event.is_zoom_meeting:
        return
    for registration in registrations:
        queue_intent(session, IntentKind.CANCEL_REGISTRANT,
                     dedup_key=f"cancel_registrant:{registration.id}:{registration.generation}:{_stamp(now)}",
                     now=now, event_id=event.id, registration_id=registration.id)


def forget_pending(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)


def dispatch_after_commit(session: Session) -> None:
    """Hand the intents this transaction queued to the workers; the sweep catches any we miss."""
    if session.in_nested_transaction():
        return  # a savepoint released: the rows are not committed yet
    ids = session.info.pop(PENDING_KEY, [])
    if not ids:
        return
    celery = current_app.extensions["celery"]
    for intent_id in ids:
        try:
            celery.send_task(RUN_TASK, args=[intent_id])
        except Exception:  # the broker is down: the row waits for the sweep
            log.warning("could not enqueue zoom intent %s; the sweep will carry it out", intent_id)
            break


# --- claiming --------------------------------------------------------------------------------------

def claim_lease() -> timedelta:
    return timedelta(seconds=_setting("ZOOM_CLAIM_LEASE_SECONDS", 600))


def _due(now: datetime, token: str | None = None):
    conditions = [
        ZoomIntent.state.in_(WAITING) & (ZoomIntent.next_attempt_at <= now),
        (ZoomIntent.state == IntentState.WORKING) & (ZoomIntent.claimed_at < now - claim_lease()),
    ]
    if token:  # the same task redelivered after its worker was lost takes its row back at once
        conditions.append((ZoomIntent.state == IntentState.WORKING) & (ZoomIntent.claim_token == token))
    return or_(*conditions)


def claim(session: Session, intent_ids: list[int], *, now: datetime, token: str | None = None) -> list[int]:
    """Move those of these intents that are due to `working`; the ids won (one UPDATE decides)."""
    if not intent_ids:
        return []
    won = session.scalars(
        update(ZoomIntent).where(ZoomIntent.id.in_(intent_ids), _due(now, token))
        .values(state=IntentState.WORKING, claimed_at=now, claim_token=token, attempts=ZoomIntent.attempts + 1)
        .returning(ZoomIntent.id).execution_options(synchronize_session=False)
    )
    return sorted(won)


def claim_due(session: Session, *, now: datetime, limit: int = 50, token: str | None = None) -> list[int]:
    candidates = list(session.scalars(
        select(ZoomIntent.id).where(_due(now, token))
        .order_by(ZoomIntent.next_attempt_at, ZoomIntent.id).limit(limit).with_for_update(skip_locked=True)
    ))
    return claim(session, candidates, now=now, token=token)


# --- carrying out ----------------------------------------------------------------------------------

class NotYet(Exception):
    """The intent cannot be carried out yet (its meeting is not made): look again soon, uncounted."""


def retry_delay(attempts: int, at_least: float | None = None) -> timedelta:
    """Exponential backoff with jitter, never sooner than Zoom's Retry-After."""
    base = _setting("ZOOM_RETRY_BASE_SECONDS", 30)
    cap = _setting("ZOOM_RETRY_MAX_SECONDS", 3600)
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    delay += random.uniform(0, delay / 2)
    return timedelta(seconds=max(delay, at_least or 0))


def meeting_marker(event_id: int) -> str:
    """A line in the meeting's agenda that finds it again if the create's answer was lost."""
    return f"[METRO Meetups event {event_id} · {current_app.config['SITE_URL']}]"


def meeting_fields(event: Event) -> dict:
    """What Zoom's meeting says of the event: topic, start, duration, time zone (kept in step)."""
    minutes = max(int((event.ends_at - event.starts_at).total_seconds() // 60), 1)
    return {
        "topic": event.title[:200],
        "start_time": event.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": minutes,
        "timezone": current_app.config["SITE_TIMEZONE"],
    }


def meeting_payload(event: Event) -> dict:
    from webapp.urls import absolute_url

    return {
        **meeting_fields(event),
        "type": 2,  # scheduled
        "agenda": f"{absolute_url('events.detail', slug=event.slug)}\n\n{meeting_marker(event.id)}",
        "settings": {
            # Registration required, approved automatically: each attendee gets a join URL of their own.
            "approval_type": 0,
            "registration_type": 1,
            "waiting_room": True,
            "join_before_host": False,
            # The site mails its attendees; Zoom's own mails would show the link to the waitlisted too.
            "registrants_email_notification": False,
            "registrants_confirmation_email": False,
        },
    }


def _set_meeting_id(session: Session, event_id: int, meeting_id: str | None) -> None:
    # updated_at kept: Zoom's id is no change an organizer made.
    session.execute(update(Event).where(Event.id == event_id)
                    .values(zoom_meeting_id=meeting_id, updated_at=Event.updated_at)
                    .execution_options(synchronize_session=False))


def _fresh(session: Session, model, row_id: int | None):
    return session.get(model, row_id, populate_existing=True) if row_id is not None else None


def _sync_meeting(session: Session, client: ZoomClient, intent: ZoomIntent) -> None:
    """Make Zoom's meeting match the event: exists while it is a scheduled Zoom event, with its topic
    and time; gone once cancelled or deleted. Read again after each change, until nothing is left."""
    event_id, kind, kept_id = intent.event_id, intent.kind, intent.zoom_meeting_id
    sent = None
    for _ in range(4):
        session.commit()  # each look at the event is a fresh transaction
        event = _fresh(session, Event, event_id)
        wanted = event is not None and event.is_zoom_meeting and event.status == EventStatus.SCHEDULED
        meeting_id = event.zoom_meeting_id if event is not None else kept_id
        if wanted and not meeting_id:
            fields = meeting_fields(event)
            meeting_id = client.find_meeting(meeting_marker(event.id)) \
                or str(client.create_meeting(meeting_payload(event))["id"])
            _set_meeting_id(session, event.id, meeting_id)
            session.commit()
            log.info("zoom meeting %s made for event %s", meeting_id, event.id)
            _wake_registrants(session, event.id)
            sent = fields
        elif wanted:
            fields = meeting_fields(event)
            if (kind == IntentKind.UPDATE_MEETING and sent is None) or (sent is not None and sent != fields):
                client.update_meeting(meeting_id, fields)
                sent = fields
            else:
                return
        elif meeting_id:
            client.delete_meeting(meeting_id)
            if event is not None:
                _set_meeting_id(session, event.id, None)
            session.commit()
            log.info("zoom meeting %s deleted (event %s)", meeting_id, event_id)
            if event is None:
                return
        else:
            return


def _wake_registrants(session: Session, event_id: int) -> None:
    """The meeting exists now: the registrants waiting for it go at once, not at their next look."""
    woken = list(session.scalars(
        update(ZoomIntent).where(ZoomIntent.event_id == event_id, ZoomIntent.registration_id.is_not(None),
                                 ZoomIntent.state == IntentState.RETRY)
        .values(next_attempt_at=utcnow()).returning(ZoomIntent.id).execution_options(synchronize_session=False)))
    session.info.setdefault(PENDING_KEY, []).extend(woken)
    session.commit()


def _names(registration: Registration) -> tuple[str, str]:
    user = registration.user
    name = (user.display_name or "").strip() or user.email.split("@")[0]
    first, _, last = name.partition(" ")
    return first, last


def _meeting_not_made(session: Session, event_id: int) -> None:
    """Raise NotYet while the event's meeting is on its way; fail once it can't come."""
    creating = session.execute(
        select(ZoomIntent.state, ZoomIntent.last_error).where(
            ZoomIntent.event_id == event_id, ZoomIntent.kind == IntentKind.CREATE_MEETING)
        .order_by(ZoomIntent.id.desc()).limit(1)).first()
    if creating is None:
        raise ZoomError("this event has no Zoom meeting being made")
    if creating.state == IntentState.FAILED:
        raise ZoomError(f"the event's Zoom meeting could not be made ({creating.last_error})")
    raise NotYet("waiting for the event's Zoom meeting to be made")


def _set_registrant(session: Session, registration_id: int, registrant_id: str | None, join_url: str | None) -> None:
    session.execute(update(Registration).where(Registration.id == registration_id)
                    .values(zoom_registrant_id=registrant_id, zoom_join_url=join_url)
                    .execution_options(synchronize_session=False))


def wants_registrant(registration: Registration, event: Event, now: datetime) -> bool:
    """The rule: a Zoom registrant while confirmed for a scheduled Zoom event that has not ended."""
    return (registration.status == RegistrationStatus.CONFIRMED and event.is_zoom_meeting
            and event.status == EventStatus.SCHEDULED and now < event.ends_at)


def _sync_registrant(session: Session, client: ZoomClient, intent: ZoomIntent, now: datetime) -> None:
    """Make Zoom's registrant match the registration (see `wants_registrant`), re-read after each change."""
    registration_id = intent.registration_id
    for _ in range(4):
        session.commit()
        registration = _fresh(session, Registration, registration_id)
        if registration is None:
            return
        event = _fresh(session, Event, registration.event_id)
        wanted = wants_registrant(registration, event, now)
        if wanted and not registration.zoom_registrant_id:
            if not event.zoom_meeting_id:
                _meeting_not_made(session, event.id)
            first, last = _names(registration)
            registrant = client.add_registrant(event.zoom_meeting_id, email=registration.user.email,
                                               first_name=first, last_name=last)
            _set_registrant(session, registration.id, registrant.id, registrant.join_url)
        elif not wanted and registration.zoom_registrant_id:
            if event.zoom_meeting_id:
                client.cancel_registrant(event.zoom_meeting_id, registrant_id=registration.zoom_registrant_id,
                                         email=registration.user.email)
            _set_registrant(session, registration.id, None, None)
        else:
            return


def _import_attendance(session: Session, client: ZoomClient, intent: ZoomIntent) -> None:
    """The meeting's participant report fills check-in (webapp/zoom/attendance.py)."""
    from webapp.zoom.attendance import import_report

    event_id = intent.event_id
    session.commit()
    event = _fresh(session, Event, event_id)
    if event is None or not event.zoom_meeting_id:
        return
    participants = client.meeting_participants(event.zoom_meeting_id)
    found = import_report(session, event, participants)
    session.commit()
    log.info("zoom attendance of event %s: %d attendees in the report", event_id, found)


# The report is ready a little after the meeting ends; events older than this are not looked at.
REPORT_AFTER = timedelta(minutes=15)
REPORT_WITHIN = timedelta(days=3)


def _record(session: Session, intent_id: int, **values) -> None:
    session.execute(update(ZoomIntent).where(ZoomIntent.id == intent_id).values(claim_token=None, **values)
                    .execution_options(synchronize_session=False))
    session.commit()


def carry_out(session: Session, intent_id: int, *, now: datetime, client: ZoomClient | None = None) -> IntentState:
    """Carry out one intent this worker has claimed, and record how it went."""
    intent = session.get(ZoomIntent, intent_id, populate_existing=True)
    attempts = intent.attempts
    try:
        client = client or ZoomClient()
        if intent.kind in MEETING_KINDS:
            _sync_meeting(session, client, intent)
        elif intent.kind == IntentKind.IMPORT_ATTENDANCE:
            _import_attendance(session, client, intent)
        else:
            _sync_registrant(session, client, intent, now)
    except NotYet as wait:
        session.rollback()
        _record(session, intent_id, state=IntentState.RETRY, attempts=max(attempts - 1, 0), last_error=str(wait),
                next_attempt_at=now + timedelta(seconds=_setting("ZOOM_WAIT_SECONDS", 15)))
        return IntentState.RETRY
    except ZoomError as error:
        session.rollback()
        if error.retryable and attempts < _setting("ZOOM_MAX_ATTEMPTS", 12):
            _record(session, intent_id, state=IntentState.RETRY, last_error=str(error)[:2000],
                    next_attempt_at=now + retry_delay(attempts, error.retry_after))
            return IntentState.RETRY
        log.warning("zoom intent %s failed for good: %s", intent_id, error)
        _record(session, intent_id, state=IntentState.FAILED, last_error=str(error)[:2000])
        return IntentState.FAILED
    except Exception as error:  # unforeseen: retried, and counted, like a Zoom that is down
        session.rollback()
        log.exception("zoom intent %s broke off", intent_id)
        state = IntentState.RETRY if attempts < _setting("ZOOM_MAX_ATTEMPTS", 12) else IntentState.FAILED
        _record(session, intent_id, state=state, last_error=f"{type(error).__name__}: {error}"[:2000],
                next_attempt_at=now + retry_delay(attempts))
        return state
    _record(session, intent_id, state=IntentState.DONE, last_error=None, done_at=utcnow())
    return IntentState.DONE


def run_intent(session: Session, intent_id: int, *, now: datetime | None = None,
               token: str | None = None) -> IntentState | None:
    """Claim one intent and carry it out; None when it was not ours (done, or another worker's)."""
    now = now or utcnow()
    if not is_configured(current_app.config):
        return None  # Zoom was disconnected: the intent waits, queued, until it is connected again
    won = claim(session, [intent_id], now=now, token=token)
    session.commit()  # the claim is visible to other workers before Zoom is called
    if not won:
        return None
    return carry_out(session, intent_id, now=now)


# --- the sweep -------------------------------------------------------------------------------------

def queue_missing_intents(session: Session, *, now: datetime, limit: int = 500) -> int:
    """What no cause queued: a registrant for each confirmed attendee without one (a seat given by a
    path with no hook of its own), a cancellation for each registrant that
    should not be one any more (its event ended, its seat went), and, once a meeting is over, the
    import of its attendance. Keys as the causes' own."""
    queued = 0
    zoom_events = select(Event.id).where(Event.is_zoom_meeting.is_(True))
    missing = session.scalars(
        select(Registration).join(Event, Event.id == Registration.event_id).where(
            Registration.event_id.in_(zoom_events), Registration.status == RegistrationStatus.CONFIRMED,
            Registration.zoom_registrant_id.is_(None), Event.status == EventStatus.SCHEDULED, Event.ends_at > now,
        ).order_by(Registration.id).limit(limit)).all()
    for registration in missing:
        queued += queue_intent(session, IntentKind.ADD_REGISTRANT, dedup_key=_add_key(registration), now=now,
                               event_id=registration.event_id, registration_id=registration.id) is not None
    pending = select(ZoomIntent.registration_id).where(ZoomIntent.state.in_(UNFINISHED),
                                                       ZoomIntent.registration_id.is_not(None))
    stale = session.scalars(
        select(Registration).join(Event, Event.id == Registration.event_id).where(
            Registration.zoom_registrant_id.is_not(None), Registration.id.not_in(pending),
            or_(Registration.status != RegistrationStatus.CONFIRMED, Event.status != EventStatus.SCHEDULED,
                Event.ends_at <= now, Event.is_zoom_meeting.is_(False)),
        ).order_by(Registration.id).limit(limit)).all()
    for registration in stale:
        # Keys that stay the same from sweep to sweep, so one that failed for good is not queued again
        # every minute: the end of the event once per registration and generation, the rest once per status.
        reason = "end" if registration.status == RegistrationStatus.CONFIRMED else f"sweep-{registration.status}"
        queued += queue_intent(
            session, IntentKind.CANCEL_REGISTRANT,
            dedup_key=f"cancel_registrant:{registration.id}:{registration.generation}:{reason}",
            now=now, event_id=registration.event_id, registration_id=registration.id) is not None
    ended = session.scalars(select(Event.id).where(
        Event.is_zoom_meeting.is_(True), Event.zoom_meeting_id.is_not(None), Event.status == EventStatus.SCHEDULED,
        Event.ends_at <= now - REPORT_AFTER, Event.ends_at > now - REPORT_WITHIN,
    ).order_by(Event.id).limit(limit)).all()
    for event_id in ended:  # once per event: its key is unique
        queued += queue_intent(session, IntentKind.IMPORT_ATTENDANCE, dedup_key=f"import_attendance:{event_id}",
                               now=now, event_id=event_id) is not None
    return queued


def sweep(session: Session, *, now: datetime | None = None, token: str | None = None, max_batches: int = 20) -> int:
    """Queue what is missing, then carry out whatever is due, batch by batch; how many were done."""
    now = now or utcnow()
    if not is_configured(current_app.config):
        return 0
    queue_missing_intents(session, now=now)
    session.info.pop(PENDING_KEY, None)  # this sweep carries them out itself, right below
    session.commit()
    done = 0
    for _ in range(max_batches):
        claimed = claim_due(session, now=now, token=token)
        session.commit()
        if not claimed:
            break
        for intent_id in claimed:
            done += carry_out(session, intent_id, now=now) == IntentState.DONE
    return done


# --- the staff page --------------------------------------------------------------------------------

@dataclass
class IntentsOverview:
    counts: dict[str, int]
    unfinished: list[ZoomIntent] = field(default_factory=list)
    failed: list[ZoomIntent] = field(default_factory=list)
    is_configured: bool = False


def intents_overview(session: Session, *, limit: int = 100) -> IntentsOverview:
    counts = {state.value: 0 for state in IntentState}
    for state, count in session.execute(select(ZoomIntent.state, func.count()).group_by(ZoomIntent.state)):
        counts[IntentState(state).value] = count

    def listed(*states):
        return list(session.scalars(select(ZoomIntent).where(ZoomIntent.state.in_(states))
                                    .order_by(ZoomIntent.created_at.desc(), ZoomIntent.id.desc()).limit(limit)))

    return IntentsOverview(counts, listed(*UNFINISHED), listed(IntentState.FAILED), is_configured(current_app.config))


class IntentError(Refusal):
    """A staff action on an intent refused."""


def retry_intent(session: Session, intent_id: int, *, actor, now: datetime) -> ZoomIntent:
    """Staff try a failed intent again: queued afresh, handed to a worker after commit."""
    intent = session.get(ZoomIntent, intent_id, with_for_update=True)
    if intent is None:
        raise IntentError("We couldn’t find that Zoom task.", 404)
    if intent.state != IntentState.FAILED:
        raise IntentError("Only a failed Zoom task can be retried; this one is already on its way or done.")
    queue_again_by_staff(intent, IntentState.QUEUED, actor=actor, now=now)
    session.flush()
    session.info.setdefault(PENDING_KEY, []).append(intent.id)
    return intent


def registrant_pending(session: Session, registration: Registration) -> IntentState | None:
    """The state of this registration's newest unfinished or failed add_registrant intent, if any:
    for the reminder that waits for the Zoom link."""
    return session.scalar(
        select(ZoomIntent.state).where(
            ZoomIntent.registration_id == registration.id, ZoomIntent.kind == IntentKind.ADD_REGISTRANT,
            ZoomIntent.state != IntentState.DONE)
        .order_by(ZoomIntent.id.desc()).limit(1))



def meeting_status(session: Session, event: Event) -> str | None:
    """What the event's organizers read about its Zoom meeting, or None when it has none."""
    if not event.is_zoom_meeting:
        return None
    if event.status == EventStatus.DRAFT:
        return "A Zoom meeting is made when you publish (waiting room on, registration required)."
    if event.status == EventStatus.CANCELLED:
        return "The event was cancelled, so its Zoom meeting is deleted."
    if event.zoom_meeting_id:
        return ("The Zoom meeting is made; each confirmed attendee gets a Zoom link of their own, "
                "which stops working at Zoom when they give up their seat.")
    creating = session.execute(
        select(ZoomIntent.state, ZoomIntent.last_error).where(
            ZoomIntent.event_id == event.id, ZoomIntent.kind == IntentKind.CREATE_MEETING)
        .order_by(ZoomIntent.id.desc()).limit(1)).first()
    if creating is not None and creating.state == IntentState.FAILED:
        return (f"The Zoom meeting couldn’t be made (Zoom said: {creating.last_error}). "
                "The METRO team can try again from its Zoom tasks page.")
    if creating is not None and creating.last_error:
        return f"The Zoom meeting is being made; Zoom isn’t answering yet ({creating.last_error}), so we keep trying."
    return "The Zoom meeting is being made; it takes a moment."
