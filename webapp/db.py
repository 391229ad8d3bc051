"""The declarative base, the Flask-SQLAlchemy handle, and a UTC datetime column type."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (SQLite has no zones), always hands back an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    return datetime.now(UTC)


def commit_keeping_loaded(session) -> None:
    """Commit, and keep the loaded objects as this transaction wrote them instead of expiring them.

    For a response that shows exactly what was just committed: it renders from memory rather than
    reading every row back in a new transaction. Anything not loaded yet still loads as usual.
    """
    session = session() if callable(session) else session  # the request's Session behind db.session
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def insert_on_conflict(session):
    """The database's own INSERT, which has `on_conflict_do_nothing` (PostgreSQL and SQLite alike)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def lock_row(session, model, row_id: int, column):
    """Take a row's lock for the rest of the transaction and return the row fresh (None if missing).

    A no-op UPDATE of `column` is the lock: a row lock on PostgreSQL, the database write lock on
    SQLite (which has no SELECT ... FOR UPDATE). Refuses autocommit, where the lock would be
    released at once and whatever the caller checks under it would race.
    """
    from sqlalchemy import update

    _refuse_autocommit(session)
    # RETURNING hands back the row as locked, in the same round trip: under a burst every
    # statement while the lock is held delays everyone queued behind it.
    return session.scalars(
        update(model).where(model.id == row_id).values({column: column}).returning(model)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).one_or_none()


def lock_rows(session, model, row_ids: list[int], column) -> list:
    """lock_row for many rows in one statement (those missing left out, in no particular order).

    The rows are locked in whatever order the database visits them: only for a caller that holds
    a lock ordering it against every other caller taking more than one of these rows (a series'
    sessions: under the series' lock).
    """
    from sqlalchemy import update

    _refuse_autocommit(session)
    if not row_ids:
        return []
    return list(session.scalars(
        update(model).where(model.id.in_(row_ids)).values({column: column}).returning(model)
        .execution_options(synchronize_session=False, populate_existing=True)
    ))


def _refuse_autocommit(session) -> None:
    connection = session.connection()
    level = connection.get_execution_options().get("isolation_level") or (
        connection.engine.get_execution_options().get("isolation_level")
    )
    if level == "AUTOCOMMIT":
        raise RuntimeError("a row lock must be taken inside a transaction, not in autocommit")
