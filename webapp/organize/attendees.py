"""An event's attendees as its organizers see them: the list and its search, what mail reached each
person, check-in at the door and attendance afterwards, the CSV export, and messages to attendees.

Seats and the waitlist are not decided here: removing someone and giving a seat by hand are
webapp.registrations.services.remove/promote_by_hand, under the event's lock.
Services flush and never commit; the actor and the clock are arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, contains_eager, joinedload

from webapp.accounts.models import User
from webapp.display import format_mail_when
from webapp.events.calendar import event_url
from webapp.events.models import Event, EventStatus
from webapp.groups.services import reply_to_organizers
from webapp.organize.messaging import MessageSent, keep_and_queue, message_sent_before
from webapp.organize.models import EventMessage, MessageAudience
from webapp.organize.services import OrganizeError
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.services import undeliverable_mails
from webapp.outbox.templated import queue_templated_mail
from webapp.registrations.mails import event_mail_links, still_coming_delivered
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.reminders.join_links import join_visits
from webapp.reminders.models import Reminder
from webapp.spreadsheets import csv_text
from webapp.urls import absolute_url

log = logging.getLogger(__name__)

MESSAGE_KIND = "event_message"


# --- the list -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReminderStatus:
    """Where this attendee's reminder (with their join link) is, for the current time of the event."""

    state: str  # "sent", "queued", "failed", "dropped", "in_confirmation", "in_change_notice" or "none"
    at: datetime | None = None

    @property
    def label(self) -> str:
        return {
            "sent": "Sent",
            "queued": "Queued",
            "failed": "Failed",
            "dropped": "Not sent",
            "in_confirmation": "Not needed: the link came with their confirmation",
            "in_change_notice": "Not needed: the link came with the new-time notice",
            "none": "Not yet",
        }[self.state]


NO_REMINDER = ReminderStatus("none")


@dataclass
class AttendeeList:
    confirmed: list[Registration]
    waitlisted: list[Registration]
    cancelled: list[Registration]
    # Everyone's place in the whole line (a search shows some of them, with their real places).
    places: dict[int, int] = field(default_factory=dict)
    reminders: dict[int, ReminderStatus] = field(default_factory=dict)
    joined: set[int] = field(default_factory=set)
    mail_problems: dict[int, list[OutboxMail]] = field(default_factory=dict)
    # Confirmed, asked "Still coming?", and its mail not delivered (queued, retrying, failed):
    # "Not asked: mail not delivered", and their seat is never released over it.
    still_coming_undelivered: set[int] = field(default_factory=set)
    query: str = ""
    # The whole event's numbers, whatever the search shows: confirmed, waitlisted, cancelled, checked_in.
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def shown(self) -> int:
        return len(self.confirmed) + len(self.waitlisted) + len(self.cancelled)

    def reminder(self, registration: Registration) -> ReminderStatus:
        return self.reminders.get(registration.id, NO_REMINDER)

    def still_coming(self, registration: Registration) -> str | None:
        """Registration.still_coming_state, with "not_delivered" for a question that never arrived."""
        state = registration.still_coming_state
        if state == "no_answer" and registration.id in self.still_coming_undelivered:
            return "not_delivered"
        return state

    def rows(self):
        """(status label, place in line or None, registration) in the page's order."""
        for registration in self.confirmed:
            yield "Confirmed", None, registration
        for registration in self.waitlisted:
            yield "Waitlisted", self.places.get(registration.id), registration
        for registration in self.cancelled:
            yield "Cancelled", None, registration


def _matching(query: str):
    """Name, institution or address contains the text (case-insensitive; % and _ mean themselves)."""
    needle = query.lower()
    return or_(*(func.lower(column).contains(needle, autoescape=True)
                 for column in (User.display_name, User.institution, User.email)))


def reminder_statuses(session: Session, event_id: int) -> dict[int, ReminderStatus]:
    """Each registration's reminder for its current activation and the event's current time.

    The `reminders` row says whether one was needed (or the link went in another mail); its
    outbox row says how far the mail got. A moved event starts again at "not yet".
    """
    found = session.execute(
        select(Reminder.registration_id, Reminder.reason, OutboxMail.state, OutboxMail.sent_at)
        .join(Registration, Reminder.registration_id == Registration.id)
        .join(Event, Registration.event_id == Event.id)
        .outerjoin(OutboxMail, Reminder.outbox_mail_id == OutboxMail.id)
        .where(Registration.event_id == event_id, Reminder.generation == Registration.generation,
               Reminder.event_sequence == Event.sequence)
    )
    statuses = {}
    for registration_id, reason, state, sent_at in found:
        if reason == "confirmation":
            statuses[registration_id] = ReminderStatus("in_confirmation")
        elif reason != "reminder":  # "event_changed": the new-time notice carried the link
            statuses[registration_id] = ReminderStatus("in_change_notice")
        elif state == MailState.SENT:
            statuses[registration_id] = ReminderStatus("sent", sent_at)
        elif state in (MailState.FAILED, MailState.DROPPED):
            statuses[registration_id] = ReminderStatus(state.value)
        elif state is not None:
            statuses[registration_id] = ReminderStatus("queued")
    return statuses


def still_coming_undelivered(session: Session, event_id: int) -> set[int]:
    """Confirmed registrations of this event asked "Still coming?" whose mail has not reached them."""
    return set(session.scalars(
        select(Registration.id).where(
            Registration.event_id == event_id,
            Registration.status == RegistrationStatus.CONFIRMED,
            Registration.still_coming_asked_at.is_not(None),
            ~still_coming_delivered(),
        )
    ))


def attendee_list(session: Session, event_id: int, *, query: str = "") -> AttendeeList:
    """Everyone who registered: confirmed first, then the waitlist in order, then those who cancelled.

    With a query, only those whose name, institution or email address contains it.
    """
    statement = (
        select(Registration).join(Registration.user)
        .options(contains_eager(Registration.user), joinedload(Registration.cancelled_by))
        .where(Registration.event_id == event_id)
        .order_by(Registration.queue_number, Registration.created_at, Registration.id)
    )
    if query:
        statement = statement.where(_matching(query))
    registrations = list(session.scalars(statement))
    by_status = {status: [r for r in registrations if r.status == status] for status in RegistrationStatus}
    counts = dict(session.execute(
        select(Registration.status, func.count()).where(Registration.event_id == event_id)
        .group_by(Registration.status)
    ).all())
    totals = {status.value: counts.get(status, 0) for status in RegistrationStatus}
    totals["checked_in"] = session.scalar(
        select(func.count()).where(Registration.event_id == event_id,
                                   Registration.status == RegistrationStatus.CONFIRMED,
                                   Registration.checked_in_at.isnot(None))
    ) or 0
    line = session.scalars(
        select(Registration.id)
        .where(Registration.event_id == event_id, Registration.status == RegistrationStatus.WAITLISTED)
        .order_by(Registration.queue_number)
    )
    return AttendeeList(
        confirmed=by_status[RegistrationStatus.CONFIRMED],
        waitlisted=sorted(by_status[RegistrationStatus.WAITLISTED], key=lambda r: r.queue_number or 0),
        cancelled=by_status[RegistrationStatus.CANCELLED],
        places={registration_id: place for place, registration_id in enumerate(line, start=1)},
        reminders=reminder_statuses(session, event_id),
        joined={visit.registration_id for visit in join_visits(session, event_id) if visit.outcome == "joined"},
        mail_problems=undeliverable_mails(session, event_id),
        still_coming_undelivered=still_coming_undelivered(session, event_id),
        query=query,
        totals=totals,
    )


def event_is_over(event: Event, now: datetime) -> bool:
    """From the end of the event on, check-ins read as attendance (attended / no-show)."""
    return now >= event.ends_at


# --- check-in ---------------------------------------------------------------------------------------

def set_checked_in(session: Session, event_id: int, registration_id: int, *, checked_in: bool,
                   now: datetime) -> Registration:
    """Tick (or untick) a confirmed attendee as here. Asking for the state it is in changes nothing,
    so a double tap keeps the first tap's time. One conditional UPDATE: a removal that commits
    first wins, and the attendee is then refused as no longer confirmed."""
    registration = session.get(Registration, registration_id)
    if registration is None or registration.event_id != event_id:
        raise OrganizeError("We couldn’t find that registration for this event.", status=404)
    if registration.event.status != EventStatus.SCHEDULED:
        raise OrganizeError("This event isn’t scheduled, so nobody can be checked in.", status=409)
    conditions = [Registration.id == registration_id, Registration.status == RegistrationStatus.CONFIRMED]
    conditions.append(Registration.checked_in_at.is_(None) if checked_in else Registration.checked_in_at.isnot(None))
    session.execute(
        update(Registration).where(*conditions).values(checked_in_at=now if checked_in else None)
        .execution_options(synchronize_session=False)
    )
    session.refresh(registration)
    if registration.status != RegistrationStatus.CONFIRMED:
        raise OrganizeError(
            f"{registration.user.display_name or registration.user.email} isn’t confirmed for this event, "
            "so they can’t be checked in.", status=409)
    return registration


# --- CSV ----------------------------------------------------------------------------------------------

CSV_HEADER = [
    "Status", "Place in line", "Name", "Email", "Institution", "Registered at", "Accessibility needs",
    "Reminder", "Joined online", "Checked in at", "Attendance", "Mail problems", "Still coming",
    "Needs erased on", "On Zoom from", "Minutes on Zoom",
]
# What the "Still coming" column says of Registration.still_coming_state (blank: never asked).
STILL_COMING_LABELS = {"yes": "Yes", "freed": "Freed", "released": "Released", "no_answer": "No answer",
                       "not_delivered": "Not asked: mail not delivered", None: ""}


def attendees_csv(attendees: AttendeeList, *, format_time, over: bool, needs_erased_on: datetime) -> str:
    """The attendee list as CSV (quoted by the csv module, safe against formula injection).

    Attendance (attended / no-show) is filled in once the event is `over`, for confirmed attendees.
    Needs given say when the retention sweep erases (or erased) them: a downloaded copy is the
    organizer's to delete by then too.
    """
    return csv_text(CSV_HEADER, _csv_rows(attendees, format_time=format_time, over=over,
                                          needs_erased_on=needs_erased_on))


def _needs_text(registration: Registration) -> str:
    if registration.accessibility_needs_erased_at:
        return "(given; erased)"
    return registration.accessibility_needs or ""


def _csv_rows(attendees: AttendeeList, *, format_time, over: bool, needs_erased_on: datetime):
    for status, place, registration in attendees.rows():
        user = registration.user
        confirmed = registration.status == RegistrationStatus.CONFIRMED
        reminder = attendees.reminder(registration) if confirmed else None
        attendance = ("Attended" if registration.checked_in_at else "No-show") if confirmed and over else ""
        problems = "; ".join(f"{mail.subject}: {mail.last_error or 'undeliverable'}"
                             for mail in attendees.mail_problems.get(registration.id, []))
        yield (
            status, place or "", user.display_name or "", user.email, user.institution or "",
            format_time(registration.created_at), _needs_text(registration),
            (reminder.label + (f" {format_time(reminder.at)}" if reminder.at else "")) if reminder else "",
            "Yes" if registration.id in attendees.joined else "No",
            format_time(registration.checked_in_at) if registration.checked_in_at and confirmed else "",
            attendance, problems, STILL_COMING_LABELS[attendees.still_coming(registration)],
            format_time(registration.accessibility_needs_erased_at or needs_erased_on)
            if registration.accessibility_needs or registration.accessibility_needs_erased_at else "",
            format_time(registration.zoom_joined_at) if registration.zoom_joined_at else "",
            # Rounded up, as the list says it: 30 seconds on Zoom is "1 minute", not none.
            (registration.zoom_seconds + 59) // 60 if registration.zoom_seconds else "",
        )


# --- messages to attendees ----------------------------------------------------------------------------

def event_messages(session: Session, event_id: int) -> list[EventMessage]:
    """What the organizers wrote to this event's attendees, newest first."""
    return list(session.scalars(
        select(EventMessage).options(joinedload(EventMessage.sender))
        .where(EventMessage.event_id == event_id)
        .order_by(EventMessage.created_at.desc(), EventMessage.id.desc())
    ))


def send_message(session: Session, event_id: int, *, sender, audience: MessageAudience, subject: str, body: str,
                 client_key: str, now: datetime) -> MessageSent:
    """Keep the message on the event and queue one mail per recipient plus a copy to the sender,
    all in the caller's transaction. The same form sent twice (its `client_key`) sends once.

    The mails carry the message as plain text and never the meeting link: confirmed attendees
    get their own join link in their reminder. Replies go to the group's organizers.
    """
    if (existing := message_sent_before(session, EventMessage, client_key, event_id=event_id)) is not None:
        return MessageSent(existing, created=False)
    event = session.get(Event, event_id)
    if event.meeting_url and (event.meeting_url in body or event.meeting_url in subject):
        raise OrganizeError(
            "Please take the meeting link out: each confirmed attendee gets their own join link "
            "before the event, and this message may reach people without a seat.", field="body")
    status = RegistrationStatus.CONFIRMED if audience is MessageAudience.CONFIRMED else RegistrationStatus.WAITLISTED
    recipients = list(session.scalars(
        select(Registration).options(joinedload(Registration.user))
        .where(Registration.event_id == event_id, Registration.status == status)
        .order_by(Registration.queue_number, Registration.id)
    ))
    if not recipients:
        raise OrganizeError(f"There are no {audience.label} yet, so there’s nobody to send this to.",
                            field="audience")
    message = EventMessage(event_id=event_id, sender_id=sender.id, audience=audience, subject=subject, body=body,
                           recipient_count=len(recipients), client_key=client_key, created_at=now)
    reply_to = reply_to_organizers(session, event.group_id)

    def mails_for(message: EventMessage):
        for registration in recipients:
            yield _queue_message_mail(session, message, registration.user, registration=registration,
                                      reply_to=reply_to, dedup_key=f"{MESSAGE_KIND}:{registration.id}:{message.id}",
                                      now=now)
        yield _queue_message_mail(session, message, sender, registration=None, reply_to=reply_to,
                                  dedup_key=f"{MESSAGE_KIND}:copy:{message.id}", now=now)

    sent = keep_and_queue(session, message, scope=dict(event_id=event_id), mails_for=mails_for)
    if sent.created:
        log.info("event %s: message %s to %d %s from %s", event_id, message.id, len(recipients), audience.value,
                 sender.email)
    return sent


def _queue_message_mail(session: Session, message: EventMessage, recipient, *, registration: Registration | None,
                        reply_to: str | None, dedup_key: str, now: datetime) -> OutboxMail:
    event = message.event
    if registration is not None:
        context = dict(event_mail_links(registration), copy=False)
    else:  # the sender's copy: no manage link of a registration they may not have
        context = dict(member=recipient, event=event, event_url=event_url(event), copy=True,
                       when=format_mail_when(event.starts_at, event.ends_at),
                       attendees_url=absolute_url("organize.attendees", slug=event.slug))
    context.update(message=message, audience=message.audience.label, group=event.group)
    return queue_templated_mail(
        session,
        kind=MESSAGE_KIND,
        to=recipient.email,
        context=context,
        dedup_key=dedup_key,
        reply_to=reply_to,
        now=now,
        flush=False,
        registration_id=registration.id if registration is not None else None,
        event_id=event.id,
    )
