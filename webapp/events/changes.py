"""Moving and cancelling events, and telling their attendees (issue 12's organizer pages call these).

One mail per active attendee per change, saying what changed, with an updated .ics (same UID,
SEQUENCE raised once). A change mail superseded before it was sent is dropped at send time
(`recheck_event_changed`), and the later mail names its changes too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from webapp.events.models import Event, EventChangeMail, EventStatus
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.services import register_recheck
from webapp.registrations.mails import queue_attendee_mail, record_registration_and_event, reminder_window
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.services import RegistrationError, lock_event
from webapp.reminders.models import Reminder
from webapp.zoom import services as zoom

log = logging.getLogger(__name__)

CHANGED_KIND = "event_changed"
CANCELLED_KIND = "event_cancelled"
ACTIVE = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)


def _in_window(event: Event, now: datetime) -> bool:
    return event.starts_at - reminder_window() <= now < event.ends_at


def recheck_event_changed(session: Session, mail: OutboxMail, now: datetime) -> str | None:
    """A change mail superseded by a later change is not sent: the later one says it all
    (it names this one's changes too, see `_superseded_changes`)."""
    found = record_registration_and_event(session, EventChangeMail, mail)
    if found is None:  # its record goes with the registration (ON DELETE CASCADE)
        return "the registration is gone"
    change, registration, event = found
    if event.sequence != change.event_sequence or event.status != EventStatus.SCHEDULED:
        return "a later change to the event superseded it"
    if registration.status not in ACTIVE:
        return "the registration was cancelled"
    return None


register_recheck(CHANGED_KIND, recheck_event_changed)


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
    # so gets its own. Nothing reads the key back: what the mail told is its EventChangeMail.
    return (f"{CHANGED_KIND}:{registration.id}:{registration.generation}:{sequence}:"
            f"{'+'.join(sorted(changes))}")


def _superseded_changes(session: Session, event_id: int) -> dict[int, set[str]]:
    """What earlier change mails not sent yet said, by registration id (its active registrations
    of this generation only: a member who registered again since was told the event as it is).

    The send-time re-check drops them (the event's sequence moved on), so the new mail names
    their changes as well: time moved, then place changed before the first mail went out, gives
    one mail saying both. (One being sent right now may get through: then the new mail repeats
    its news, which is harmless.)
    """
    found: dict[int, set[str]] = {}
    for registration_id, told in session.execute(
        select(EventChangeMail.registration_id, EventChangeMail.changes)
        .join(OutboxMail, OutboxMail.id == EventChangeMail.outbox_mail_id)
        .join(Registration, (Registration.id == EventChangeMail.registration_id)
              & (Registration.generation == EventChangeMail.registration_generation))
        .where(
            Registration.event_id == event_id,
            Registration.status.in_(ACTIVE),
            OutboxMail.state.in_((MailState.QUEUED, MailState.RETRYING, MailState.SENDING)),
        )
    ):
        found.setdefault(registration_id, set()).update(set(told.split("+")) & set(CHANGE_WORDS))
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
    if TIME in changes:
        zoom.meeting_changed(session, event, now=now)
    registrations = _active_registrations(session, event.id)
    earlier = _superseded_changes(session, event.id)
    mails = []
    for registration in registrations:
        told = changes | earlier.get(registration.id, set())
        with_link = registration.status == RegistrationStatus.CONFIRMED and _in_window(event, now)
        mail = queue_attendee_mail(
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
        session.add(EventChangeMail(
            outbox_mail_id=mail.id, registration_id=registration.id,
            registration_generation=registration.generation, event_sequence=event.sequence,
            changes="+".join(sorted(changes)),
        ))
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
    zoom.meeting_withdrawn(session, event, now=now)
    mails = []
    for registration in _active_registrations(session, event.id):
        mail = queue_attendee_mail(
            session, registration, kind=CANCELLED_KIND,
            dedup_key=f"{CANCELLED_KIND}:{registration.id}:{registration.generation}:{event.sequence}",
            now=now, with_link=False,
        )
        if mail is not None:
            mails.append(mail)
    log.info("event %s cancelled by %s; %d attendees told", event.id, getattr(actor, "email", "system"),
             len(mails))
    return mails
