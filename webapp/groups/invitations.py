"""Invitations to co-organize a group: the table, the signed link, who may use it, and accepting it.

Two kinds share the one table, link and acceptance: an approved proposal's co-organizers without an
account (their organizer row exists from the approval on, `organizer_id` names it, `proposal_id` the
proposal), and people a group's organizers invite from its Organizers page (no proposal, and no
organizer row until they accept: a pending invitee is not an organizer yet). Services flush and
never commit; refusals are GroupError with the status the invitation page answers with.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import CheckConstraint, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, selectinload, validates

from webapp.accounts.models import EMAIL_MAX, User, normalize_email
from webapp.db import UTCDateTime, db, utcnow
from webapp.display import format_date
from webapp.groups.models import ORGANIZER_NAME_MAX, Group, GroupOrganizer
from webapp.groups.services import (
    GroupError,
    append_organizer,
    lock_group,
    organizer_name_taken,
    organizer_with_address,
    reply_to_organizers,
)
from webapp.outbox.templated import queue_templated_mail
from webapp.urls import absolute_url

# How long an emailed invitation to co-organize works (the proposal flow's and the group page's).
INVITATION_DAYS = 14
EXPIRED = "This invitation has expired. Please ask the group’s organizer to invite you again."
WITHDRAWN = "This invitation was withdrawn by the group’s organizers. Please ask them if you think that’s a mistake."
NOT_FOUND = "We couldn’t find that invitation."


class OrganizerInvitation(db.Model):
    """An emailed invitation to co-organize a group; accepted by signing in with its address."""

    __tablename__ = "organizer_invitations"
    __table_args__ = (CheckConstraint("email <> ''", name="email_present"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("group_organizers.id", ondelete="CASCADE"))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), index=True)
    # The name the group page will list them under (given by whoever invited them).
    name: Mapped[str] = mapped_column(String(ORGANIZER_NAME_MAX), default="")
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Withdrawn by an organizer (or superseded by a new invitation): the link no longer works.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group = relationship("Group")
    organizer = relationship("GroupOrganizer", back_populates="invitations")
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    def is_pending(self, now: datetime) -> bool:
        """Neither accepted nor withdrawn, and not expired."""
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now

    @validates("email")
    def _normalize_email(self, key: str, value: str) -> str:
        return normalize_email(value)


def _new_invitation(session: Session, group_id: int, *, email: str, name: str, now: datetime,
                    **links) -> OrganizerInvitation:
    """An invitation row that works for INVITATION_DAYS from `now`."""
    invitation = OrganizerInvitation(group_id=group_id, email=email, name=name, created_at=now,
                                     expires_at=now + timedelta(days=INVITATION_DAYS), **links)
    session.add(invitation)
    session.flush()
    return invitation


# --- The link ----------------------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="organizer-invitation")


def invitation_token(invitation: OrganizerInvitation) -> str:
    return _serializer().dumps(invitation.id)


def refuse_if_closed(invitation: OrganizerInvitation, now: datetime) -> None:
    """Until it is accepted, an invitation works only while neither withdrawn nor expired (else 410).

    An accepted one stays readable: its page tells the invitee they organize the group now.
    """
    if invitation.accepted_at is not None or invitation.is_pending(now):
        return
    raise GroupError(WITHDRAWN if invitation.revoked_at is not None else EXPIRED, status=410)


def load_invitation(session: Session, token: str, *, now: datetime) -> OrganizerInvitation:
    """The invitation a link stands for, or GroupError (forged: 404; expired or withdrawn: 410)."""
    try:
        invitation_id = _serializer().loads(token, max_age=INVITATION_DAYS * 86400)
    except SignatureExpired as exc:
        raise GroupError(EXPIRED, status=410) from exc
    except BadSignature as exc:
        raise GroupError(NOT_FOUND, status=404) from exc
    invitation = session.get(OrganizerInvitation, invitation_id) if isinstance(invitation_id, int) else None
    if invitation is None:
        raise GroupError(NOT_FOUND, status=404)
    refuse_if_closed(invitation, now)
    return invitation


# --- Accepting ---------------------------------------------------------------------------------------


def accept_invitation(session: Session, invitation: OrganizerInvitation, user, *, now: datetime) -> None:
    """Make the signed-in member the organizer the invitation names; only with the invited address.

    Under the group's lock, so a withdrawal at the same moment wins or loses whole. An approved
    proposal's invitee has their organizer row already; someone invited from the group's page gets
    one now, named by the name rule, unless they became an organizer some other way meanwhile (the
    CLI): then that row is linked to their account, and there is no second one.
    """
    if normalize_email(user.email) != invitation.email:
        raise GroupError(
            f"This invitation was sent to {invitation.email}. Please sign in with that address to accept it.",
            status=403,
        )
    if invitation.accepted_at is not None:
        return  # pressed twice
    group = lock_group(session, invitation.group_id)
    session.refresh(invitation)
    if invitation.accepted_at is not None:
        return
    refuse_if_closed(invitation, now)
    organizer = invitation.organizer or organizer_with_address(session, group.id, invitation.email)
    if organizer is None:
        organizer = append_organizer(session, group, names=[invitation.name, user.display_name or ""],
                                     role="Co-organizer", user_id=user.id, email=invitation.email)
    organizer.user_id = user.id
    invitation.organizer = organizer
    invitation.accepted_at = now
    invitation.accepted_by_id = user.id
    session.flush()


def accept_invitation_after_sign_in(user, argument: str, *, now, note: str | None = None) -> None:
    """The sign-in intent "invitation:<id>": accept it if it was sent to the address just used."""
    invitation = db.session.get(OrganizerInvitation, int(argument)) if argument.isdigit() else None
    if invitation is None:
        return
    try:
        with db.session.begin_nested():
            accept_invitation(db.session, invitation, user, now=now)
    except GroupError:
        pass  # the invitation page explains why when they land on it


# --- Invitations from the group's page ---------------------------------------------------------------


def _unanswered_from_group_page(group_id: int):
    """Invitations sent from the group's page that nobody has accepted or withdrawn (expired ones too)."""
    return select(OrganizerInvitation).where(
        OrganizerInvitation.group_id == group_id, OrganizerInvitation.organizer_id.is_(None),
        OrganizerInvitation.accepted_at.is_(None), OrganizerInvitation.revoked_at.is_(None),
    )


def open_invitations(session: Session, group_id: int) -> list[OrganizerInvitation]:
    """The group page's unanswered invitations, newest first, with who sent each."""
    return list(session.scalars(
        _unanswered_from_group_page(group_id).options(selectinload(OrganizerInvitation.invited_by))
        .order_by(OrganizerInvitation.created_at.desc(), OrganizerInvitation.id.desc())
    ))


def invite_organizer(session: Session, group_id: int, *, name: str, email: str, actor,
                     now: datetime) -> OrganizerInvitation:
    """Invite someone to co-organize: an invitation row and its mail, with a signed link that expires.

    Refused for someone who already organizes the group, a name already on its list, and an address
    with an invitation still waiting (no second mail); an expired one is replaced by the new one.
    """
    group = lock_group(session, group_id)
    email = normalize_email(email)
    if organizer_with_address(session, group.id, email) is not None:
        raise GroupError(f"{email} is already an organizer of this group.", field="email", status=409)
    if organizer_name_taken(session, group.id, name):
        raise GroupError(f"The group already lists an organizer called {name}. Please tell them apart, "
                         "for example with a middle initial.", field="name", status=409)
    earlier = session.scalars(_unanswered_from_group_page(group.id).where(OrganizerInvitation.email == email))
    for invitation in earlier:
        if invitation.is_pending(now):
            raise GroupError(
                f"{email} was invited on {format_date(invitation.created_at)} and hasn’t answered yet; "
                f"the link works until {format_date(invitation.expires_at)}. To send a new link, "
                "withdraw that invitation below and invite them again.", field="email", status=409)
        invitation.revoked_at = now  # expired: the new invitation takes its place on the list
    invitation = _new_invitation(session, group.id, email=email, name=name, now=now, invited_by_id=actor.id)
    _queue_group_invitation_mail(session, invitation, group, actor=actor, now=now)
    return invitation


def withdraw_invitation(session: Session, group_id: int, invitation_id: int, *, actor,
                        now: datetime) -> OrganizerInvitation:
    """Withdraw an invitation sent from the group's page: its link stops working."""
    lock_group(session, group_id)
    invitation = session.get(OrganizerInvitation, invitation_id, populate_existing=True)
    if invitation is None or invitation.group_id != group_id or invitation.proposal_id is not None:
        raise GroupError(NOT_FOUND, status=404)
    if invitation.accepted_at is not None:
        raise GroupError(f"{invitation.name} has already accepted and is an organizer now. "
                         "To take them off, remove them from the list of organizers.", status=409)
    if invitation.revoked_at is None:
        invitation.revoked_at = now
        session.flush()
    return invitation


# --- Invitations from an approved proposal -----------------------------------------------------------


def invite_coorganizer(session: Session, organizer: GroupOrganizer, *, proposal, now: datetime) -> OrganizerInvitation:
    """Invite an approved proposal's co-organizer who has no account yet: their organizer row exists,
    and signing in through the mailed link with its address links their account to it."""
    invitation = _new_invitation(session, organizer.group_id, email=organizer.email, name=organizer.name, now=now,
                                 organizer_id=organizer.id, proposal_id=proposal.id)
    _queue_invitation_mail(session, invitation, proposal, organizer.name, now=now)
    return invitation


# --- Mail ----------------------------------------------------------------------------------------------


def _queue_group_invitation_mail(session: Session, invitation: OrganizerInvitation, group: Group, *, actor,
                                 now: datetime) -> None:
    context = dict(
        name=invitation.name, group=group, inviter=actor.display_name or actor.email,
        url=absolute_url("proposals.invitation", token=invitation_token(invitation)),
        group_url=absolute_url("groups.detail", slug=group.slug), days=INVITATION_DAYS,
    )
    queue_templated_mail(
        session, kind="group_invitation", to=invitation.email, context=context,
        dedup_key=f"organizer-invitation:{invitation.id}",
        reply_to=reply_to_organizers(session, group.id), now=now,
    )


def _queue_invitation_mail(session, invitation: OrganizerInvitation, proposal, name: str, *, now) -> None:
    context = dict(
        name=name, proposal=proposal, group=invitation.group, proposer=proposal.proposer,
        url=absolute_url("proposals.invitation", token=invitation_token(invitation)),
        days=INVITATION_DAYS,
    )
    queue_templated_mail(
        session, kind="proposal_invitation", to=invitation.email, context=context,
        dedup_key=f"organizer-invitation:{invitation.id}", now=now,
    )
