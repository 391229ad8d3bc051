"""Fixtures: the app (built once, put back as built for every test: tests/support/apps.py) on a
real database (PostgreSQL by default, SQLite with --db=sqlite), emptied after every test; an HTTP
client, a live server, a real SMTP sink and a real Celery worker."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from tests.support.apps import BuiltApps, make_test_app
from tests.support.fake_zoom import fake_zoom  # noqa: F401 (a fixture: the fake Zoom API, tests/support)
from tests.support.html import csrf_token_in
from tests.support.servers import OwnRedis, PrivatePostgres, free_port
from webapp.db import db

ROOT = Path(__file__).resolve().parent.parent
# The suite starts a PostgreSQL cluster and a Redis of its own (tests/support/servers.py) unless
# these name others, which it then owns for the run: it empties them.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")

__all__ = ["free_port", "make_test_app"]


def pytest_collection_modifyitems(items):
    # make test runs the suite in several processes (pytest-xdist, --dist loadgroup): the fault
    # drills start workers, brokers and SMTP servers of their own and time them, so they take
    # turns in one process rather than crowd each other; every other test goes wherever is free.
    for item in items:
        if "tests/drills/" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("drills"))
        # Every fixture that reaches the run's database (app, session, client, migrated, ...)
        # goes through `db_kind`: a test without it does the same on either --db, so make test's
        # SQLite pass leaves it out (-m "not db_independent") after the PostgreSQL pass ran it.
        if "db_kind" not in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db_independent)


def pytest_addoption(parser):
    parser.addoption(
        "--db",
        choices=["postgres", "sqlite"],
        default=os.environ.get("TEST_DB", "postgres"),
        help="database the suite runs on (the same migrations run on both)",
    )


@pytest.fixture(scope="session")
def db_kind(request) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def postgres_url():
    """The run's own PostgreSQL: a cluster in a temp folder on a free port, removed afterwards."""
    if POSTGRES_URL:
        yield POSTGRES_URL
        return
    server = PrivatePostgres().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """The run's own redis-server on a free port (the drills start their own besides)."""
    if REDIS_URL:
        yield REDIS_URL
        return
    server = OwnRedis(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(db_kind, tmp_path_factory, request) -> str:
    if db_kind == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def migrated(database_url, instance_path) -> str:
    """Build the schema once per run through the real Alembic migrations."""
    from flask_migrate import upgrade

    app = make_test_app(database_url, instance_path)
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()
    return database_url


def _empty_all_tables(kind: str) -> None:
    """Delete every row and restart the ids, as TRUNCATE ... RESTART IDENTITY would.

    Real commits, not a rolled-back transaction: tests run workers, live servers and threads on
    connections of their own. DELETE, not TRUNCATE: on tables of a few rows it is several times
    faster (TRUNCATE makes new files for every table and index). Only the tables that hold rows,
    found in one query (a test fills a few of some forty), and only the sequences that moved.
    """
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]  # children before their parents
    any_rows = " UNION ALL ".join(f"SELECT {n} WHERE EXISTS (SELECT 1 FROM {name})" for n, name in enumerate(tables))
    with db.engine.begin() as conn:
        filled = sorted(n for (n,) in conn.exec_driver_sql(any_rows))
        if kind == "postgres":
            if filled:
                conn.exec_driver_sql("; ".join(f"DELETE FROM {tables[n]}" for n in filled))
            conn.exec_driver_sql(
                "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, 1, false)"
                " FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL")
        else:
            for n in filled:
                conn.exec_driver_sql(f"DELETE FROM {tables[n]}")


@pytest.fixture
def app_overrides() -> dict:
    """Settings a test module can override for its app (e.g. Redis and SMTP for a real worker)."""
    return {}


@pytest.fixture(scope="session")
def _built_apps(migrated, instance_path):
    """Apps built once per distinct `app_overrides` value: create_app costs ~90 ms, a test far less."""
    apps = BuiltApps(migrated, instance_path)
    yield apps
    apps.close()


@pytest.fixture
def app(_built_apps, db_kind, tmp_path, app_overrides):
    """The app, with the settings, extensions, limits and page cache it had when it was built, an
    app context of this test's own (a fresh `g`), mail in this test's folder; every table emptied after."""
    built = _built_apps.get(app_overrides)
    app = built.app
    with built.isolated(MAIL_FILE_DIR=str(tmp_path / "mail")), app.app_context():
        yield app
        db.session.remove()
        _empty_all_tables(db_kind)
    if built.setup_changed():  # the test added a route or a hook: later tests get an app without it
        _built_apps.forget(built)


@pytest.fixture
def session(app):
    return db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free port, in a thread."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def smtp_sink():
    """A real SMTP server (aiosmtpd) that keeps every message it accepts."""
    from aiosmtpd.controller import Controller

    from tests.support.smtp import RecordingHandler

    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def csrf_token_for(client) -> str:
    """The CSRF token of the client's session, as a page hands it to htmx.

    Fetched from a page once per client session: Flask-WTF signs one secret kept in the session,
    and that secret stays through signing in and out; a new session (other cookies) fetches again.
    """
    tokens = client.__dict__.setdefault("_csrf_tokens", {})
    secret = _session_csrf_secret(client)
    if secret is None or secret not in tokens:
        page = client.get("/about").get_data(as_text=True)
        token = csrf_token_in(page)
        secret = _session_csrf_secret(client)
        if secret is None:
            return token
        tokens[secret] = token
    return tokens[secret]


def _session_csrf_secret(client) -> str | None:
    """The CSRF secret in the client's session cookie, read as the app reads it (None if none)."""
    app = client.application
    serializer = app.session_interface.get_signing_serializer(app)
    name = app.config["SESSION_COOKIE_NAME"]
    for cookie in (client._cookies or {}).values():
        if cookie.key == name:
            try:
                return serializer.loads(cookie.value).get(app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
            except Exception:  # not a session this app signed: fetch a token instead
                return None
    return None


def post_form(client, url, data=None, headers=None):
    """POST a form as the site's own page would: with the session's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_token_for(client), **(data or {})}, headers=headers or {})


@pytest.fixture
def fresh_request_globals(app):
    """Give each request a fresh `g`, as in production.

    The `app` fixture keeps one app context open, and requests reuse it, so `g` would carry
    Flask-Login's cached user and Flask-WTF's CSRF token from one request (or client) to the next.
    """
    from flask import g, request_started

    def clear(sender, **extra):
        g.__dict__.clear()

    request_started.connect(clear, app)
    yield
    request_started.disconnect(clear, app)


def sign_in_as(client, user):
    """Sign `client` in as `user` as a completed sign-in link does: an open `user_sessions` row,
    and its id ("<user id>:<session key>") in the client's session. Commits."""
    from webapp.accounts.services import start_session
    from webapp.db import utcnow
    from webapp.pagecache import flask_login_identifier

    start_session(db.session, user, now=utcnow())
    session_id = user.get_id()
    db.session.commit()
    db.session.refresh(user)  # loaded again, so it still reads after a test's session.remove()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session_id
        flask_session["_fresh"] = True
        # Flask-Login's session identifier for this client's address and browser, as login_user keeps it.
        flask_session["_id"] = flask_login_identifier(client.environ_base)
    return client


@pytest.fixture
def signed_in_client(client, fresh_request_globals):
    """`signed_in_client(user)`: the test client, signed in as `user` (as Flask-Login keeps it)."""

    def sign_in(user):
        return sign_in_as(client, user)

    return sign_in
