"""The secret address of each member's private calendar feed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db import UTCDateTime, db, utcnow

SECRET_MAX = 64


class PrivateCalendar(db.Model):
    """One row per member who has a private feed: its secret is the whole of its address's protection.

    Kept as the value itself, not a hash, because the account page shows the address again
    whenever the member asks; it is random (256 bits), so it cannot be guessed. Resetting
    replaces it, and the old address finds no row at once.
    """

    __tablename__ = "private_calendars"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(SECRET_MAX), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
