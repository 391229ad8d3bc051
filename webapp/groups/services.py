"""Finding groups for the directory and their pages; who organizes a group, and the rules for it.

Services flush and never commit; the actor and the clock are arguments. Changes to who organizes a
group happen under the group row's lock (lock_group), so two organizers acting at the same moment
are taken one after the other: the rule "a group always keeps at least one organizer" holds.
Invitations to co-organize are in webapp/groups/invitations.py.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from webapp.accounts.models import Role, User, normalize_email
from webapp.db import db, lock_row
from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group, GroupOrganizer
from webapp.refusals import FormRefusal

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


def get_group_by_slug(session: Session, slug: str, *, with_organizers: bool = True) -> Group | None:
    query = select(Group).where(Group.slug == slug)
    return session.scalar(query.options(selectinload(Group.organizers)) if with_organizers else query)


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


def lock_group(session: Session, group_id: int) -> Group:
    """Take the group's row lock for the rest of the transaction: changes to its organizers queue here."""
    group = lock_row(session, Group, group_id, Group.slug)
    if group is None:
        raise GroupError("We couldn’t find that group.", status=404)
    return group


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
    return organizer_with_address(db.session, group.id, user.email) is not None


def organizer_with_address(session: Session, group_id: int, email: str) -> GroupOrganizer | None:
    """The group's organizer row for this address: invited at it, or linked to the account that has it."""
    email = normalize_email(email)
    account = select(User.id).where(User.email == email).scalar_subquery()
    return session.scalar(
        select(GroupOrganizer).where(
            GroupOrganizer.group_id == group_id,
            or_(func.lower(GroupOrganizer.email) == email, GroupOrganizer.user_id == account),
        ).order_by(GroupOrganizer.position, GroupOrganizer.id).limit(1)
    )


def _organizer_rows_of(user):
    """Organizer rows that are this member's: linked to their account, or invited at their address."""
    return or_(GroupOrganizer.user_id == user.id, func.lower(GroupOrganizer.email) == normalize_email(user.email))


def groups_organized_by(session: Session, user) -> list[Group]:
    """The groups this member organizes themselves, by name ("My groups"; an admin's too, not every group)."""
    return list(session.scalars(
        select(Group).where(Group.id.in_(select(GroupOrganizer.group_id).where(_organizer_rows_of(user))))
        .order_by(Group.name)
    ))


def organizes_a_group(session: Session, user) -> bool:
    """Whether the member organizes any group: the navigation shows "My groups" then.

    The signed-in member's loader reads it with the member (accounts.services.load_user).
    """
    known = getattr(user, "organizes_a_group", None)
    if known is not None:
        return known
    return session.scalar(select(exists().where(_organizer_rows_of(user))))


def organizers_of(session: Session, group_id: int) -> list[GroupOrganizer]:
    """The group's organizers in the page's order, with their accounts (for "signed in yet")."""
    return list(session.scalars(
        select(GroupOrganizer).options(selectinload(GroupOrganizer.user))
        .where(GroupOrganizer.group_id == group_id).order_by(GroupOrganizer.position, GroupOrganizer.id)
    ))


# --- The organizer-name rule -----------------------------------------------------------------------
# A group's page lists each organizer under a name no other organizer of the group has (the table's
# unique constraint on group and name). Names count as the same when they differ only in case,
# Unicode form or spacing, so the page never shows "Ann Lee" and "ann  lee" as two people. A name a
# person typed (inviting from the group's page, a proposal's co-organizers) is refused when taken; a
# name chosen for someone (accepting an invitation, the CLI) gives way to their other name, else gets
# a number; approving a proposal takes a co-organizer under a listed name to be that person, once.


def organizer_name_key(name: str) -> str:
    """What two organizer names are compared by: case, Unicode form and spacing left out."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _taken_name_keys(session: Session, group_id: int) -> set[str]:
    names = session.scalars(select(GroupOrganizer.name).where(GroupOrganizer.group_id == group_id))
    return {organizer_name_key(name) for name in names}


def organizer_name_taken(session: Session, group_id: int, name: str) -> bool:
    """True when an organizer of the group already goes by this name (see the rule above)."""
    return organizer_name_key(name) in _taken_name_keys(session, group_id)


def free_organizer_name(session: Session, group_id: int, wanted: list[str]) -> str:
    """The first of these names nobody in the group has yet, else the first with a number added."""
    taken = _taken_name_keys(session, group_id)
    candidates = [w for w in wanted if w]
    for name in candidates:
        if organizer_name_key(name) not in taken:
            return name
    n = 2
    while organizer_name_key(f"{candidates[0]} ({n})") in taken:
        n += 1
    return f"{candidates[0]} ({n})"


# --- Adding and removing organizers ----------------------------------------------------------------


def append_organizer(session: Session, group: Group, *, names: list[str], role: str, user_id: int | None,
                     email: str | None) -> GroupOrganizer:
    """A new organizer at the end of the group's list, under the first free of `names` (the name rule)."""
    position = 1 + (session.scalar(
        select(func.max(GroupOrganizer.position)).where(GroupOrganizer.group_id == group.id)) or 0)
    organizer = GroupOrganizer(group=group, name=free_organizer_name(session, group.id, names), role=role,
                               position=position, user_id=user_id, email=email)
    session.add(organizer)
    session.flush()
    return organizer


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
    organizer = organizer_with_address(session, group.id, email)
    if organizer is not None:
        organizer.user_id = user.id
        organizer.email = organizer.email or email
        session.flush()
        return OrganizerAdded(organizer, user_created, False)
    # The address is unique to them when their display name is someone else's.
    organizer = append_organizer(session, group, names=[user.display_name or email, email], role="Organizer",
                                 user_id=user.id, email=email)
    return OrganizerAdded(organizer, user_created, True)


def remove_organizer(session: Session, group_id: int, organizer_id: int, *, actor, now: datetime) -> str:
    """Take an organizer off the group (themselves: they leave); returns the name that was removed.

    Never the last one: the count is taken under the group's lock, so two organizers removing each
    other at the same moment leave one. Every organizer row counts, also a seeded one that is a name
    without an account: the group still has someone named who runs it (and admins can always act).
    """
    group = lock_group(session, group_id)
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
    for invitation in list(organizer.invitations):
        invitation.organizer = None
        if invitation.accepted_at is None and invitation.revoked_at is None:
            invitation.revoked_at = now
    name = organizer.name
    session.delete(organizer)
    session.flush()
    return name
