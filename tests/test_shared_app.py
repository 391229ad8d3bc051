"""The app is built once and shared, yet each test starts from the app as built: what one test
changes (settings, extensions, limit counters, cached pages, routes, rows) the next never sees.

The tests come in pairs and run in file order: the first changes something, the second looks.
"""

from __future__ import annotations

from pathlib import Path

from flask import g
from limits.storage import MemoryStorage

from tests.conftest import free_port, make_test_app
from tests.factories import create_group
from webapp.db import db
from webapp.extensions import limiter
from webapp.groups.models import Group
from webapp.throttle import over_limit

# What the first test of each pair changed, for the test after it (pytest runs a file in order;
# a second test run alone compares against its own, unchanged state).
seen: dict = {}


def test_one_test_changes_settings_and_extensions(app):
    seen["app"] = app
    seen["limit"] = app.config["SIGN_IN_LIMIT_PER_ADDRESS"]
    seen["intents"] = dict(app.extensions["sign_in_intents"])
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "1 per day"
    app.config["CELERY"]["task_always_eager"] = "changed in place"
    app.extensions["sign_in_intents"] = {"wave": lambda *args: None}
    app.extensions["fallback_rate_limiter"] = object()


def test_the_next_test_has_the_same_app_with_the_settings_it_was_built_with(app):
    assert app is seen.get("app", app)  # built once
    assert app.config["SIGN_IN_LIMIT_PER_ADDRESS"] == seen.get("limit", "3 per 15 minutes")
    assert app.config["CELERY"].get("task_always_eager") != "changed in place"
    assert app.extensions["sign_in_intents"] == seen.get("intents", app.extensions["sign_in_intents"])
    assert "fallback_rate_limiter" not in app.extensions


def test_one_test_uses_up_a_limit_and_fills_the_page_cache(app, client, session):
    create_group()
    session.commit()  # a content version to store pages under
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "1 per day"
    assert not over_limit("SIGN_IN_LIMIT_PER_ADDRESS", "isolation", "ada")
    assert over_limit("SIGN_IN_LIMIT_PER_ADDRESS", "isolation", "ada")
    client.get("/about")
    client.get("/about")
    assert app.extensions["pagecache"].hits == 1


def test_the_next_test_starts_with_fresh_counters_and_an_empty_page_cache(app, client):
    app.config["SIGN_IN_LIMIT_PER_ADDRESS"] = "1 per day"
    assert not over_limit("SIGN_IN_LIMIT_PER_ADDRESS", "isolation", "ada")
    cache = app.extensions["pagecache"]
    assert (len(cache), cache.hits, cache.misses) == (0, 0, 0)


def test_one_test_adds_a_route_and_a_row_and_a_mail_folder(app, client, session, tmp_path):
    app.add_url_rule("/only-in-one-test", "only_in_one_test", lambda: "here")
    assert client.get("/only-in-one-test").status_code == 200
    group = create_group(slug="isolation")
    session.commit()
    assert group.id == 1
    assert Path(app.config["MAIL_FILE_DIR"]) == tmp_path / "mail"
    seen["mail_dir"] = app.config["MAIL_FILE_DIR"]


def test_the_next_test_has_neither_the_route_nor_the_row_and_a_mail_folder_of_its_own(
        app, client, session, tmp_path):
    assert client.get("/only-in-one-test").status_code == 404
    assert session.query(Group).count() == 0
    assert create_group(slug="isolation").id == 1  # ids start again, as after TRUNCATE ... RESTART IDENTITY
    assert app.config["MAIL_FILE_DIR"] == str(tmp_path / "mail") != seen.get("mail_dir")


def test_one_test_builds_another_app_which_claims_the_shared_limiter(app, migrated, tmp_path):
    g.left_behind = True
    other = make_test_app(migrated, tmp_path, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    assert not isinstance(limiter.storage, MemoryStorage)  # Flask-Limiter's object follows the newest app
    with other.app_context():
        db.engine.dispose()


def test_the_next_test_counts_in_its_own_apps_storage_with_a_fresh_g(app):
    assert isinstance(limiter.storage, MemoryStorage)
    assert "left_behind" not in g
