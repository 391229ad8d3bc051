"""Every call to Zoom is first a row here, written in the transaction that causes it (as mail is)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db import UTCDateTime, db, utcnow


class IntentKind(StrEnum):
    CREATE_MEETING = "create_meeting"
    UPDATE_MEETING = "update_meeting"
    DELETE_MEETING = "delete_meeting"
    ADD_REGISTRANT = "add_registrant"
    CANCEL_REGISTRANT = "cancel_registrant"
    # After the event: Zoom's participant report fills check-in (webapp/zoom/attendance.py).
    IMPORT_ATTENDANCE = "import_attendance"


MEETING_KINDS = (IntentKind.CREATE_MEETING, IntentKind.UPDATE_MEETING, IntentKind.DELETE_MEETING)


class IntentState(StrEnum):
    QUEUED = "queued"
    WORKING = "working"
    RETRY = "retry"
    DONE = "done"
    FAILED = "failed"


def _enum(cls, name: str):
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, create_constraint=True, name=name)


class ZoomIntent(db.Model):
    """One thing Zoom must be told (a meeting made, changed or deleted; a registrant added or
    cancelled), claimed by a worker with a lease and retried with backoff until Zoom took it."""

    __tablename__ = "zoom_intents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IntentKind] = mapped_column(_enum(IntentKind, "zoom_intent_kind"))
    # One intent per cause: a replayed request or a re-run sweep cannot queue a second one.
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    # SET NULL: a deleted draft's meeting must still be deleted at Zoom (its id is kept below).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    registration_id: Mapped[int | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL"), index=True
    )
    # The meeting this intent is about, when it is known at queue time (deleting a discarded draft's).
    zoom_meeting_id: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[IntentState] = mapped_column(_enum(IntentState, "zoom_intent_state"),
                                               default=IntentState.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Zoom's answer (or why not yet), for the staff page.
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(155))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ZoomIntent {self.id} {self.kind} {self.state}>"
