"""Small factories for tests: create_group(), create_event(capacity=1)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from webapp.db import db, utcnow
from webapp.events.models import Event, EventStatus
from webapp.groups.models import Group, GroupOrganizer

_counter = itertools.count(1)


def create_group(**fields) -> Group:
    n = next(_counter)
    organizers = fields.pop("organizers", ["Ada Organizer"])
    group = Group(
        slug=fields.pop("slug", f"group-{n}"),
        name=fields.pop("name", f"Test Group {n}"),
        description=fields.pop("description", "A group for testing."),
        **fields,
    )
    for position, name in enumerate(organizers):
        group.organizers.append(GroupOrganizer(name=name, role="Organizer", position=position))
    db.session.add(group)
    db.session.flush()
    return group


def create_event(group: Group | None = None, **fields) -> Event:
    n = next(_counter)
    starts_at = fields.pop("starts_at", utcnow() + timedelta(days=7))
    event = Event(
        group=group,
        slug=fields.pop("slug", f"event-{n}"),
        title=fields.pop("title", f"Test Event {n}"),
        summary=fields.pop("summary", "A short summary."),
        description=fields.pop("description", "A longer description."),
        starts_at=starts_at,
        ends_at=fields.pop("ends_at", starts_at + timedelta(hours=1)),
        is_online=fields.pop("is_online", True),
        status=fields.pop("status", EventStatus.SCHEDULED),
        meeting_url=fields.pop("meeting_url", "https://zoom.us/j/123456789"),
        **fields,
    )
    db.session.add(event)
    db.session.flush()
    return event


def create_user(**fields):
    """A member with a completed profile: create_user(roles=[Role.STAFF], display_name=None)."""
    from webapp.accounts.models import User, UserRole

    n = next(_counter)
    roles = fields.pop("roles", [])
    user = User(
        email=fields.pop("email", f"member{n}@example.org"),
        display_name=fields.pop("display_name", f"Member {n}"),
        **fields,
    )
    user.roles = [UserRole(role=role) for role in roles]
    db.session.add(user)
    db.session.flush()
    return user


def create_proposal(proposer=None, state=None, **fields):
    """A complete proposal (every field filled, commitments acknowledged, one co-organizer)."""
    from webapp.proposals.guidelines import COMMITMENTS
    from webapp.proposals.models import MeetingFormat, Proposal, ProposalCoorganizer, ProposalState

    n = next(_counter)
    proposer = proposer or create_user()
    coorganizers = fields.pop("coorganizers", [("Grace Co", f"grace{n}@example.org", "Queens Library")])
    state = state or ProposalState.DRAFT
    proposal = Proposal(
        proposer_id=proposer.id,
        client_key=fields.pop("client_key", f"{n:032x}"),
        state=state,
        name=fields.pop("name", f"Metadata Practitioners {n}"),
        topic=fields.pop("topic", "Cataloging and metadata work"),
        description=fields.pop("description", "A group for people who describe collections."),
        need=fields.pop("need", "Catalogers working alone need peers."),
        difference=fields.pop("difference", "No group covers metadata."),
        meeting_format=fields.pop("meeting_format", MeetingFormat.ONLINE),
        cadence=fields.pop("cadence", "Every other month"),
        first_event=fields.pop("first_event", "A round-table on linked data."),
        acknowledged=fields.pop("acknowledged", " ".join(g.anchor for g in COMMITMENTS)),
        submitted_at=fields.pop("submitted_at", utcnow() if state != ProposalState.DRAFT else None),
        **fields,
    )
    proposal.coorganizers = [
        ProposalCoorganizer(position=i, name=name, email=email, institution=institution)
        for i, (name, email, institution) in enumerate(coorganizers)
    ]
    db.session.add(proposal)
    db.session.flush()
    return proposal


def organizer_of(group: Group, **fields):
    """A member account that organizes `group` (linked by account and address)."""
    user = create_user(**fields)
    group.organizers.append(GroupOrganizer(name=user.display_name, user_id=user.id, email=user.email, position=9))
    return user


def create_cast(group: Group, other_group: Group, **organizer_fields) -> dict:
    """The four people every organizer rule is tried with: the `organizer` of `group`
    (org@example.org), the `other_organizer` of `other_group` (other@example.org), a `member` who
    organizes nothing (member@example.org) and an `admin` (admin@example.org)."""
    from webapp.accounts.models import Role

    return dict(
        organizer=organizer_of(group, email="org@example.org", **organizer_fields),
        other_organizer=organizer_of(other_group, email="other@example.org"),
        member=create_user(email="member@example.org"),
        admin=create_user(email="admin@example.org", roles=[Role.ADMIN]),
    )
