"""Fixtures: a fresh app per test on a real database (PostgreSQL by default, SQLite with
--db=sqlite), an HTTP client, a live server, a real SMTP sink and a real Celery worker."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from tests.support.servers import OwnRedis, PrivatePostgres, free_port
from webapp import create_app
from webapp.db import db

ROOT = Path(__file__).resolve().parent.parent
# The suite starts a PostgreSQL cluster and a Redis of its own (tests/support/servers.py) unless
# these name others, which it then owns for the run: it empties them.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")

__all__ = ["free_port"]


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


def make_test_app(database_url: str, instance_path: Path, **overrides):
    settings = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance_path),
        "MAIL_FILE_DIR": str(instance_path / "mail"),
        "REDIS_URL": None,
        "SITE_URL": "http://meetups.test",
    }
    settings.update(overrides)
    return create_app(settings)


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
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if kind == "postgres":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def app_overrides() -> dict:
    """Settings a test module can override for its app (e.g. Redis and SMTP for a real worker)."""
    return {}


@pytest.fixture
def app(migrated, instance_path, db_kind, tmp_path, app_overrides):
    app = make_test_app(migrated, instance_path, MAIL_FILE_DIR=str(tmp_path / "mail"), **app_overrides)
    with app.app_context():
        yield app
        db.session.remove()
        _empty_all_tables(db_kind)
        db.engine.dispose()


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
    """The CSRF token of the client's session, as a page hands it to htmx."""
    page = client.get("/about").get_data(as_text=True)
    return page.split('"X-CSRFToken": "')[1].split('"')[0]


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

    start_session(db.session, user, now=utcnow())
    session_id = user.get_id()
    db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session_id
        flask_session["_fresh"] = True
    return client


@pytest.fixture
def signed_in_client(client, fresh_request_globals):
    """`signed_in_client(user)`: the test client, signed in as `user` (as Flask-Login keeps it)."""

    def sign_in(user):
        return sign_in_as(client, user)

    return sign_in
