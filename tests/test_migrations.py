"""The migrations build exactly the schema the models describe, on PostgreSQL and on SQLite."""

import pytest
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


def insert_events(connection, day, *events):
    """Event rows as the older revisions tested here store them: each a dict with id and slug, and
    optionally title, is_online, confirmed_count and sequence."""
    from sqlalchemy import text

    connection.execute(
        text("INSERT INTO events (id, slug, title, summary, description, starts_at, ends_at, is_online,"
             " status, confirmed_count, waitlist_count, created_at, updated_at, sequence)"
             " VALUES (:id, :slug, :title, '', '', :day, '2030-01-02', :is_online, 'scheduled', :confirmed_count,"
             " 0, :day, :day, :sequence)"),
        [{"title": event["slug"], "is_online": True, "confirmed_count": 0, "sequence": 0, "day": day, **event}
         for event in events],
    )


def insert_users(connection, day, *ids):
    """Members m<id>@example.org."""
    from sqlalchemy import text

    connection.execute(text("INSERT INTO users (id, email, created_at) VALUES (:id, :email, :day)"),
                       [{"id": n, "email": f"m{n}@example.org", "day": day} for n in ids])


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
            insert_events(connection, day, {"id": 1, "slug": "lined"}, {"id": 2, "slug": "empty"})
            insert_users(connection, day, 1, 2, 3)
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


@pytest.fixture
def empty_database_url(db_kind, tmp_path, request):
    """A database of its own, with no tables, on the run's kind of database."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = create_engine(request.getfixturevalue("postgres_url"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS migrate_backfill"))
        connection.execute(text("CREATE DATABASE migrate_backfill"))
    yield make_url(request.getfixturevalue("postgres_url")).set(database="migrate_backfill") \
        .render_as_string(hide_password=False)
    with server.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS migrate_backfill"))
    server.dispose()


def test_existing_mails_are_linked_to_their_registration_and_event_from_their_keys(empty_database_url, tmp_path):
    """f4links parses the dedup keys of the mails already written, once; afterwards nothing does."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from tests.conftest import make_test_app

    app = make_test_app(empty_database_url, tmp_path)
    day = "2030-01-01 00:00:00"
    keys = {
        1: "registration:1:1:confirmed", 2: "reminder:1:1:0", 3: "event_changed:1:1:1:place+time",
        4: "event_changed:2:3:1",  # from before the changes were in the key: about the time
        5: "event_cancelled:2:3:2", 6: "event_message:1:7", 7: "event_message:copy:7",
        8: "registration:99:1:confirmed",  # its registration is gone
        9: "sign-in:5", 10: "organizer-invitation:1", 11: "registration:abc",
    }
    with app.app_context():
        upgrade(revision="f3limit")
        with db.engine.begin() as connection:
            insert_events(connection, day,
                          {"id": 4, "slug": "moved", "title": "Moved", "confirmed_count": 2, "sequence": 2})
            insert_users(connection, day, 1, 2)
            connection.execute(
                text("INSERT INTO registrations (id, event_id, user_id, status, accessibility_needs, created_at,"
                     " generation, source) VALUES (:id, 4, :id, 'confirmed', '', :day, :generation, 'member')"),
                [{"id": 1, "generation": 1, "day": day}, {"id": 2, "generation": 3, "day": day}])
            connection.execute(
                text("INSERT INTO event_messages (id, event_id, audience, subject, body, recipient_count,"
                     " client_key, created_at) VALUES (7, 4, 'confirmed', 'Hi', 'Hi', 2, 'k', :day)"), {"day": day})
            connection.execute(
                text("INSERT INTO outbox_mails (id, kind, dedup_key, recipient, subject, body_text, state,"
                     " attempts, created_at, next_attempt_at) VALUES (:id, 'any', :key, 'm@example.org', 's', 'b',"
                     " 'queued', 0, :day, :day)"),
                [{"id": mail_id, "key": key, "day": day} for mail_id, key in keys.items()])
        upgrade(revision="f4links")
        with db.engine.connect() as connection:
            links = {row[0]: (row[1], row[2]) for row in connection.execute(
                text("SELECT id, registration_id, event_id FROM outbox_mails"))}
            records = connection.execute(text(
                "SELECT outbox_mail_id, registration_id, registration_generation, event_sequence, changes"
                " FROM event_change_mails ORDER BY outbox_mail_id")).all()
        downgrade(revision="f3limit")  # and back, on this kind of database too
        columns = {column["name"] for column in inspect(db.engine).get_columns("outbox_mails")}
        db.engine.dispose()
    assert "registration_id" not in columns and "event_id" not in columns
    assert links == {1: (1, 4), 2: (1, 4), 3: (1, 4), 4: (2, 4), 5: (2, 4), 6: (1, 4), 7: (None, 4),
                     8: (None, None), 9: (None, None), 10: (None, None), 11: (None, None)}
    assert [tuple(row) for row in records] == [(3, 1, 1, 1, "place+time"), (4, 2, 3, 1, "time")]


def test_events_from_before_promotions_were_recorded_keep_no_waitlist_history(empty_database_url, tmp_path):
    """waitlist_promotions backfills nothing it cannot know: the events there already are marked as
    having no recorded history (so the odds leave them out), and new ones record theirs."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from tests.conftest import make_test_app

    app = make_test_app(empty_database_url, tmp_path)
    day = "2030-01-01 00:00:00"
    with app.app_context():
        upgrade(revision="group_follows")
        with db.engine.begin() as connection:
            insert_events(connection, day, {"id": 1, "slug": "older"})
        upgrade(revision="waitlist_promotions")
        with db.engine.begin() as connection:
            insert_events(connection, day, {"id": 2, "slug": "raw-insert"})
            kept = dict(connection.execute(text("SELECT slug, is_waitlist_history_kept FROM events")).all())
        downgrade(revision="group_follows")
        tables = inspect(db.engine).get_table_names()
        db.engine.dispose()
    # Only the ORM (every event the site makes) says True: a row written any other way is not trusted.
    assert {slug: bool(value) for slug, value in kept.items()} == {"older": False, "raw-insert": False}
    assert "waitlist_promotions" not in tables
