"""A per-process cache of anonymous public pages, kept correct by a content version.

Correctness: "a registration or an edit shows on the very next request".

- One row (`content_versions`, id 1) holds a number. A session that changed anything a public page can
  show bumps it after its commit, in its own short transaction, before the response goes out.
- Every cacheable request first reads that number (one SELECT in autocommit) and serves a stored page
  only if it was rendered under the same number. The number is read *before* rendering, so a page
  stored under it can only be older than a change that comes with a later number.
- Entries also expire after PAGECACHE_SECONDS: "upcoming" lists and registration windows change with
  the clock alone.
- With Redis (REDIS_URL, as in production) the number lives in Redis instead: a GET is cheaper than
  a database round trip. When the key is missing (Redis restarted), it starts again from a random
  number, so it never comes back to a number an old entry was stored under.
- Only anonymous GETs of the public pages are cached; members always get fresh pages. A response
  marked `Cache-Control: no-store` (a draft's preview) is never stored, whoever asked.
- The visitor's CSRF token is cut out of the stored copy and each visitor's own put back in on a hit.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Flask, current_app, g, request, session
from sqlalchemy import BigInteger, Delete, Insert, Update, event, insert, select, update
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column
from sqlalchemy.sql.elements import TextClause

from webapp.db import db

log = logging.getLogger(__name__)

CACHEABLE_ENDPOINTS = frozenset(
    {"pages.home", "pages.about", "events.index", "events.detail", "groups.index", "groups.detail",
     # The calendar and Atom feeds: a stored copy keeps its ETag, so a poll gets its 304 from here too.
     "feeds.site_calendar", "feeds.group_calendar", "feeds.site_atom", "feeds.group_atom",
     "series.calendar"}
    # Never feeds.private_calendar: one member's events and join links, and a reset must end its
    # old address on the very next request.
)
# Rows no public page shows: changing them leaves every cached page valid.
PRIVATE_TABLES = frozenset(
    {"content_versions", "outbox_mails", "sign_in_requests", "user_sessions", "reminders", "join_visits",
     "event_messages", "private_calendars"}
)
# Request headers that change what these views render (rendering.wants_fragment and htmx's targets).
KEY_HEADERS = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request", "HX-Target")
# Response headers never replayed: cookies belong to one visitor; the length is recomputed.
UNSTORED_HEADERS = frozenset({"set-cookie", "content-length"})
CSRF_PLACEHOLDER = "\x00pagecache-csrf-token\x00"
MAX_BODY_BYTES = 512 * 1024
CHANGED = "pagecache_content_changed"
COMMITTED = "pagecache_committed"
ENVIRON_KEY = "webapp.pagecache"
REDIS_KEY = "meetups:content-version"


class ContentVersion(db.Model):
    """One row whose number goes up after every commit that can change a public page."""

    __tablename__ = "content_versions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


# --- Bumping the version -------------------------------------------------------------------------


def _is_public(table_name: str | None) -> bool:
    return table_name not in PRIVATE_TABLES


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, flush_context, instances) -> None:
    if session.info.get(CHANGED):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if _is_public(getattr(obj, "__tablename__", None)):
            session.info[CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_statements(state: ORMExecuteState) -> None:
    """Bulk UPDATE/DELETE/INSERT and raw SQL through the session bypass the flush: note them too."""
    if state.is_select or state.session.info.get(CHANGED):
        return
    statement = state.statement
    if isinstance(statement, (Insert, Update, Delete)):
        if _is_public(getattr(statement.table, "name", None)):
            state.session.info[CHANGED] = True
    elif isinstance(statement, TextClause):
        if not statement.text.lstrip().lower().startswith(("select", "with")):
            state.session.info[CHANGED] = True


@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    # Releasing a savepoint commits nothing yet: only the outermost commit counts.
    if not session.in_nested_transaction():
        session.info[COMMITTED] = True


@event.listens_for(Session, "after_transaction_end")
def _bump_after_commit(session: Session, transaction) -> None:
    """Once the outermost transaction ends: bump if it committed a change, forget the changes if not.

    After the commit, so a reader that sees the new number also sees the committed data; and after
    the session gave its connection back, so a bump never holds two connections from the pool.
    """
    if transaction.parent is not None:
        return
    committed = session.info.pop(COMMITTED, False)
    if not (session.info.pop(CHANGED, False) and committed):
        return
    try:
        redis_client = _redis()
        if redis_client is not None:
            _bump_in_redis(redis_client)
            return
        bind = session.get_bind()
        with getattr(bind, "engine", bind).begin() as connection:
            bump_content_version(connection)
    except Exception:  # the data is committed; failing the request now would only hide that
        log.exception("could not bump the content version: cached pages may be stale for PAGECACHE_SECONDS")


def bump_content_version(connection) -> None:
    result = connection.execute(
        update(ContentVersion).where(ContentVersion.id == 1).values(n=ContentVersion.n + 1)
    )
    if result.rowcount == 0:  # the row is gone (the test suite empties every table): start again
        connection.execute(insert(ContentVersion).values(id=1, n=1))


def _redis():
    """The Redis client for the version, when the app has Redis; made once per app."""
    try:
        app = current_app._get_current_object()
    except RuntimeError:  # a session used outside the app (scripts): the database holds the number
        return None
    if not app.config.get("REDIS_URL"):
        return None
    client = app.extensions.get("pagecache_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5)
        app.extensions["pagecache_redis"] = client
    return client


def _random_start() -> int:
    return secrets.randbits(52)


def _bump_in_redis(client) -> None:
    pipe = client.pipeline()
    pipe.set(REDIS_KEY, _random_start(), nx=True)
    pipe.incr(REDIS_KEY)
    pipe.execute()


def read_content_version() -> int | None:
    """The current number: from Redis when there is one, else one SELECT in autocommit."""
    client = _redis()
    if client is not None:
        value = client.get(REDIS_KEY)
        if value is None:
            client.set(REDIS_KEY, _random_start(), nx=True)
            return None  # nothing can have been stored under a number that did not exist
        return int(value)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.scalar(select(ContentVersion.n).where(ContentVersion.id == 1))


# --- The cache -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    version: int
    stored_at: float
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    has_csrf: bool


class PageCache:
    """An LRU of rendered pages in this process; entries carry the content version they were made under."""

    def __init__(self, max_entries: int, seconds: float, clock=time.monotonic):
        self.max_entries = max_entries
        self.seconds = seconds
        self.clock = clock
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple, version: int) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry.version != version or self.clock() - entry.stored_at >= self.seconds):
                del self._entries[key]
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple, entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def init_app(app: Flask) -> None:
    """Call last in create_app: the after_request hook must run before the others (they run in reverse)."""
    app.extensions["pagecache"] = PageCache(
        app.config["PAGECACHE_ENTRIES"], app.config["PAGECACHE_SECONDS"]
    )
    app.before_request(_serve_from_cache)
    app.after_request(_store_in_cache)


def _cache() -> PageCache:
    return current_app.extensions["pagecache"]


def _is_anonymous() -> bool:
    # Without loading a user: a session with a user id, or a remember-me cookie, is a member.
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return "_user_id" not in session and remember_cookie not in request.cookies


def _cache_key() -> tuple | None:
    if (
        request.method != "GET"
        or request.endpoint not in CACHEABLE_ENDPOINTS
        or not current_app.config["PAGECACHE_ENABLED"]
        or not _is_anonymous()
    ):
        return None
    return (
        request.scheme,
        request.host,
        request.path,
        request.query_string,
        tuple(request.headers.get(name) for name in KEY_HEADERS),
    )


def _csrf_field() -> str:
    return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")


def _serve_from_cache():
    key = _cache_key()
    if key is None:
        return None
    try:
        version = read_content_version()
    except Exception:  # no version, no cache: render as if there were none
        log.exception("could not read the content version; serving uncached")
        return None
    if version is None:
        return None
    entry = _cache().get(key, version)
    if entry is None:
        request.environ[ENVIRON_KEY] = (key, version)
        return None
    body = entry.body
    if entry.has_csrf:
        from flask_wtf.csrf import generate_csrf

        body = body.replace(CSRF_PLACEHOLDER.encode(), generate_csrf().encode())
    response = current_app.response_class(body, status=entry.status, headers=entry.headers)
    if "ETag" in response.headers:  # a feed: the client's copy may be this one (304)
        response.make_conditional(request)
    return response


def _store_in_cache(response):
    pending = request.environ.pop(ENVIRON_KEY, None)
    if pending is None or response.status_code != 200 or response.is_streamed or response.direct_passthrough:
        return response
    if "no-store" in (response.headers.get("Cache-Control") or ""):
        return response  # a page that says so (an organizer's draft preview) is never kept
    body = response.get_data()
    if len(body) > MAX_BODY_BYTES:
        return response
    key, version = pending
    # The token the template put in this page (Flask-WTF keeps it on g for the request), if any.
    token = g.get(_csrf_field())
    has_csrf = bool(token) and token.encode() in body
    if has_csrf:
        body = body.replace(token.encode(), CSRF_PLACEHOLDER.encode())
    headers = [(name, value) for name, value in response.headers.items() if name.lower() not in UNSTORED_HEADERS]
    _cache().put(key, Entry(version, _cache().clock(), response.status_code, headers, body, has_csrf))
    return response
