"""Finding groups for the directory and their pages; their organizers running the group's page.

Services flush and never commit; the actor and the clock are arguments. Changes to who organizes a
group happen under the group row's lock (db.lock_row), so two organizers acting at the same moment
are taken one after the other: the rule "a group always keeps at least one organizer" holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from webapp.accounts.models import User, normalize_email
from webapp.db import lock_row
from webapp.display import format_date
from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group, GroupOrganizer
from webapp.outbox.templated import queue_templated_mail
from webapp.proposals.models import OrganizerInvitation
from webapp.refusals import FormRefusal
from webapp.urls import absolute_url

# How long an emailed invitation to co-organize works (the proposal flow's and the group page's).
INVITATION_DAYS = 14
EXPIRED = "This invitation has expired. Please ask the group’s organizer to invite you again."
WITHDRAWN = "This invitation was withdrawn by the group’s organizers. Please ask them if you think that’s a mistake."
LAST_ORGANIZER = (
    "A group always keeps at least one organizer, so the last one can’t be removed or leave. "
    "Invite someone else to co-organize first."
)


# An organizer's change to their group refused, with the form field its message belongs next to.
GroupError = FormRefusal


@dataclass
class GroupListing:
    group: Group
    upcoming_count: int
    next_starts_at: datetime | None


def list_groups(session: Session, *, now: datetime, with_organizers: bool = True) -> list[GroupListing]:
    """Every group with its upcoming-event count and next date, in a fixed number of queries.

    The directory shows organizers; the home page does not, and skips that query.
    """
    upcoming = (
        select(
            Event.group_id,
            func.count(Event.id).label("upcoming_count"),
            func.min(Event.starts_at).label("next_starts_at"),
        )
        .where(Event.status == EventStatus.SCHEDULED, Event.ends_at >= now)
        .group_by(Event.group_id)
        .subquery()
    )
    query = (
        select(Group, upcoming.c.upcoming_count, upcoming.c.next_starts_at)
        .outerjoin(upcoming, upcoming.c.group_id == Group.id)
        .order_by(Group.is_active.desc(), Group.name)
    )
    if with_organizers:
        query = query.options(selectinload(Group.organizers))
    rows = session.execute(query).all()
    return [
        GroupListing(group=g, upcoming_count=count or 0, next_starts_at=nxt)
        for g, count, nxt in rows
    ]


def get_group_by_slug(session: Session, slug: str) -> Group | None:
    return session.scalar(
        select(Group).options(selectinload(Group.organizers)).where(Group.slug == slug)
    )


def group_choices(session: Session) -> list[tuple[str, str]]:
    return [(slug, name) for slug, name in session.execute(select(Group.slug, Group.name).order_by(Group.name))]


def organizer_addresses(session: Session, group_id: int | None) -> list[str]:
    """The organizers' mail addresses we know (their account's, else the one they were invited at).

    Takes the group's id, so callers holding only an event (event.group_id) load no group for it.
    """
    if group_id is None:
        return []
    rows = session.execute(
        select(GroupOrganizer.email, User.email)
        .outerjoin(User, User.id == GroupOrganizer.user_id)
        .where(GroupOrganizer.group_id == group_id)
        .order_by(GroupOrganizer.position)
    ).all()
    addresses: list[str] = []
    for invited, account in rows:
        address = account or invited
        if address and address not in addresses:
            addresses.append(address)
    return addresses


def reply_to_organizers(session: Session, group_id: int | None) -> str | None:
    """A Reply-To header value: replies to event mail reach the people who run the group."""
    return ", ".join(organizer_addresses(session, group_id)) or None


# --- The group's page ------------------------------------------------------------------------------


def update_group_page(session: Session, group_id: int, *, description: str, external_url: str | None,
                      actor, now: datetime) -> Group:
    """Save the description (Markdown) and the link to the group's own site, both already validated."""
    group = session.get(Group, group_id)
    group.description = description
    group.external_url = external_url or None
    session.flush()
    return group


# --- Who organizes the group -----------------------------------------------------------------------


def _lock_group(session: Session, group_id: int) -> Group:
    group = lock_row(session, Group, group_id, Group.slug)
    if group is None:
        raise GroupError("We couldn’t find that group.", status=404)
    return group


def _organizer_with_address(session: Session, group_id: int, email: str) -> GroupOrganizer | None:
    """The group's organizer row for this address: invited at it, or linked to the account that has it."""
    account = select(User.id).where(User.email == email).scalar_subquery()
    return session.scalar(
        select(GroupOrganizer).where(
            GroupOrganizer.group_id == group_id,
            or_(func.lower(GroupOrganizer.email) == email, GroupOrganizer.user_id == account),
        ).limit(1)
    )


def organizers_of(session: Session, group_id: int) -> list[GroupOrganizer]:
    """The group's organizers in the page's order, with their accounts (for "signed in yet")."""
    return list(session.scalars(
        select(GroupOrganizer).options(selectinload(GroupOrganizer.user))
        .where(GroupOrganizer.group_id == group_id).order_by(GroupOrganizer.position, GroupOrganizer.id)
    ))


def open_invitations(session: Session, group_id: int) -> list[OrganizerInvitation]:
    """Invitations sent from the group's page that nobody has accepted or withdrawn (expired ones too)."""
    return list(session.scalars(
        select(OrganizerInvitation).options(selectinload(OrganizerInvitation.invited_by))
        .where(
            OrganizerInvitation.group_id == group_id, OrganizerInvitation.organizer_id.is_(None),
            OrganizerInvitation.accepted_at.is_(None), OrganizerInvitation.revoked_at.is_(None),
        ).order_by(OrganizerInvitation.created_at.desc(), OrganizerInvitation.id.desc())
    ))


def invite_organizer(session: Session, group_id: int, *, name: str, email: str, actor,
                     now: datetime) -> OrganizerInvitation:
    """Invite someone to co-organize: an invitation row and its mail, with a signed link that expires.

    Refused for someone who already organizes the group, a name already on its list, and an address
    with an invitation still waiting (no second mail); an expired one is replaced by the new one.
    """
    group = _lock_group(session, group_id)
    email = normalize_email(email)
    if _organizer_with_address(session, group.id, email) is not None:
        raise GroupError(f"{email} is already an organizer of this group.", field="email", status=409)
    taken = session.scalar(select(GroupOrganizer.id).where(
        GroupOrganizer.group_id == group.id, func.lower(GroupOrganizer.name) == name.lower()).limit(1))
    if taken is not None:
        raise GroupError(f"The group already lists an organizer called {name}. Please tell them apart, "
                         "for example with a middle initial.", field="name", status=409)
    earlier = session.scalars(select(OrganizerInvitation).where(
        OrganizerInvitation.group_id == group.id, OrganizerInvitation.email == email,
        OrganizerInvitation.organizer_id.is_(None), OrganizerInvitation.accepted_at.is_(None),
        OrganizerInvitation.revoked_at.is_(None),
    ))
    for invitation in earlier:
        if invitation.is_pending(now):
            raise GroupError(
                f"{email} was invited on {format_date(invitation.created_at)} and hasn’t answered yet; "
                f"the link works until {format_date(invitation.expires_at)}. To send a new link, "
                "withdraw that invitation below and invite them again.", field="email", status=409)
        invitation.revoked_at = now  # expired: the new invitation takes its place on the list
    invitation = OrganizerInvitation(
        group_id=group.id, email=email, name=name, invited_by_id=actor.id, created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    session.flush()
    _queue_group_invitation_mail(session, invitation, group, actor=actor, now=now)
    return invitation


def withdraw_invitation(session: Session, group_id: int, invitation_id: int, *, actor,
                        now: datetime) -> OrganizerInvitation:
    """Withdraw an invitation sent from the group's page: its link stops working."""
    _lock_group(session, group_id)
    invitation = session.get(OrganizerInvitation, invitation_id, populate_existing=True)
    if invitation is None or invitation.group_id != group_id or invitation.proposal_id is not None:
        raise GroupError("We couldn’t find that invitation.", status=404)
    if invitation.accepted_at is not None:
        raise GroupError(f"{invitation.name} has already accepted and is an organizer now. "
                         "To take them off, remove them from the list of organizers.", status=409)
    if invitation.revoked_at is None:
        invitation.revoked_at = now
        session.flush()
    return invitation


def remove_organizer(session: Session, group_id: int, organizer_id: int, *, actor, now: datetime) -> str:
    """Take an organizer off the group (themselves: they leave); returns the name that was removed.

    Never the last one: the count is taken under the group's lock, so two organizers removing each
    other at the same moment leave one. Every organizer row counts, also a seeded one that is a name
    without an account: the group still has someone named who runs it (and admins can always act).
    """
    from webapp.organize.services import is_group_organizer

    group = _lock_group(session, group_id)
    # Checked again under the lock: someone who was removed a moment ago can no longer remove others.
    if not is_group_organizer(actor, group):
        raise GroupError("Only the group’s organizers can do that, and you’re not one of them any more.",
                         status=403)
    organizer = session.get(GroupOrganizer, organizer_id, populate_existing=True)
    if organizer is None or organizer.group_id != group.id:
        raise GroupError("That person isn’t one of the group’s organizers (any more).", status=404)
    count = session.scalar(select(func.count(GroupOrganizer.id)).where(GroupOrganizer.group_id == group.id))
    if count <= 1:
        raise GroupError(LAST_ORGANIZER, status=409)
    # Their invitation stays as history, unlinked; one not yet accepted stops working.
    for invitation in session.scalars(select(OrganizerInvitation).where(
            OrganizerInvitation.organizer_id == organizer.id)):
        invitation.organizer = None
        if invitation.accepted_at is None and invitation.revoked_at is None:
            invitation.revoked_at = now
    name = organizer.name
    session.delete(organizer)
    session.flush()
    return name


def _free_name(session: Session, group_id: int, wanted: list[str]) -> str:
    """The first of these names nobody in the group has yet, else the first with a number added."""
    taken = {n.lower() for n in session.scalars(select(GroupOrganizer.name).where(GroupOrganizer.group_id == group_id))}
    candidates = [w for w in wanted if w]
    for name in candidates:
        if name.lower() not in taken:
            return name
    n = 2
    while f"{candidates[0]} ({n})".lower() in taken:
        n += 1
    return f"{candidates[0]} ({n})"


def accept_group_invitation(session: Session, invitation_id: int, user, *, now: datetime) -> OrganizerInvitation:
    """Make the invited member an organizer (an invitation from the group's page; their address is checked
    by the caller). Under the group's lock, so a withdrawal at the same moment wins or loses whole."""
    invitation = session.get(OrganizerInvitation, invitation_id)
    group = _lock_group(session, invitation.group_id)
    session.refresh(invitation)
    if invitation.accepted_at is not None:
        return invitation
    if invitation.revoked_at is not None:
        raise GroupError(WITHDRAWN, status=410)
    if invitation.expires_at <= now:
        raise GroupError(EXPIRED, status=410)
    organizer = _organizer_with_address(session, group.id, invitation.email)
    if organizer is None:
        position = 1 + (session.scalar(
            select(func.max(GroupOrganizer.position)).where(GroupOrganizer.group_id == group.id)) or 0)
        organizer = GroupOrganizer(
            group_id=group.id, name=_free_name(session, group.id, [invitation.name, user.display_name or ""]),
            role="Co-organizer", position=position, user_id=user.id, email=invitation.email,
        )
        session.add(organizer)
    else:  # they became an organizer some other way meanwhile (the CLI): link the account, no second row
        organizer.user_id = user.id
    session.flush()
    invitation.organizer = organizer
    invitation.accepted_at = now
    invitation.accepted_by_id = user.id
    session.flush()
    return invitation


# --- Invitation links and mail ---------------------------------------------------------------------


def invitation_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="organizer-invitation")


def invitation_token(invitation: OrganizerInvitation) -> str:
    return invitation_serializer().dumps(invitation.id)


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
