"""Count the SQL statements a block of code sends."""

from contextlib import contextmanager

from sqlalchemy import event as sa_event

from webapp.db import db


@contextmanager
def count_queries():
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
