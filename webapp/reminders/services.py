"""Reminders, join links, and telling attendees when an event moves or is cancelled.

The sweep asks "which confirmed registrations of scheduled events start within the window and
have had no reminder for this version of the event?", never "which start between 23 and 24 hours
from now", so a scheduler that was down for an hour misses nobody, and running it twice (or two
schedulers at once) queues nothing twice: the `reminders` row and the outbox dedup key are both
unique. Every reminder is re-checked right before it is sent (see `recheck_reminder`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, joinedload

from webapp.db import insert_on_conflict
from webapp.events.calendar import event_ics
from webapp.events.models import Event, EventStatus
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.services import PENDING_KEY, register_recheck
from webapp.outbox.templated import queue_templated_mail
from webapp.registrations.mails import event_mail_links, reminder_window
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.services import RegistrationError, lock_event
from webapp.registrations.tokens import join_url, manage_token, read_join_token  # noqa: F401 (join_url re-exported)
from webapp.reminders.models import JoinVisit, Reminder

log = logging.getLogger(__name__)

REMINDER_KIND = "reminder"
CHANGED_KIND = "event_changed"
CANCELLED_KIND = "event_cancelled"
ACTIVE = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)


# --- personal join links -------------------------------------------------------------------

@dataclass
class JoinAttempt:
    outcome: str  # "joined", or why not
    registration: Registration | None
    meeting_url: str | None = None


JOIN_REFUSALS = {
    "unknown": "This join link isn’t valid.",
    "not_confirmed": "This join link no longer works: the registration it belongs to was cancelled or "
                     "isn’t confirmed.",
    "event_cancelled": "This event was cancelled.",
    "too_early": "The meeting link opens the day before the event. Please come back then.",
    "ended": "This event has ended.",
    "no_link": "The organizers haven’t added a meeting link yet. Please check the event page.",
}


def use_join_link(session: Session, token: str, *, now: datetime) -> JoinAttempt:
    """Let the link's owner through to the meeting if they may join now; record every use."""
    ids = read_join_token(token)
    registration = session.get(Registration, ids[0]) if ids else None
    if registration is None:
        return JoinAttempt("unknown", None)
    event = registration.event
    if registration.status != RegistrationStatus.CONFIRMED or registration.generation != ids[1]:
        outcome = "not_confirmed"
    elif event.status != EventStatus.SCHEDULED:
        outcome = "event_cancelled"
    elif now < event.starts_at - reminder_window():
        outcome = "too_early"
    elif now >= event.ends_at:
        outcome = "ended"
    elif not event.meeting_url:
        outcome = "no_link"
    else:
        outcome = "joined"
    session.add(JoinVisit(registration_id=registration.id, used_at=now, outcome=outcome))
    session.flush()
    return JoinAttempt(outcome, registration, event.meeting_url if outcome == "joined" else None)


def join_visits(session: Session, event_id: int) -> list[JoinVisit]:
    """Who used their join link for this event, and when (for the organizers' pages)."""
    return list(
        session.scalars(
            select(JoinVisit).join(JoinVisit.registration)
            .where(Registration.event_id == event_id)
            .order_by(JoinVisit.used_at)
        )
    )


def undeliverable_mails(session: Session, event_id: int) -> dict[int, list[OutboxMail]]:
    """Failed mails of this event's attendees, by registration id, with the server's answer in
    `last_error`: for the organizers' attendee list (issue 12) to show next to each person.

    Every mail about a registration has a dedup key "<kind>:<registration id>:...", and failed
    mails are few, so they are matched in Python rather than with one LIKE per attendee.
    """
    registration_ids = set(session.scalars(select(Registration.id).where(Registration.event_id == event_id)))
    found: dict[int, list[OutboxMail]] = {}
    for mail in session.scalars(
        select(OutboxMail).where(OutboxMail.state == MailState.FAILED).order_by(OutboxMail.id)
    ):
        kind, _, rest = mail.dedup_key.partition(":")
        # "event_message": the organizers' messages (webapp.organize.attendees), one per attendee.
        if kind not in ("registration", REMINDER_KIND, CHANGED_KIND, CANCELLED_KIND, "event_message"):
            continue
        registration_id = rest.split(":", 1)[0]
        if registration_id.isdigit() and int(registration_id) in registration_ids:
            found.setdefault(int(registration_id), []).append(mail)
    return found


# --- mails -----------------------------------------------------------------------------------

def _in_window(event: Event, now: datetime) -> bool:
    return event.starts_at - reminder_window() <= now < event.ends_at


def _reply_to(event: Event) -> str | None:
    from webapp.db import db
    from webapp.groups.services import reply_to_organizers

    return reply_to_organizers(db.session, event.group_id)


def _mail_context(registration: Registration, *, now: datetime, with_link: bool) -> dict:
    event = registration.event
    link = join_url(registration) if with_link and event.meeting_url else None
    return dict(event_mail_links(registration), registration=registration, join_url=link)


def _queue(session: Session, registration: Registration, *, kind: str, dedup_key: str,
           now: datetime, with_link: bool, with_ics: bool = True, flush: bool = True,
           extra: dict | None = None) -> OutboxMail | None:
    context = {**_mail_context(registration, now=now, with_link=with_link), **(extra or {})}
    event = registration.event
    return queue_templated_mail(
        session,
        kind=kind,
        to=registration.user.email,
        context=context,
        dedup_key=dedup_key,
        # The personal link, not the meeting's: a forwarded calendar entry admits nobody.
        ics=event_ics(event, meeting_url=context["join_url"], sequence=event.sequence) if with_ics else None,
        reply_to=_reply_to(event),
        now=now,
        flush=flush,
    )


# --- the reminder sweep ----------------------------------------------------------------------

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
    for registration, row in zip(registrations, rows, strict=True):
        if registration.id not in won or row["reason"] != "reminder":
            continue
        event = registration.event
        mail = _queue(
            session, registration, kind=REMINDER_KIND,
            dedup_key=f"reminder:{registration.id}:{registration.generation}:{event.sequence}",
            now=now, with_link=True, flush=False,
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


def queue_due_reminders(session: Session, *, now: datetime, limit: int = 1000) -> list[OutboxMail]:
    """The scheduler's sweep: queue up to `limit` due reminders. The caller commits, and calls
    again while this returns any (a chunk per transaction keeps memory flat for big events)."""
    queued = queue_reminders(session, due_reminders(session, now=now, limit=limit), now=now)
    if queued:
        log.info("queued %d reminders", len(queued))
    return queued


def recheck_reminder(session: Session, mail: OutboxMail, now: datetime) -> str | None:
    """Right before sending: still confirmed, event still scheduled at that time? Else say why not."""
    # One query for all three, fresh from the database: this runs once per mail in a batch.
    found = session.execute(
        select(Reminder, Registration, Event)
        .join(Registration, Reminder.registration_id == Registration.id)
        .join(Event, Registration.event_id == Event.id)
        .where(Reminder.outbox_mail_id == mail.id)
        .execution_options(populate_existing=True)
    ).first()
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
    return None


def recheck_event_changed(session: Session, mail: OutboxMail, now: datetime) -> str | None:
    """A change mail superseded by a later change is not sent: the later one says it all
    (it names this one's changes too, see `_superseded_changes`)."""
    _, registration_id, _, sequence = mail.dedup_key.split(":")[:4]
    registration = session.get(Registration, int(registration_id), populate_existing=True)
    if registration is None:
        return "the registration is gone"
    event = session.get(Event, registration.event_id, populate_existing=True)
    if event.sequence != int(sequence) or event.status != EventStatus.SCHEDULED:
        return "a later change to the event superseded it"
    if registration.status not in ACTIVE:
        return "the registration was cancelled"
    return None


register_recheck(REMINDER_KIND, recheck_reminder)
register_recheck(CHANGED_KIND, recheck_event_changed)


# --- moving and cancelling events (issue 12's organizer pages call these) --------------------

class EventChangeError(RegistrationError):
    """An expected refusal when moving or cancelling an event, with a message for a person."""


def _active_registrations(session: Session, event_id: int) -> list[Registration]:
    return list(
        session.scalars(
            select(Registration).options(joinedload(Registration.user))
            .where(Registration.event_id == event_id, Registration.status.in_(ACTIVE))
            .order_by(Registration.id)
        )
    )


TIME, PLACE, LINK = "time", "place", "link"
CHANGE_WORDS = {TIME: "time", PLACE: "place", LINK: "meeting link"}  # in the order a mail names them


@dataclass(frozen=True)
class EventPlace:
    """Where an event happens, as far as attendees are told about it."""

    is_online: bool
    meeting_url: str | None = None
    venue_name: str | None = None
    venue_address: str | None = None
    venue_accessibility: str | None = None

    @classmethod
    def of(cls, event: Event) -> EventPlace:
        return cls(event.is_online, event.meeting_url, event.venue_name, event.venue_address,
                   event.venue_accessibility).normalized()

    def normalized(self) -> EventPlace:
        """The meeting link belongs to online events, the venue to in-person ones; blank is None."""
        if self.is_online:
            return EventPlace(True, self.meeting_url or None)
        return EventPlace(False, None, self.venue_name or None, self.venue_address or None,
                          self.venue_accessibility or None)

    def apply_to(self, event: Event) -> None:
        event.is_online, event.meeting_url = self.is_online, self.meeting_url
        event.venue_name, event.venue_address = self.venue_name, self.venue_address
        event.venue_accessibility = self.venue_accessibility


def place_changes(before: EventPlace, after: EventPlace) -> set[str]:
    """PLACE for a new venue, new access notes or a switch between online and in person; LINK for
    a new meeting link of an online event (a switch of format is a new place, not a new link)."""
    before, after = before.normalized(), after.normalized()
    if before == after:
        return set()
    if before.is_online and after.is_online:
        return {LINK}
    return {PLACE}


def change_words(changes: set[str]) -> list[str]:
    return [word for change, word in CHANGE_WORDS.items() if change in changes]


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def change_subject(changes: set[str]) -> str:
    """'New time: {title}', 'New time and place: {title}', 'New meeting link: {title}'."""
    return f"New {_listed(change_words(changes))}: {{title}}"


def _change_key(registration: Registration, sequence: int, changes: set[str]) -> str:
    # One mail per registration, registration generation and version of the event: a retried
    # task or a double submit cannot queue a second one; the next edit raises the sequence and
    # so gets its own. The changes ride along for a later mail that supersedes this one unsent.
    return (f"{CHANGED_KIND}:{registration.id}:{registration.generation}:{sequence}:"
            f"{'+'.join(sorted(changes))}")


def _superseded_changes(session: Session, registrations: list[Registration]) -> dict[int, set[str]]:
    """What earlier change mails not sent yet said, by registration id.

    The send-time re-check drops them (the event's sequence moved on), so the new mail names
    their changes as well: time moved, then place changed before the first mail went out, gives
    one mail saying both. (One being sent right now may get through: then the new mail repeats
    its news, which is harmless.) Keys from before the changes rode along were about the time.
    """
    current = {(r.id, r.generation) for r in registrations}
    found: dict[int, set[str]] = {}
    for key in session.scalars(
        select(OutboxMail.dedup_key).where(
            OutboxMail.kind == CHANGED_KIND,
            OutboxMail.state.in_((MailState.QUEUED, MailState.RETRYING, MailState.SENDING)),
        )
    ):
        parts = key.split(":")
        if len(parts) < 4 or not (parts[1].isdigit() and parts[2].isdigit()):
            continue
        if (int(parts[1]), int(parts[2])) not in current:
            continue
        told = set(parts[4].split("+")) if len(parts) > 4 else {TIME}
        found.setdefault(int(parts[1]), set()).update(told & set(CHANGE_WORDS))
    return found


def change_event(session: Session, event_id: int, *, starts_at: datetime | None = None,
                 ends_at: datetime | None = None, place: EventPlace | None = None,
                 now: datetime, actor=None) -> list[OutboxMail]:
    """Move an event and/or change where it happens: one mail per active attendee per change,
    saying what changed, with an updated .ics (same UID, SEQUENCE raised once).

    Confirmed attendees inside the reminder window get their personal join link in that mail
    (never the waitlisted: they have no seat) and no separate reminder for this version; the
    others are reminded before the (new) time by the sweep. Nothing to tell: nothing changes.
    """
    moving = starts_at is not None or ends_at is not None
    if moving:
        if starts_at is None or ends_at is None or starts_at.tzinfo is None or ends_at.tzinfo is None:
            raise EventChangeError("Times must carry a time zone.", 422)
        if ends_at <= starts_at:
            raise EventChangeError("The event must end after it starts.", 422)
    event = lock_event(session, event_id)
    if event.status != EventStatus.SCHEDULED:
        raise EventChangeError("Only a scheduled event can be moved." if moving
                               else "Only a scheduled event can be changed.")
    changes = set()
    if moving and (event.starts_at, event.ends_at) != (starts_at, ends_at):
        if starts_at <= now:
            raise EventChangeError("An event can only be moved to a time in the future.", 422)
        changes.add(TIME)
    if place is not None:
        place = place.normalized()
        new_place = place_changes(EventPlace.of(event), place)
        if new_place and TIME not in changes and event.ends_at <= now:
            raise EventChangeError("This event is over; where it took place can’t be changed.", 422)
        changes |= new_place
    if not changes:
        return []
    if TIME in changes:
        event.starts_at, event.ends_at = starts_at, ends_at
    if place is not None:
        place.apply_to(event)
    event.sequence += 1
    event.updated_at = now
    session.flush()
    registrations = _active_registrations(session, event.id)
    earlier = _superseded_changes(session, registrations)
    mails = []
    for registration in registrations:
        told = changes | earlier.get(registration.id, set())
        with_link = registration.status == RegistrationStatus.CONFIRMED and _in_window(event, now)
        mail = _queue(
            session, registration, kind=CHANGED_KIND,
            dedup_key=_change_key(registration, event.sequence, changes),
            now=now, with_link=with_link,
            extra=dict(changes=told, changed=_listed([f"the {word}" for word in change_words(told)]),
                       in_window=_in_window(event, now),
                       subject_line=change_subject(told).format(title=event.title)),
        )
        if mail is None:
            continue
        mails.append(mail)
        if with_link:
            # This mail has everything a reminder would (and the link, if there is one yet).
            session.add(Reminder(
                registration_id=registration.id, generation=registration.generation,
                event_sequence=event.sequence, starts_at=event.starts_at, reason=CHANGED_KIND,
                outbox_mail_id=mail.id, created_at=now,
            ))
    session.flush()
    log.info("event %s changed (%s) by %s; %d attendees told", event.id, ", ".join(sorted(changes)),
             getattr(actor, "email", "system"), len(mails))
    return mails


def reschedule_event(session: Session, event_id: int, starts_at: datetime, ends_at: datetime, *,
                     now: datetime, actor=None) -> list[OutboxMail]:
    """Move an event; every active attendee gets an updated .ics (same UID, SEQUENCE raised)."""
    return change_event(session, event_id, starts_at=starts_at, ends_at=ends_at, now=now, actor=actor)


def cancel_event(session: Session, event_id: int, *, now: datetime, actor=None) -> list[OutboxMail]:
    """Cancel an event; every active attendee is told, with a cancelling .ics. No reminder follows."""
    event = lock_event(session, event_id)
    if event.status == EventStatus.CANCELLED:
        return []
    if event.status == EventStatus.DRAFT:
        # Cancelled events are listed publicly; a draft nobody saw is deleted instead.
        raise EventChangeError("This event is a draft: delete it instead of cancelling it.")
    if event.ends_at <= now:
        raise EventChangeError("This event is over; it can’t be cancelled.")
    event.status = EventStatus.CANCELLED
    event.sequence += 1
    event.updated_at = now
    session.flush()
    mails = []
    for registration in _active_registrations(session, event.id):
        mail = _queue(
            session, registration, kind=CANCELLED_KIND,
            dedup_key=f"{CANCELLED_KIND}:{registration.id}:{registration.generation}:{event.sequence}",
            now=now, with_link=False,
        )
        if mail is not None:
            mails.append(mail)
    log.info("event %s cancelled by %s; %d attendees told", event.id, getattr(actor, "email", "system"),
             len(mails))
    return mails
