"""What a group's organizers (and site administrators) may do, and the event operations they use.

Services flush and never commit; the actor and the clock are arguments.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from webapp.accounts.models import Role, User, normalize_email
from webapp.db import db
from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group, GroupOrganizer
from webapp.outbox.models import OutboxMail
from webapp.refusals import Refusal
from webapp.registrations.mails import queue_registration_mail
from webapp.registrations.models import Registration
from webapp.registrations.services import RegistrationError, change_capacity
from webapp.reminders.services import EventChangeError, reschedule_event

SLUG_MAX = 120


class OrganizeError(Refusal):
    """An organizer's change refused, with the form field its message belongs next to."""

    default_status = 422

    def __init__(self, message: str, *, field: str | None = None, status: int | None = None):
        super().__init__(message, status)
        self.field = field


# --- permissions -----------------------------------------------------------------------------------

def is_group_organizer(user, group: Group | None) -> bool:
    """True for the group's own organizers (linked by account or by invited address) and for admins.

    Events METRO hosts itself (no group) are managed by administrators only.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.has_role(Role.ADMIN):
        return True
    if group is None:
        return False
    found = db.session.scalar(
        select(GroupOrganizer.id).where(
            GroupOrganizer.group_id == group.id,
            or_(GroupOrganizer.user_id == user.id, func.lower(GroupOrganizer.email) == normalize_email(user.email)),
        ).limit(1)
    )
    return found is not None


@dataclass
class OrganizerAdded:
    organizer: GroupOrganizer
    user_created: bool
    organizer_created: bool


def add_organizer(session: Session, group: Group, email: str, *, now: datetime) -> OrganizerAdded:
    """Make the account for `email` (if needed) an organizer of `group`; linking an invited row if one exists."""
    email = normalize_email(email)
    user = session.scalar(select(User).where(User.email == email))
    user_created = user is None
    if user is None:
        user = User(email=email, created_at=now)
        session.add(user)
        session.flush()
    organizer = session.scalar(
        select(GroupOrganizer).where(
            GroupOrganizer.group_id == group.id,
            or_(GroupOrganizer.user_id == user.id, func.lower(GroupOrganizer.email) == email),
        )
    )
    if organizer is not None:
        organizer.user_id = user.id
        organizer.email = organizer.email or email
        session.flush()
        return OrganizerAdded(organizer, user_created, False)
    taken = set(session.scalars(select(GroupOrganizer.name).where(GroupOrganizer.group_id == group.id)))
    name = user.display_name or email
    if name in taken:
        name = email  # the name is unique within a group; the address always is
    position = 1 + (session.scalar(
        select(func.max(GroupOrganizer.position)).where(GroupOrganizer.group_id == group.id)) or 0)
    organizer = GroupOrganizer(group_id=group.id, name=name, role="Organizer", position=position,
                               user_id=user.id, email=email)
    session.add(organizer)
    session.flush()
    return OrganizerAdded(organizer, user_created, True)


# --- events ------------------------------------------------------------------------------------------

@dataclass
class EventFields:
    """An event as the organizer's form describes it; times are aware (UTC or any zone)."""

    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    is_online: bool
    meeting_url: str | None = None
    venue_name: str | None = None
    venue_address: str | None = None
    capacity: int | None = None
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:100].strip("-") or "event"


def unique_event_slug(session: Session, title: str) -> str:
    base = slugify(title)
    taken = set(session.scalars(select(Event.slug).where(Event.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _apply_plain_fields(event: Event, fields: EventFields) -> None:
    event.title = fields.title
    event.description = fields.description
    event.is_online = fields.is_online
    # The meeting link belongs to online events, the venue to in-person ones.
    event.meeting_url = fields.meeting_url if fields.is_online else None
    event.venue_name = None if fields.is_online else fields.venue_name
    event.venue_address = None if fields.is_online else fields.venue_address
    event.registration_opens_at = fields.registration_opens_at
    event.registration_closes_at = fields.registration_closes_at


def create_event(session: Session, group: Group | None, fields: EventFields, *, actor, now: datetime) -> Event:
    """A new scheduled event of `group`, with a unique slug made from its title."""
    if fields.starts_at <= now:
        raise OrganizeError("The event must start in the future.", field="starts_at")
    event = Event(
        group_id=group.id if group else None, slug=unique_event_slug(session, fields.title), summary="",
        starts_at=fields.starts_at, ends_at=fields.ends_at, capacity=fields.capacity,
        status=EventStatus.SCHEDULED, created_at=now, updated_at=now,
    )
    _apply_plain_fields(event, fields)
    session.add(event)
    session.flush()
    return event


def _to_minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


@dataclass
class EventUpdated:
    event: Event
    promoted: list[Registration] = field(default_factory=list)
    change_mails: list[OutboxMail] = field(default_factory=list)


def update_event(session: Session, event_id: int, fields: EventFields, *, actor, now: datetime) -> EventUpdated:
    """Save an organizer's edit: a new capacity promotes from the waitlist (and mails those promoted);
    a new time tells every active attendee with an updated .ics. Refusals carry their field."""
    event = session.get(Event, event_id)
    if event is None or event.status != EventStatus.SCHEDULED:
        raise OrganizeError("Only a scheduled event can be edited.", status=409)
    result = EventUpdated(event)
    # The capacity and time services take the event's lock and reload it, so they run before the
    # plain fields are set (a reload would drop unflushed edits).
    if fields.capacity != event.capacity:
        try:
            result.promoted = change_capacity(session, event_id, fields.capacity, now=now)
        except RegistrationError as error:
            raise OrganizeError(error.message, field="capacity", status=error.status) from error
        for registration in result.promoted:
            queue_registration_mail(session, registration, "promoted", now=now)
    # The form shows whole minutes: a time it sends back unchanged keeps the stored seconds.
    starts_at = event.starts_at if fields.starts_at == _to_minute(event.starts_at) else fields.starts_at
    ends_at = event.ends_at if fields.ends_at == _to_minute(event.ends_at) else fields.ends_at
    if (starts_at, ends_at) != (event.starts_at, event.ends_at):
        try:
            result.change_mails = reschedule_event(session, event_id, starts_at, ends_at,
                                                   now=now, actor=actor)
        except EventChangeError as error:
            raise OrganizeError(error.message, field="starts_at", status=error.status) from error
    event = session.get(Event, event_id)
    _apply_plain_fields(event, fields)
    event.updated_at = now
    session.flush()
    result.event = event
    return result
