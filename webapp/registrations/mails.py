"""The mails a registration sends, written to the outbox in the same transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from webapp.display import format_mail_when
from webapp.events.calendar import event_ics, event_url, google_calendar_url
from webapp.events.models import Event
from webapp.groups.services import reply_to_organizers
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.rendering import register_calendar_builder
from webapp.outbox.services import NOT_PRELOADED, preloaded
from webapp.outbox.templated import queue_templated_mail
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.registrations.tokens import join_url, manage_token
from webapp.slots.agenda import agenda
from webapp.urls import absolute_url


def reminder_window() -> timedelta:
    return timedelta(hours=current_app.config["REMINDER_WINDOW_HOURS"])


def still_coming_deadline(event: Event) -> datetime:
    """From when its confirmed attendees are asked "Still coming?" (when it has a waitlist)."""
    return event.starts_at - timedelta(hours=current_app.config["STILL_COMING_HOURS"])


def release_deadline(event: Event) -> datetime:
    """From when unanswered seats go to the waitlist, where the organizers turned that on."""
    return event.starts_at - timedelta(hours=current_app.config["RELEASE_UNCONFIRMED_HOURS"])


STILL_COMING_KIND = "still_coming"


def still_coming_answer_cutoff(event: Event) -> datetime:
    """The latest a "Still coming?" mail may have been delivered for its unanswered seat to be
    released: STILL_COMING_NOTICE_HOURS before the release deadline, so everyone released had
    that long to read the question and answer it."""
    return release_deadline(event) - timedelta(hours=current_app.config["STILL_COMING_NOTICE_HOURS"])


def still_coming_delivered(*, by: datetime | None = None) -> ColumnElement[bool]:
    """SQL, for a query on Registration: its "Still coming?" mail reached the member (the outbox
    row is `sent`, not merely queued, retrying or failed) while they held this seat, and by `by`.

    The outbox row is found by its kind and `registration_id` (its dedup key has no generation, so
    `sent_at >= confirmed_at` keeps a question sent before a cancellation and a new seat from counting).
    """
    condition = exists().where(
        OutboxMail.registration_id == Registration.id,
        OutboxMail.kind == STILL_COMING_KIND,
        OutboxMail.state == MailState.SENT,
        OutboxMail.sent_at >= Registration.confirmed_at,
    )
    return condition.where(OutboxMail.sent_at <= by) if by is not None else condition


def may_see_meeting_link(registration: Registration | None, *, now: datetime) -> bool:
    """Only confirmed attendees, and only from the reminder window on, until the event ends."""
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        return False
    event = registration.event
    return event.has_meeting_link and event.starts_at - reminder_window() <= now < event.ends_at


def event_mail_links(registration: Registration) -> dict:
    """What every mail about a registration shows: the member, the time, and their links."""
    event = registration.event
    return dict(
        member=registration.user,
        event=event,
        when=format_mail_when(event.starts_at, event.ends_at),
        event_url=event_url(event),
        manage_url=absolute_url("registrations.manage", token=manage_token(registration)),
        # Every member mail ends with it (mail/_macros: my_events): the one page with all their events.
        my_events_url=absolute_url("registrations.my_events"),
        calendar_url=absolute_url("events.calendar_file", slug=event.slug),
        google_url=google_calendar_url(event),
    )


def member_facts(member) -> dict:
    """What the attendee mails read of their member, as plain values (webapp/outbox/rendering.py)."""
    return dict(display_name=member.display_name)


def event_facts(event: Event) -> dict:
    """What the attendee mails read of their event (and `full_place` of it), as plain values."""
    return dict(title=event.title, is_online=event.is_online, venue_name=event.venue_name,
                venue_address=event.venue_address, venue_accessibility=event.venue_accessibility,
                capacity=event.capacity)


def attendee_mail_facts(context: dict) -> dict:
    """An attendee mail's context with its model objects replaced by the facts its templates read,
    taken now: the worker renders it later from these (the state at commit), never from the rows."""
    facts = dict(context)
    if "member" in facts:
        facts["member"] = member_facts(facts["member"])
    if "event" in facts:
        facts["event"] = event_facts(facts["event"])
    if "registration" in facts:
        facts["registration"] = dict(status=str(facts["registration"].status))
    return facts


def calendar_facts(session: Session, event: Event, *, meeting_url: str | None,
                   agenda_items: list | None = None) -> dict:
    """What the mail's calendar file (`event_ics`) reads, captured now: the worker writes the file
    from these (the icalendar package is most of a mail's cost), as it would have been written now."""
    return dict(
        event=dict(id=event.id, slug=event.slug, title=event.title, summary=event.summary,
                   starts_at=event.starts_at, ends_at=event.ends_at, updated_at=event.updated_at,
                   is_online=event.is_online, venue_name=event.venue_name, venue_address=event.venue_address,
                   venue_accessibility=event.venue_accessibility, status=str(event.status)),
        meeting_url=meeting_url,
        # The event's current SEQUENCE (agenda changes included), so this file replaces any earlier one.
        sequence=event.calendar_sequence,
        agenda=agenda(session, event) if agenda_items is None else list(agenda_items),
    )


def write_calendar(facts) -> str:
    """The calendar file of a mail rendered in the worker, from its `calendar_facts`."""
    return event_ics(facts.event, meeting_url=facts.meeting_url, sequence=facts.sequence,
                     agenda_items=facts.agenda)


register_calendar_builder(write_calendar)


def queue_registration_mail(session, registration: Registration, kind: str, *, now: datetime,
                            position: int | None = None) -> None:
    event = registration.event
    member = registration.user
    # The personal join link, never the raw meeting URL: it dies when the member cancels.
    meeting_url = join_url(registration) if may_see_meeting_link(registration, now=now) else None
    context = dict(
        event_mail_links(registration),
        kind=kind,
        meeting_url=meeting_url,
        position=position,
        in_reminder_window=event.starts_at - reminder_window() <= now,
    )
    queue_templated_mail(
        session,
        kind=f"registration_{kind}",
        to=member.email,
        # Rendered by the worker from the facts of now: not in the request, under the event's lock.
        context=attendee_mail_facts(context),
        render_later=True,
        dedup_key=f"registration:{registration.id}:{registration.generation}:{kind}",
        calendar_facts=calendar_facts(session, event, meeting_url=meeting_url)
        if kind in ("confirmed", "promoted") else None,
        reply_to=reply_to_organizers(session, event.group_id),
        now=now,
        registration_id=registration.id,
        event_id=event.id,
    )


def attendee_mail_context(registration: Registration, *, with_link: bool) -> dict:
    """What `queue_attendee_mail` renders with (before its `extra`): also for a mail written again
    right before it goes (a reminder that carries the attendee's Zoom link, webapp/reminders)."""
    event = registration.event
    link = join_url(registration) if with_link and event.has_meeting_link else None
    return dict(event_mail_links(registration), registration=registration, join_url=link)


def _mail_context(registration: Registration, *, now: datetime, with_link: bool) -> dict:
    return attendee_mail_context(registration, with_link=with_link)


def queue_attendee_mail(session: Session, registration: Registration, *, kind: str, dedup_key: str,
                        now: datetime, with_link: bool, with_ics: bool = True,
                        flush: bool = True, extra: dict | None = None,
                        render_later: bool = False) -> OutboxMail | None:
    """A mail to a registration's member about its event (reminders, changes, cancellations):
    the event's links, the personal join link if `with_link` and the event has a meeting, and the .ics.
    `render_later`: the worker renders it from the facts of now (`attendee_mail_facts`)."""
    context = {**_mail_context(registration, now=now, with_link=with_link), **(extra or {})}
    event = registration.event
    # The personal link, not the meeting's: a forwarded calendar entry admits nobody.
    if render_later:
        fields = dict(context=attendee_mail_facts(context), render_later=True, calendar_facts=calendar_facts(
            session, event, meeting_url=context["join_url"], agenda_items=context.get("agenda")) if with_ics else None)
    else:
        fields = dict(context=context, ics=event_ics(event, meeting_url=context["join_url"],
                                                     sequence=event.calendar_sequence,
                                                     agenda_items=context.get("agenda")) if with_ics else None)
    return queue_templated_mail(
        session,
        kind=kind,
        to=registration.user.email,
        dedup_key=dedup_key,
        **fields,
        reply_to=reply_to_organizers(session, event.group_id),
        now=now,
        flush=flush,
        registration_id=registration.id,
        event_id=event.id,
    )



def record_registration_and_event(session: Session, record_model, mail: OutboxMail):
    """The (record, registration, event) behind an attendee mail, fresh from the database, for a
    recheck right before sending; `record_model` (Reminder, EventChangeMail) names the mail by
    `outbox_mail_id` and its registration by `registration_id`. None when the record is gone.
    One query for all three, or none when the batch's preload (`preload_records`) fetched them."""
    found = preloaded(session, mail)
    if found is not NOT_PRELOADED:
        return found
    return session.execute(
        select(record_model, Registration, Event)
        .join(Registration, record_model.registration_id == Registration.id)
        .join(Event, Registration.event_id == Event.id)
        .where(record_model.outbox_mail_id == mail.id)
        .execution_options(populate_existing=True)
    ).first()


def preload_records(record_model):
    """A `register_recheck` preload for re-checks that call `record_registration_and_event`: the
    (record, registration, event) of every mail of a batch in one query; None for a mail whose
    record is gone."""
    def preload(session: Session, mails: list[OutboxMail]) -> dict[int, object]:
        rows = session.execute(
            select(record_model, Registration, Event)
            .join(Registration, record_model.registration_id == Registration.id)
            .join(Event, Registration.event_id == Event.id)
            .where(record_model.outbox_mail_id.in_([mail.id for mail in mails]))
            .execution_options(populate_existing=True)
        ).all()
        found = {row[0].outbox_mail_id: row for row in rows}
        return {mail.id: found.get(mail.id) for mail in mails}
    return preload


def queue_seat_released_mail(session: Session, registration: Registration, *, position: int | None,
                             now: datetime) -> OutboxMail | None:
    """Tell a member their unanswered seat went to the waitlist and that they wait first in line.
    Once per registration, whatever happens after (the key has no generation)."""
    return queue_attendee_mail(
        session, registration, kind="seat_released", dedup_key=f"seat_released:{registration.id}",
        now=now, with_link=False, with_ics=False, extra=dict(position=position),
    )
