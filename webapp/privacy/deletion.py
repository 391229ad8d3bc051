"""A member deletes their account: asked by a mailed link (the mailbox proves who asks), then in one
transaction: upcoming registrations cancelled (the next in line promoted, as any cancellation),
organizer places given up where each group keeps another organizer, past attendance kept as
anonymous counts, the profile and every needs text erased, every session ended.

The users row stays, emptied (email `deleted-<id>@deleted.invalid`, no name), so past registrations
still count in attendance figures and foreign keys need no cascade. The address is left only in
the outbox's status rows of mails already sent, as the retention table says (MAIL_BODY_RETENTION_DAYS);
their bodies go at once. Services flush, never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from webapp.accounts.models import SignInRequest, User, UserRole, UserSession
from webapp.events.models import Event, EventStatus
from webapp.feeds.models import PrivateCalendar
from webapp.follows.models import FollowMailChoice, GroupFollow
from webapp.groups.invitations import OrganizerInvitation
from webapp.groups.models import Group, GroupOrganizer
from webapp.outbox.models import MailState, OutboxMail
from webapp.outbox.templated import queue_templated_mail
from webapp.privacy.sweeps import erased_body
from webapp.proposals.models import ProposalCoorganizer
from webapp.registrations import services as registrations
from webapp.registrations.models import Registration, RegistrationStatus
from webapp.series.models import SeriesRegistration
from webapp.series.services import cancel_series_registration
from webapp.slots.models import SlotClaim
from webapp.urls import absolute_url
from webapp.zoom.models import ZoomIntent

DELETED_DOMAIN = "deleted.invalid"  # RFC 2606: never a real mailbox


class DeletionRefused(Exception):
    def __init__(self, message: str, groups: list[Group] | None = None):
        super().__init__(message)
        self.message = message
        self.groups = groups or []


@dataclass(frozen=True)
class Deleted:
    cancelled: int   # upcoming registrations given up (their seats went down the line)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="delete-account")


def link_minutes() -> int:
    return current_app.config["ACCOUNT_DELETION_LINK_MINUTES"]


def groups_left_without_organizer(session: Session, user: User) -> list[Group]:
    """Groups this member organizes where nobody else who can sign in does: they need one first."""
    mine = select(GroupOrganizer.group_id).where(
        or_(GroupOrganizer.user_id == user.id, func.lower(GroupOrganizer.email) == user.email))
    others = select(GroupOrganizer.group_id).where(
        or_(GroupOrganizer.user_id.is_not(None), GroupOrganizer.email.is_not(None)),
        or_(GroupOrganizer.user_id.is_(None), GroupOrganizer.user_id != user.id),
        or_(GroupOrganizer.email.is_(None), func.lower(GroupOrganizer.email) != user.email))
    return list(session.scalars(select(Group).where(Group.id.in_(mine), Group.id.not_in(others)).order_by(Group.name)))


def request_deletion(session: Session, user: User, *, now: datetime) -> OutboxMail | None:
    """Mail the member a link that deletes their account once they press the button it opens."""
    if blocking := groups_left_without_organizer(session, user):
        raise DeletionRefused("First give these groups another organizer:", blocking)
    token = _serializer().dumps({"user": user.id})
    return queue_templated_mail(
        session, "account_deletion", user.email,
        {"name": user.display_name, "link": absolute_url("privacy.confirm_deletion", token=token),
         "minutes": link_minutes()},
        # Each request is its own mail (a second click sends a fresh link); the limit is the throttle's.
        dedup_key=f"account-deletion:{user.id}:{now.timestamp():.6f}", now=now)


def member_for_link(session: Session, token: str) -> User:
    """The account a deletion link names, while the link is young and the account not deleted yet."""
    try:
        data = _serializer().loads(token, max_age=link_minutes() * 60)
    except SignatureExpired:
        raise DeletionRefused("This link has expired. Ask for a new one on your account page.") from None
    except BadSignature:
        raise DeletionRefused("We couldn’t read that link. Please open the newest one we mailed you.") from None
    user = session.get(User, data.get("user")) if isinstance(data, dict) and isinstance(data.get("user"), int) else None
    if user is None or user.deleted_at is not None:
        raise DeletionRefused("This account has already been deleted.")
    return user


def delete_account(session: Session, user: User, *, now: datetime) -> Deleted:
    """Delete `user`'s account as the module says; refused while a group would be left without an
    organizer (checked again here: another organizer may have left since the mail)."""
    if blocking := groups_left_without_organizer(session, user):
        raise DeletionRefused("First give these groups another organizer:", blocking)
    email = user.email
    cancelled = 0
    for series_registration in session.scalars(select(SeriesRegistration).where(
            SeriesRegistration.user_id == user.id, SeriesRegistration.cancelled_at.is_(None))).all():
        cancelled += len(cancel_series_registration(session, series_registration.series_id, member=user,
                                                    now=now).cancelled)
    upcoming = session.scalars(
        select(Registration).join(Event, Event.id == Registration.event_id)
        .where(Registration.user_id == user.id, Registration.status != RegistrationStatus.CANCELLED,
               Event.status == EventStatus.SCHEDULED, Event.starts_at > now).order_by(Registration.id)).all()
    for registration in upcoming:
        # The usual cancel: the seat goes to the head of the line, those promoted are mailed.
        cancelled += int(registrations.cancel(session, registration, now=now, mail=False).changed)
    # Past attendance stays as counts: the rows keep their status and check-in, not what was said.
    session.execute(update(Registration).where(Registration.user_id == user.id, Registration.accessibility_needs != "")
                    .values(accessibility_needs="", accessibility_needs_erased_at=now))
    session.execute(update(SeriesRegistration).where(SeriesRegistration.user_id == user.id)
                    .values(accessibility_needs=""))
    session.execute(delete(SlotClaim).where(SlotClaim.user_id == user.id))
    # Zoom's answers about their registrant (an error may quote the address) go with it.
    session.execute(update(ZoomIntent).where(ZoomIntent.registration_id.in_(
        select(Registration.id).where(Registration.user_id == user.id))).values(last_error=None))
    # Past events' Zoom links die with the event; an upcoming one's registrant id is what the cancel
    # intent just queued needs to cancel it at Zoom, so it stays until that is done.
    session.execute(update(Registration).where(
        Registration.user_id == user.id,
        Registration.event_id.in_(select(Event.id).where(Event.ends_at <= now))).values(zoom_join_url=None))
    for table in (GroupFollow, FollowMailChoice, PrivateCalendar, UserRole, UserSession):
        session.execute(delete(table).where(table.user_id == user.id))
    session.execute(delete(GroupOrganizer).where(
        or_(GroupOrganizer.user_id == user.id, func.lower(GroupOrganizer.email) == email)))
    session.execute(delete(OrganizerInvitation).where(func.lower(OrganizerInvitation.email) == email))
    session.execute(delete(SignInRequest).where(SignInRequest.email == email))
    session.execute(update(ProposalCoorganizer).where(func.lower(ProposalCoorganizer.email) == email)
                    .values(email=""))
    # Mails not sent yet to them are dropped; every mail to them keeps only its status row.
    session.execute(update(OutboxMail).where(OutboxMail.recipient == email,
                                             OutboxMail.state.in_((MailState.QUEUED, MailState.RETRYING)))
                    .values(state=MailState.DROPPED, last_error="account deleted"))
    session.execute(update(OutboxMail).where(OutboxMail.recipient == email, OutboxMail.body_erased_at.is_(None),
                                             OutboxMail.state != MailState.SENDING)
                    .values(**erased_body(now)))
    session.execute(update(OutboxMail).where(OutboxMail.reply_to == email).values(reply_to=None))
    user.email = f"deleted-{user.id}@{DELETED_DOMAIN}"
    user.display_name = user.institution = user.pronouns = None
    user.last_signed_in_at = None
    user.deleted_at = now
    session.flush()
    return Deleted(cancelled=cancelled)
