"""Reminders: the sweep that queues them and the re-check right before one is sent.

The sweep asks "which confirmed registrations of scheduled events start within the window and
have had no reminder for this version of the event?", never "which start between 23 and 24 hours
from now", so a scheduler that was down for an hour misses nobody, and running it twice (or two
schedulers at once) queues nothing twice: the `reminders` row and the outbox dedup key are both
unique. Every reminder is re-checked right before it is sent (see `recheck_reminder`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, joinedload

from webapp.db import insert_on_conflict
from webapp.display import format_start_from_now
from webapp.events.models import Event, EventStatus
from webapp.outbox.models import OutboxMail
from webapp.outbox.services import PENDING_KEY, SendLater, register_recheck
from webapp.outbox.templated import render_mail
from webapp.registrations.mails import (
    attendee_mail_context,
    preload_records,
    queue_attendee_mail,
    record_registration_and_event,
    reminder_window,
)
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.reminders.models import Reminder
from webapp.slots.agenda import agenda
from webapp.zoom.models import IntentState
from webapp.zoom.services import registrant_pending

log = logging.getLogger(__name__)

REMINDER_KIND = "reminder"


def due_reminders(session: Session, *, now: datetime, limit: int = 1000) -> list[Registration]:
    """Confirmed registrations of scheduled events starting within the window, not yet reminded."""
    window = reminder_window()
    candidates = session.scalars(
        select(Registration)
        .join(Registration.event)
        .options(joinedload(Registration.event), joinedload(Registration.user))
        .where(
            Registration.status == RegistrationStatus.CONFIRMED,
            Event.status == EventStatus.SCHEDULED,
            Event.starts_at > now,
            Event.starts_at <= now + window,
            ~exists().where(
                Reminder.registration_id == Registration.id,
                Reminder.generation == Registration.generation,
                Reminder.event_sequence == Event.sequence,
            ),
        )
        .order_by(Event.starts_at, Registration.id)
        .limit(limit)
    )
    return list(candidates)


def _confirmed_inside_window(registration: Registration) -> bool:
    # Registered or promoted inside the window: that confirmation mail carried the link already.
    confirmed_at = registration.confirmed_at
    return bool(confirmed_at) and confirmed_at >= registration.event.starts_at - reminder_window()


def _insert_ignoring_duplicates(session: Session, rows: list[dict]) -> dict[int, int]:
    """INSERT the reminder rows, skipping any another sweep wrote first: {registration id: row id}.

    ON CONFLICT DO NOTHING (PostgreSQL and SQLite alike) instead of a savepoint per row: a second
    scheduler's sweep waits for the first one's rows and then skips them, without an error and
    in one statement for the whole chunk.
    """
    statement = (
        insert_on_conflict(session)(Reminder).values(rows)
        .on_conflict_do_nothing(index_elements=["registration_id", "generation", "event_sequence"])
        .returning(Reminder.registration_id, Reminder.id)
    )
    return dict(session.execute(statement).all())


def queue_reminders(session: Session, registrations: list[Registration], *, now: datetime) -> list[OutboxMail]:
    """The one reminder each for these registrations and this version of their events.

    Skipped: those another sweep reminded first, and those whose confirmation mail carried the
    link (confirmed inside the window), which get a `confirmation` row so no sweep looks again.
    """
    if not registrations:
        return []
    rows = [
        dict(registration_id=r.id, generation=r.generation, event_sequence=r.event.sequence,
             starts_at=r.event.starts_at, reason="confirmation" if _confirmed_inside_window(r) else "reminder",
             created_at=now)
        for r in registrations
    ]
    won = _insert_ignoring_duplicates(session, rows)
    mails, links = [], []
    agendas: dict[int, list] = {}  # one query per event of the chunk, not per reminder
    for registration, row in zip(registrations, rows, strict=True):
        if registration.id not in won or row["reason"] != "reminder":
            continue
        event = registration.event
        if event.id not in agendas:
            agendas[event.id] = agenda(session, event)
        mail = queue_attendee_mail(
            session, registration, kind=REMINDER_KIND,
            dedup_key=f"reminder:{registration.id}:{registration.generation}:{event.sequence}",
            now=now, with_link=True, flush=False, render_later=True,
            # Its subject names the day and time ("Tomorrow 6:00 PM EST: …"), counted from now.
            extra=dict(starts_from_now=format_start_from_now(event.starts_at, now=now), agenda=agendas[event.id]),
        )
        mails.append(mail)
        links.append(won[registration.id])
    session.flush()  # all the chunk's mails in a few INSERTs
    session.info.setdefault(PENDING_KEY, []).extend(mail.id for mail in mails)
    if mails:
        session.execute(update(Reminder), [
            {"id": reminder_id, "outbox_mail_id": mail.id} for reminder_id, mail in zip(links, mails, strict=True)
        ])
    return mails


def queue_reminder(session: Session, registration: Registration, *, now: datetime) -> OutboxMail | None:
    """One registration's reminder; None if it exists already or is not needed."""
    mails = queue_reminders(session, [registration], now=now)
    return mails[0] if mails else None


# Reminders per transaction in the sweep: each commit hands its rows to the workers, which send them
# while the next chunk is written. The first chunk is small, so sending starts at once (two
# workers' batches); the later ones are big, so the sweep's own round trips stay few.
FIRST_CHUNK = 100
CHUNK = 500


def sweep_chunk_sizes(*, chunks: int = 100):
    """The `limit` of each of the sweep's transactions, in turn (bounded: 100 chunks is far beyond any day)."""
    yield FIRST_CHUNK
    for _ in range(chunks - 1):
        yield CHUNK


def queue_due_reminders(session: Session, *, now: datetime, limit: int = 1000) -> list[OutboxMail]:
    """The scheduler's sweep: queue up to `limit` due reminders. The caller commits, and calls
    again while this returns any (a chunk per transaction keeps memory flat for big events)."""
    queued = queue_reminders(session, due_reminders(session, now=now, limit=limit), now=now)
    if queued:
        log.info("queued %d reminders", len(queued))
    return queued


def recheck_reminder(session: Session, mail: OutboxMail, now: datetime) -> str | None:
    """Right before sending: still confirmed, event still scheduled at that time? Else say why not."""
    found = record_registration_and_event(session, Reminder, mail)
    if found is None:
        return "its reminder record is gone"
    reminder, registration, event = found
    if registration.status != RegistrationStatus.CONFIRMED or registration.generation != reminder.generation:
        return "the registration is no longer confirmed"
    if event.status != EventStatus.SCHEDULED:
        return "the event was cancelled"
    if event.sequence != reminder.event_sequence or event.starts_at != reminder.starts_at:
        # The sweep writes a new reminder for the new time (or the change mail carried the link).
        return "the event moved; the reminder follows the new time"
    if now >= event.ends_at:
        return "the event is over"
    if event.is_zoom_meeting:
        with_zoom_link(session, mail, registration, now)
    return None


def with_zoom_link(session: Session, mail: OutboxMail, registration: Registration, now: datetime) -> None:
    """A reminder for a Zoom meeting the site made carries the attendee's own Zoom link, written in
    right before it goes. While Zoom has not registered them yet it waits (SendLater), at most
    ZOOM_REMINDER_WAITS times; then it goes with the /join/ link, which forwards once the Zoom link
    is there, and a note saying so."""
    zoom_url = registration.zoom_join_url
    if not zoom_url:
        waiting = registrant_pending(session, registration) in (IntentState.QUEUED, IntentState.RETRY,
                                                                 IntentState.WORKING)
        if waiting and mail.attempts <= current_app.config["ZOOM_REMINDER_WAITS"]:
            raise SendLater("the attendee’s Zoom link is not ready yet",
                            timedelta(seconds=current_app.config["ZOOM_REMINDER_WAIT_SECONDS"]))
    event = registration.event
    context = attendee_mail_context(registration, with_link=True)
    context.update(starts_from_now=format_start_from_now(event.starts_at, now=now), agenda=agenda(session, event),
                   zoom_url=zoom_url, zoom_link_pending=not zoom_url)
    rendered = render_mail(REMINDER_KIND, context)
    mail.subject, mail.body_text, mail.body_html = rendered.subject, rendered.text, rendered.html


register_recheck(REMINDER_KIND, recheck_reminder, preload=preload_records(Reminder))
