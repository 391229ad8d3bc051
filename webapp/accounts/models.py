"""Members' accounts, their roles, and the one-time sign-in links mailed to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from webapp.db import UTCDateTime, db, utcnow

EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
INSTITUTION_MAX = 200
PRONOUNS_MAX = 50
NEXT_URL_MAX = 500
INTENT_MAX = 100


def normalize_email(value: str) -> str:
    """The one spelling of an address we store and compare: stripped and lowercased."""
    return value.strip().lower()


class Role(StrEnum):
    REVIEWER = "reviewer"
    STAFF = "staff"
    ADMIN = "admin"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email <> ''", name="email_present"),
        CheckConstraint("display_name IS NULL OR display_name <> ''", name="display_name_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    # Empty until the member completes their profile after their first sign-in.
    display_name: Mapped[str | None] = mapped_column(String(DISPLAY_NAME_MAX))
    institution: Mapped[str | None] = mapped_column(String(INSTITUTION_MAX))
    pronouns: Mapped[str | None] = mapped_column(String(PRONOUNS_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the member deleted their account (webapp/privacy/deletion.py): the row stays, emptied,
    # so past attendance still counts.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="UserRole.role"
    )

    # The signed-in session this object was loaded for (set by the user loader or at sign-in);
    # not a column: one member can be signed in on several devices at once.
    session_key = None  # type: str | None
    # Whether they organize a group, when the loader read it with them (else None: ask groups.services).
    organizes_a_group = None  # type: bool | None
    # Rows compare by identity, as without UserMixin (its __eq__ would compare get_id()).
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    @validates("email")
    def _normalize_email(self, key: str, value: str) -> str:
        return normalize_email(value)

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie: member and session.

        A cookie with this id works only while that `user_sessions` row is open, so signing out
        ends it on the server, not only in the browser that signed out.
        """
        if self.session_key is None:
            raise RuntimeError("a User is signed in only through accounts.services.start_session")
        return f"{self.id}:{self.session_key}"

    @property
    def needs_profile(self) -> bool:
        return self.display_name is None

    def has_role(self, role: Role) -> bool:
        return any(granted.role == role for granted in self.roles)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserRole(db.Model):
    __tablename__ = "user_roles"
    # Also the index for "roles of this user": user_id leads it.
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e],
             validate_strings=True, create_constraint=True, name="role"),
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")


class SignInRequest(db.Model):
    """One emailed sign-in link. Only a hash of its secret is kept; it works once, briefly."""

    __tablename__ = "sign_in_requests"
    __table_args__ = (
        CheckConstraint("email <> ''", name="email_present"),
        # Only a local path may be a destination after sign-in: never another site.
        CheckConstraint(
            "next_url IS NULL OR (next_url LIKE '/%' AND next_url NOT LIKE '//%')",
            name="next_url_local",
        ),
        # The sign-in limit's count while Redis is down (webapp/accounts/throttle.py).
        Index("ix_sign_in_requests_email_created_at", "email", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    token_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the secret, hex
    next_url: Mapped[str | None] = mapped_column(String(NEXT_URL_MAX))
    # A pending action the member started while signed out (e.g. "register:42"), kept as given.
    intent: Mapped[str | None] = mapped_column(String(INTENT_MAX))
    # What the member typed with the intent (a registration's accessibility needs): health
    # information, so it lives here and never in a link. Handed to the intent's handler when the
    # link is used, then cleared.
    intent_note: Mapped[str | None] = mapped_column(Text)
    # The name they gave on the form that asked for the link; it becomes the new account's
    # display name before the intent runs, so the first mail greets them by it.
    display_name: Mapped[str | None] = mapped_column(String(DISPLAY_NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @validates("email")
    def _normalize_email(self, key: str, value: str) -> str:
        return normalize_email(value)

    def __repr__(self) -> str:
        return f"<SignInRequest {self.id} {self.email}>"


class UserSession(db.Model):
    """One signed-in browser: open until its member signs out (here or everywhere) or 30 days pass.

    The browser holds a random key (inside Flask's signed session and the remember-me cookie); the
    database keeps only its SHA-256, so a copy of this table signs nobody in.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id_ended_at", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the key, hex
    # The moment of sign-in: the session ends SESSION_MAX_DAYS after it, however often it is used.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<UserSession {self.id} user={self.user_id}>"
