"""Test apps built once and reused: each test gets the app back as it was built.

create_app costs about 90 ms, more than most tests. So the suite builds one app per distinct
`app_overrides` value and, around every test, puts back what a test may change: the settings, the
`app.extensions` entries, the page cache, Flask-Limiter's counters, and the process-wide state the
last-built app claimed (the shared `limiter` object's storage, Celery's default app). A test that
changes the app's setup (adds a route or a hook) gets it dropped afterwards, so the next test gets
a fresh one.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

from limits.storage import MemoryStorage
from sqlalchemy import event

from webapp.db import db
from webapp.extensions import limiter
from webapp.pagecache import MEMBER_CHECKS_KEPT, PageCache


def make_test_app(database_url: str, instance_path: Path, **overrides):
    from webapp import create_app

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
    app = create_app(settings)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # Durability is not what a test run is for (the PostgreSQL runs with fsync=off too):
            # without it every commit waits for the disk several times.
            event.listen(db.engine, "connect", _no_sync)
    return app


def _no_sync(dbapi_connection, connection_record) -> None:
    dbapi_connection.execute("PRAGMA synchronous = OFF")


def _copied(value):
    """A copy a test can change in place without changing the snapshot (settings hold dicts)."""
    if isinstance(value, (dict, list, set)):
        return copy.deepcopy(value)
    return value


def _shallow(value):
    return copy.copy(value) if isinstance(value, (dict, list, set)) else value


class BuiltApp:
    def __init__(self, app) -> None:
        self.app = app
        self.config = {key: _copied(value) for key, value in app.config.items()}
        self.extensions = dict(app.extensions)
        # `limiter` is one object for every app; init_app points it at the newest app's storage.
        self.limiter_state = {key: _shallow(value) for key, value in vars(limiter).items()}
        self.setup = self._setup_fingerprint()

    def _setup_fingerprint(self) -> tuple:
        app = self.app
        hooks = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs,
                 app.url_value_preprocessors, app.url_default_functions, app.template_context_processors,
                 app.error_handler_spec)
        return (len(list(app.url_map.iter_rules())), tuple(app.view_functions), tuple(app.blueprints),
                tuple(sum(len(funcs) for funcs in spec.values()) for spec in hooks))

    def setup_changed(self) -> bool:
        return self._setup_fingerprint() != self.setup

    @contextmanager
    def isolated(self, **settings):
        """Run a test on the app as built (plus `settings`); a test's changes end with it."""
        app = self.app
        app.config.clear()
        app.config.update({key: _copied(value) for key, value in self.config.items()}, **settings)
        app.extensions.clear()
        app.extensions.update({key: dict(value) if type(value) is dict else value
                               for key, value in self.extensions.items()})
        seconds = app.config["PAGECACHE_SECONDS"]
        app.extensions["pagecache"] = PageCache(app.config["PAGECACHE_ENTRIES"], seconds)
        app.extensions["pagecache_own"] = PageCache(app.config["PAGECACHE_OWN_ENTRIES"], seconds)
        app.extensions["pagecache_checks"] = PageCache(MEMBER_CHECKS_KEPT, seconds)
        vars(limiter).clear()
        vars(limiter).update({key: _shallow(value) for key, value in self.limiter_state.items()})
        storage = vars(limiter).get("_storage")
        if isinstance(storage, MemoryStorage):  # Redis counters are the test's own business, as before
            storage.reset()
        app.extensions["celery"].set_default()
        app._got_first_request = False  # as if new: a test may still add a route before its first request
        yield app

    def dispose(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


class BuiltApps:
    """The apps built so far, by their overrides; the ones without overrides stay, a few others too."""

    KEEP_OTHERS = 2

    def __init__(self, database_url: str, instance_path: Path) -> None:
        self.database_url = database_url
        self.instance_path = instance_path
        self._apps: OrderedDict[str, BuiltApp] = OrderedDict()

    @staticmethod
    def _key(overrides: dict) -> str:
        def canonical(value):
            if isinstance(value, dict):
                return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
            return value

        return repr(canonical(overrides))

    def get(self, overrides: dict) -> BuiltApp:
        key = self._key(overrides)
        built = self._apps.get(key)
        if built is None:
            built = BuiltApp(make_test_app(self.database_url, self.instance_path, **overrides))
            built.key = key
            self._apps[key] = built
            others = [k for k in self._apps if k != self._key({})]
            for stale in others[:-self.KEEP_OTHERS]:
                self._apps.pop(stale).dispose()
        self._apps.move_to_end(key)
        return built

    def forget(self, built: BuiltApp) -> None:
        if self._apps.get(built.key) is built:
            del self._apps[built.key]
        built.dispose()

    def close(self) -> None:
        while self._apps:
            self._apps.popitem()[1].dispose()
