"""The sweeps that erase what is past its keeping time (webapp/privacy/retention.py).

Each is one statement over "due and not yet erased" rows, so a late, repeated or concurrent sweep
erases each thing once and nothing early; the clock is an argument. Services flush, never commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from webapp.accounts.models import SignInRequest, UserSession
from webapp.accounts.services import forget_unused_intent_notes, session_lifetime
from webapp.events.models import Event
from webapp.groups.invitations import OrganizerInvitation
from webapp.outbox.models import MailState, OutboxMail
from webapp.registrations.models import Registration
from webapp.reminders.models import JoinVisit
from webapp.series.models import Series, SeriesRegistration

log = logging.getLogger(__name__)


def kept_for(setting: str) -> timedelta:
    """The keeping time the app is configured with for one row of the retention table."""
    value = current_app.config[setting]
    return timedelta(hours=value) if setting.endswith("_HOURS") else timedelta(days=value)


def needs_erased_on(event: Event) -> datetime:
    """When the retention sweep erases the accessibility needs given for `event`."""
    return event.ends_at + kept_for("ACCESSIBILITY_NEEDS_RETENTION_DAYS")


def erased_body(now: datetime) -> dict:
    """What an outbox row keeps of a mail once its text is erased: nothing of the text, its
    calendar attachment, its headers (an unsubscribe link is a personal token) or the facts it
    would have been rendered from (webapp/outbox/rendering.py), and when."""
    return dict(body_text="", body_html=None, ics=None, headers=None, context=None, body_erased_at=now)


def _count(result) -> int:
    return result.rowcount or 0


def erase_accessibility_needs(session: Session, *, now: datetime) -> int:
    """Needs given for events that ended ACCESSIBILITY_NEEDS_RETENTION_DAYS ago, and a whole-series
    registration's copy once it can serve no session to come. Leaves accessibility_needs_erased_at
    ("needs were given") on registrations."""
    cutoff = now - kept_for("ACCESSIBILITY_NEEDS_RETENTION_DAYS")
    erased = _count(session.execute(
        update(Registration)
        .where(Registration.accessibility_needs != "",
               Registration.event_id.in_(select(Event.id).where(Event.ends_at < cutoff)))
        .values(accessibility_needs="", accessibility_needs_erased_at=now)
        .execution_options(synchronize_session=False)
    ))
    # The series copy registers the member's needs on each session made later. It goes once the
    # series registration was cancelled that long ago, or once every session made so far ended that
    # long ago and none is ahead (a finished series; a rule with gaps longer than the horizon
    # loses the copy between sessions, the side privacy prefers).
    still_useful = exists().where(Event.series_id == SeriesRegistration.series_id, Event.ends_at >= cutoff)
    started_long_ago = exists().where(Series.id == SeriesRegistration.series_id,
                                      Series.first_on < cutoff.date())
    erased += _count(session.execute(
        update(SeriesRegistration)
        .where(SeriesRegistration.accessibility_needs != "",
               or_(SeriesRegistration.cancelled_at < cutoff, and_(started_long_ago, ~still_useful)))
        .values(accessibility_needs="")
        .execution_options(synchronize_session=False)
    ))
    return erased


def erase_sign_in_requests(session: Session, *, now: datetime) -> int:
    cutoff = now - kept_for("SIGN_IN_REQUEST_RETENTION_DAYS")
    return _count(session.execute(
        delete(SignInRequest).where(SignInRequest.created_at < cutoff).execution_options(synchronize_session=False)
    ))


def erase_ended_sessions(session: Session, *, now: datetime) -> int:
    """Sessions signed out, or past their lifetime, ENDED_SESSION_RETENTION_DAYS ago: a browser that
    still holds the cookie is nobody either way (webapp/accounts/services.py)."""
    keep = kept_for("ENDED_SESSION_RETENTION_DAYS")
    return _count(session.execute(
        delete(UserSession)
        .where(or_(UserSession.ended_at < now - keep, UserSession.created_at < now - session_lifetime() - keep))
        .execution_options(synchronize_session=False)
    ))


def erase_join_visits(session: Session, *, now: datetime) -> int:
    cutoff = now - kept_for("JOIN_VISIT_RETENTION_DAYS")
    ended = select(Registration.id).join(Event, Event.id == Registration.event_id).where(Event.ends_at < cutoff)
    return _count(session.execute(
        delete(JoinVisit).where(JoinVisit.registration_id.in_(ended)).execution_options(synchronize_session=False)
    ))


def erase_mail_bodies(session: Session, *, now: datetime) -> int:
    """A mail's subject line stays with its status row; its bodies, calendar attachment and headers
    (an unsubscribe link is a personal token) go. Mails still on their way are never touched."""
    cutoff = now - kept_for("MAIL_BODY_RETENTION_DAYS")
    done = or_(and_(OutboxMail.state == MailState.SENT, OutboxMail.sent_at < cutoff),
               and_(OutboxMail.state.in_((MailState.DROPPED, MailState.FAILED)), OutboxMail.created_at < cutoff))
    return _count(session.execute(
        update(OutboxMail)
        .where(OutboxMail.body_erased_at.is_(None), done)
        .values(**erased_body(now))
        .execution_options(synchronize_session=False)
    ))


def erase_unaccepted_invitations(session: Session, *, now: datetime) -> int:
    """Invitations from a group's Organizers page never accepted: gone a while after they expired or
    were withdrawn. An approved proposal's invitations (proposal_id) belong to its record."""
    cutoff = now - kept_for("INVITATION_RETENTION_DAYS")
    return _count(session.execute(
        delete(OrganizerInvitation)
        .where(OrganizerInvitation.proposal_id.is_(None), OrganizerInvitation.accepted_at.is_(None),
               or_(OrganizerInvitation.expires_at < cutoff, OrganizerInvitation.revoked_at < cutoff))
        .execution_options(synchronize_session=False)
    ))


SWEEPS = {
    "ACCESSIBILITY_NEEDS_RETENTION_DAYS": erase_accessibility_needs,
    "SIGN_IN_NOTE_HOURS": forget_unused_intent_notes,
    "SIGN_IN_REQUEST_RETENTION_DAYS": erase_sign_in_requests,
    "ENDED_SESSION_RETENTION_DAYS": erase_ended_sessions,
    "JOIN_VISIT_RETENTION_DAYS": erase_join_visits,
    "MAIL_BODY_RETENTION_DAYS": erase_mail_bodies,
    "INVITATION_RETENTION_DAYS": erase_unaccepted_invitations,
}


def erase_expired_data(session: Session, *, now: datetime) -> dict[str, int]:
    """Every row of the retention table swept once; returns how much each erased."""
    erased = {setting: sweep(session, now=now) for setting, sweep in SWEEPS.items()}
    if any(erased.values()):
        log.info("retention sweep erased %s", {k: v for k, v in erased.items() if v})
    return erased
