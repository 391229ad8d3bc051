"""The migrations build exactly the schema the models describe, on PostgreSQL and on SQLite."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from webapp.db import db


def test_one_head(app):
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_next_queue_number_starts_after_the_highest_number_handed_out(tmp_path):
    """e10queue: existing lines go on where they left off (on a fresh SQLite file of its own)."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path / 'migrate.sqlite3'}", tmp_path)
    day = "2030-01-01 00:00:00"
    with app.app_context():
        upgrade(revision="d01merge")
        with db.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO events (id, slug, title, summary, description, starts_at, ends_at, is_online,"
                     " status, confirmed_count, waitlist_count, created_at, updated_at, sequence)"
                     " VALUES (:id, :slug, :slug, '', '', :day, '2030-01-02', 1, 'scheduled', 0, 0, :day, :day, 0)"),
                [{"id": 1, "slug": "lined", "day": day}, {"id": 2, "slug": "empty", "day": day}],
            )
            connection.execute(text("INSERT INTO users (id, email, created_at) VALUES (:id, :email, :day)"),
                               [{"id": n, "email": f"m{n}@example.org", "day": day} for n in (1, 2, 3)])
            # A seat without a number, a cancelled member who keeps theirs (the highest), one waiting.
            connection.execute(
                text("INSERT INTO registrations (event_id, user_id, status, accessibility_needs, created_at,"
                     " queue_number, generation, source) VALUES (1, :user, :status, '', :day, :number, 1, 'member')"),
                [{"user": 1, "status": "confirmed", "number": None, "day": day},
                 {"user": 2, "status": "cancelled", "number": 4, "day": day},
                 {"user": 3, "status": "waitlisted", "number": 2, "day": day}],
            )
        upgrade(revision="e10queue")
        with db.engine.connect() as connection:
            numbers = dict(connection.execute(text("SELECT slug, next_queue_number FROM events")).all())
        db.engine.dispose()
    assert numbers == {"lined": 5, "empty": 1}
