"""Proposals for new Meetup groups, their co-organizers and their audit trail."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.accounts.models import EMAIL_MAX, User
from webapp.db import UTCDateTime, db, utcnow

NAME_MAX = 120
TOPIC_MAX = 200
LONG_TEXT_MAX = 5000
CADENCE_MAX = 200
PERSON_NAME_MAX = 100
INSTITUTION_MAX = 200
MESSAGE_MAX = 5000
MAX_COORGANIZERS = 8


class ProposalState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    RESUBMITTED = "resubmitted"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    ProposalState.DRAFT: "Draft",
    ProposalState.SUBMITTED: "Submitted",
    ProposalState.CHANGES_REQUESTED: "Changes requested",
    ProposalState.RESUBMITTED: "Resubmitted",
    ProposalState.APPROVED: "Approved",
    ProposalState.DECLINED: "Declined",
    ProposalState.WITHDRAWN: "Withdrawn",
}
# Waiting for a reviewer: the queue's default view.
AWAITING_REVIEW = (ProposalState.SUBMITTED, ProposalState.RESUBMITTED)
# Still alive: shown as similar when someone proposes a new group.
OPEN_STATES = (ProposalState.SUBMITTED, ProposalState.CHANGES_REQUESTED, ProposalState.RESUBMITTED)
FINAL_STATES = (ProposalState.APPROVED, ProposalState.DECLINED, ProposalState.WITHDRAWN)


class ProposalAction(StrEnum):
    SUBMIT = "submit"
    COMMENT = "comment"
    REQUEST_CHANGES = "request_changes"
    RESUBMIT = "resubmit"
    APPROVE = "approve"
    DECLINE = "decline"
    WITHDRAW = "withdraw"


class MeetingFormat(StrEnum):
    ONLINE = "online"
    IN_PERSON = "in_person"
    HYBRID = "hybrid"


FORMAT_LABELS = {
    MeetingFormat.ONLINE: "Online",
    MeetingFormat.IN_PERSON: "In person",
    MeetingFormat.HYBRID: "Hybrid (in person and online)",
}


def _enum(enum_cls, name: str) -> Enum:
    return Enum(enum_cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, create_constraint=True, name=name)


class Proposal(db.Model):
    __tablename__ = "proposals"
    __table_args__ = (
        # A double-clicked or replayed "new proposal" form finds the draft it made the first time.
        UniqueConstraint("proposer_id", "client_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    proposer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_key: Mapped[str] = mapped_column(String(40))
    state: Mapped[ProposalState] = mapped_column(_enum(ProposalState, "proposal_state"), index=True,
                                                 default=ProposalState.DRAFT)
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    topic: Mapped[str] = mapped_column(String(TOPIC_MAX), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    need: Mapped[str] = mapped_column(Text, default="")
    difference: Mapped[str] = mapped_column(Text, default="")
    meeting_format: Mapped[MeetingFormat | None] = mapped_column(_enum(MeetingFormat, "meeting_format"))
    cadence: Mapped[str] = mapped_column(String(CADENCE_MAX), default="")
    first_event: Mapped[str] = mapped_column(Text, default="")
    # Anchors of the guidelines the proposer acknowledged, space separated.
    acknowledged: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The last submission or resubmission: the queue is oldest first by it.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))

    proposer: Mapped[User] = relationship()
    coorganizers: Mapped[list[ProposalCoorganizer]] = relationship(
        back_populates="proposal", order_by="ProposalCoorganizer.position", cascade="all, delete-orphan"
    )
    transitions: Mapped[list[ProposalTransition]] = relationship(
        back_populates="proposal", order_by="ProposalTransition.id", cascade="all, delete-orphan"
    )
    group = relationship("Group")

    @property
    def acknowledged_anchors(self) -> list[str]:
        return self.acknowledged.split()

    @property
    def title(self) -> str:
        return self.name or "Untitled proposal"

    def __repr__(self) -> str:
        return f"<Proposal {self.id} {self.state}>"


class ProposalCoorganizer(db.Model):
    __tablename__ = "proposal_coorganizers"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(PERSON_NAME_MAX), default="")
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), default="")
    institution: Mapped[str] = mapped_column(String(INSTITUTION_MAX), default="")

    proposal: Mapped[Proposal] = relationship(back_populates="coorganizers")


class ProposalTransition(db.Model):
    """One step of a proposal's life: who did what, when, and what they said."""

    __tablename__ = "proposal_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[ProposalAction] = mapped_column(_enum(ProposalAction, "proposal_action"))
    from_state: Mapped[ProposalState] = mapped_column(_enum(ProposalState, "proposal_from_state"))
    to_state: Mapped[ProposalState] = mapped_column(_enum(ProposalState, "proposal_to_state"))
    message: Mapped[str] = mapped_column(Text, default="")
    # Anchors of the guidelines a reviewer pointed at, space separated.
    guidelines: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    proposal: Mapped[Proposal] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship()

    @property
    def guideline_anchors(self) -> list[str]:
        return self.guidelines.split()
