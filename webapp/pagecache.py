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
- Visitors get the stored page; members get the members' copy with their personal parts filled in
  (`personal_parts`), My events is kept whole per session. A response marked `Cache-Control:
  no-store` (a draft's preview) is never stored for others, whoever asked.
- The visitor's CSRF token is cut out of the stored copy and each visitor's own put back in on a hit.
- A member's answer from the WSGI layer (ServeFromCache) first checks their session is open, as
  load_user does; with Redis the check is kept per process under a second number, the members'
  version, which every commit to users, sessions, roles or organizer places raises.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app, g, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy import BigInteger, Delete, Insert, Update, event, insert, select, update
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column
from sqlalchemy.sql.elements import TextClause
from werkzeug.http import parse_cookie

from webapp.db import db, utcnow
from webapp.requests import CONTROL_CHARACTERS, HTMX_HEADERS

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
VERSION_READ = "webapp.pagecache.version"  # what the WSGI fast path read before it missed: not read twice
REDIS_KEY = "meetups:content-version"
# Goes up after every commit that can end a session or change what a member's menu shows (their
# roles, the groups they organize): the members' checks kept in each process are good until it does.
MEMBERS_KEY = "meetups:members-version"
MEMBERS_CHANGED = "pagecache_members_changed"
MEMBER_TABLES = frozenset({"users", "user_sessions", "user_roles", "group_organizers"})
MEMBER_CHECKS_KEPT = 20_000  # members' session checks one process keeps (a few hundred bytes each)


class ContentVersion(db.Model):
    """One row whose number goes up after every commit that can change a public page."""

    __tablename__ = "content_versions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


# --- Bumping the version -------------------------------------------------------------------------


def _is_public(table_name: str | None) -> bool:
    return table_name not in PRIVATE_TABLES


def _note_table(info: dict, table_name: str | None) -> None:
    if _is_public(table_name):
        info[CHANGED] = True
    if table_name in MEMBER_TABLES:
        info[MEMBERS_CHANGED] = True


def _noted_everything(info: dict) -> bool:
    return bool(info.get(CHANGED) and info.get(MEMBERS_CHANGED))


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, flush_context, instances) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if _noted_everything(session.info):
            return
        _note_table(session.info, getattr(obj, "__tablename__", None))


@event.listens_for(Session, "do_orm_execute")
def _note_statements(state: ORMExecuteState) -> None:
    """Bulk UPDATE/DELETE/INSERT and raw SQL through the session bypass the flush: note them too."""
    info = state.session.info
    if state.is_select or _noted_everything(info):
        return
    statement = state.statement
    if isinstance(statement, (Insert, Update, Delete)):
        _note_table(info, getattr(statement.table, "name", None))
    elif isinstance(statement, TextClause):
        if not statement.text.lstrip().lower().startswith(("select", "with")):
            info[CHANGED] = info[MEMBERS_CHANGED] = True


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
    content, members = session.info.pop(CHANGED, False), session.info.pop(MEMBERS_CHANGED, False)
    if not (committed and (content or members)):
        return
    try:
        redis_client = _redis()
        if redis_client is not None:
            _bump_in_redis(redis_client, [REDIS_KEY] * content + [MEMBERS_KEY] * members)
            return
        if not content:
            return  # without Redis no process keeps a member's check: nothing to tell
        bind = session.get_bind()
        with getattr(bind, "engine", bind).begin() as connection:
            bump_content_version(connection)
    except Exception:  # the data is committed; failing the request now would only hide that
        log.exception("could not bump the content or members' version: cached pages and members' session "
                      "checks may be stale for PAGECACHE_SECONDS")


def bump_content_version(connection) -> None:
    result = connection.execute(
        update(ContentVersion).where(ContentVersion.id == 1).values(n=ContentVersion.n + 1)
    )
    if result.rowcount == 0:  # the row is gone (the test suite empties every table): start again
        connection.execute(insert(ContentVersion).values(id=1, n=1))


def _redis(app: Flask | None = None):
    """The Redis client for the version, when the app has Redis; made once per app."""
    if app is None:
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


class TrackedVersion:
    """Numbers in Redis (the content version, the members' version) as Redis last said them, kept in
    this process until Redis says they changed.

    Reading a number is a round trip on every cacheable request, the largest part of a hit. With
    Redis's client tracking (RESP3), once this connection has read a key Redis pushes an
    "invalidate" to it as soon as any client changes the key: a bump writes that push to this
    socket before it writes the bumper's own reply (Redis runs one command at a time), so by the
    time the bumper's response reaches its browser and a next request reaches any process, the push
    is here. A read then only checks, without waiting, whether a push arrived; a bump made by this
    process forgets its numbers at once too. A new or broken connection keeps nothing, and a Redis
    that refuses tracking gets a GET every time, as before.
    """

    def __init__(self, url: str):
        self.url = url
        self._lock = threading.Lock()  # one connection, and threaded workers
        self._pid = None
        self._client = None
        self._connection = None
        self._values: dict[str, int] = {}
        self._tracking = True
        self.epoch = 0  # goes up with every (re)connection (read_stamped)

    def read(self, key: str = REDIS_KEY) -> int | None:
        """The number, or None when Redis has no such key (the caller starts one)."""
        return self._read(key)[0]

    def read_stamped(self, key: str = REDIS_KEY) -> int | None:
        """The number with its connection's epoch folded in above it: what to keep things under, so
        that a Redis restarted from an older snapshot, which can hand back a number seen before,
        matches nothing kept before it went away."""
        value, epoch = self._read(key)
        return None if value is None else (epoch << 64) | value

    def _read(self, key: str) -> tuple[int | None, int]:
        with self._lock:
            connection = self._connection_for_this_process()
            try:
                if key in self._values:
                    while connection.can_read(timeout=0):  # pushes that arrived since the last read
                        connection.read_response(push_request=True)
                    if key in self._values:
                        return self._values[key], self.epoch
                connection.send_command("GET", key)
                value = connection.read_response()  # a push before the reply is about an older change
            except Exception:
                self._values.clear()
                connection.disconnect()
                raise
            if value is not None and self._tracking:
                self._values[key] = int(value)
            return (None if value is None else int(value)), self.epoch

    def knows(self, key: str = REDIS_KEY) -> bool:
        """Whether the next read of `key` can be answered without asking Redis (until a push)."""
        return key in self._values

    def forget(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)

    def _connection_for_this_process(self):
        if self._connection is None or self._pid != os.getpid():  # a forked worker opens its own
            import redis

            client = redis.Redis.from_url(self.url, protocol=3, socket_timeout=0.5, socket_connect_timeout=0.5,
                                          single_connection_client=True)
            self._connection, self._pid, self._values = client.connection, os.getpid(), {}
            self._client = client  # keeps the connection (and its callbacks) alive
            self._connection.register_connect_callback(self._start_tracking)  # each reconnection
            if self._connection._sock is not None:  # the client connected as it was made
                self._start_tracking(self._connection)
        return self._connection

    def _start_tracking(self, connection) -> None:
        self._values.clear()  # nothing read on an old connection is known to be current
        self.epoch += 1
        if not self._tracking:
            return
        connection._parser.set_invalidation_push_handler(self._invalidated)
        try:
            connection.send_command("CLIENT", "TRACKING", "ON")
            connection.read_response()
        except Exception as error:
            import redis

            if not isinstance(error, redis.ResponseError):
                raise
            log.warning("Redis refuses client tracking (%s): the versions are read on every request", error)
            self._tracking = False

    def _invalidated(self, push) -> None:
        keys = push[1] if len(push) > 1 else None  # ["invalidate", [key, ...]], or None after a flush
        if keys is None:
            self._values.clear()
        else:
            self.forget(*(key.decode() if isinstance(key, bytes) else key for key in keys))


def _tracked_version(app: Flask) -> TrackedVersion | None:
    if not app.config.get("REDIS_URL"):
        return None
    tracked = app.extensions.get("pagecache_tracked_version")
    if tracked is None:
        tracked = app.extensions["pagecache_tracked_version"] = TrackedVersion(app.config["REDIS_URL"])
    return tracked


def _random_start() -> int:
    return secrets.randbits(52)


def _bump_in_redis(client, keys=(REDIS_KEY,)) -> None:
    pipe = client.pipeline()
    for key in keys:
        pipe.set(key, _random_start(), nx=True)
        pipe.incr(key)
    pipe.execute()
    try:
        tracked = _tracked_version(current_app._get_current_object())
    except RuntimeError:  # outside the app: no number of this process to forget
        return
    if tracked is not None:
        tracked.forget(*keys)  # this process's next request reads the new numbers, push or no push


def read_content_version(app: Flask | None = None) -> int | None:
    """The current number: from Redis when there is one, else one SELECT in autocommit.

    `app` when called before Flask has a context for the request (the WSGI fast path).
    """
    client = _redis(app)
    if client is not None:
        value = _tracked_version(app or current_app._get_current_object()).read_stamped()
        if value is None:
            client.set(REDIS_KEY, _random_start(), nx=True)
            return None  # nothing can have been stored under a number that did not exist
        return value
    if app is not None:
        with app.app_context():
            return read_content_version()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.scalar(select(ContentVersion.n).where(ContentVersion.id == 1))


# --- The cache -----------------------------------------------------------------------------------

VISITOR, MEMBER, OWN = "visitor", "member", "own"
# A member's own page, all of it theirs: kept whole per session (its own cache, so members' pages
# never push the shared copies out), under the content version like the rest. Whatever it shows
# from a private table is noted as a change where it is written (note_change).
OWN_ENDPOINTS = frozenset({"registrations.my_events"})
OWN_PENDING = "webapp.pagecache.own"
# A signed-in member's copy of these pages is stored with its personal parts cut out ("holes"): the
# rest is the same for every member, so it is rendered once per content version, and each request
# renders only its member's parts (webapp.pagecache.fill). Feeds are the same for everyone: visitors'.
MEMBER_ENDPOINTS = frozenset(
    {"pages.home", "pages.about", "events.index", "events.detail", "groups.index", "groups.detail"}
)
HOLE_MARK = "\x00pagecache-hole:{}\x00"  # a NUL never comes from the database or a request
_HOLE = re.compile(b"\x00pagecache-hole:([a-z_]+)\x00")
# The environ names of KEY_HEADERS, read by the WSGI fast path and by Flask alike.
_KEY_ENVIRON = tuple("HTTP_" + name.upper().replace("-", "_") for name in KEY_HEADERS)
_HTMX_ENVIRON = tuple("HTTP_" + name.upper().replace("-", "_") for name in HTMX_HEADERS)


@dataclass(frozen=True)
class Entry:
    version: int
    stored_at: float
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # a visitor's page; for members the page with HOLE_MARKs where its personal parts go
    has_csrf: bool
    holes: tuple[str, ...] = ()
    # Kept as Flask fills a members' page, for the WSGI fast path (ServeFromCache), all with the CSRF
    # placeholder for the token: the menu per kind of member (accounts.services.MenuFacts) for a page
    # whose only personal part it is; for the other pages, each member's parts by their session,
    # for members who organize nothing and are not staff (their parts come only from rows that bump
    # the version); and the headers Flask's hooks gave a member's answer.
    menus: dict = field(default_factory=dict, compare=False)
    member_parts: dict = field(default_factory=dict, compare=False)
    member_headers: list = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class KeptCheck:
    """A member's open session as the database said it, under the members' version read before asking
    (ServeFromCache: a sign-out, a role or an organizer place anywhere bumps that version)."""

    version: int  # the members' version, stamped (TrackedVersion.read_stamped)
    stored_at: float
    facts: object  # accounts.services.MenuFacts
    open_until: object  # datetime: SESSION_MAX_DAYS after sign-in, when no change is needed to end it


class PageCache:
    """An LRU of rendered pages in this process; entries carry the content version they were made under.

    (Also of members' kept session checks, KeptCheck, under the members' version.)
    """

    def __init__(self, max_entries: int, seconds: float, clock=time.monotonic):
        self.max_entries = max_entries
        self.seconds = seconds
        self.clock = clock
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def has(self, key: tuple) -> bool:
        """Whether anything is stored under `key` (maybe stale): a miss then needs no version read."""
        return key in self._entries

    def get(self, key: tuple, version: int, *, counted: bool = True) -> Entry | None:
        """The entry if it was stored under `version` and is fresh; `counted=False` leaves the hit to
        whoever serves it (the fast path may still hand the request to Flask)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (entry.version != version or self.clock() - entry.stored_at >= self.seconds):
                del self._entries[key]
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += counted
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
    """Call last in create_app, before trust_proxy: the WSGI fast path must see the request as
    the proxy fix leaves it, and the store must see the response with the security headers."""
    app.extensions["pagecache"] = PageCache(
        app.config["PAGECACHE_ENTRIES"], app.config["PAGECACHE_SECONDS"]
    )
    app.extensions["pagecache_own"] = PageCache(
        app.config["PAGECACHE_OWN_ENTRIES"], app.config["PAGECACHE_SECONDS"]
    )
    # Each member's last session check, good while no sign-out or role change anywhere bumped the
    # members' version; PAGECACHE_SECONDS bounds it if a bump was lost (Redis down at that moment).
    app.extensions["pagecache_checks"] = PageCache(MEMBER_CHECKS_KEPT, app.config["PAGECACHE_SECONDS"])
    app.before_request(_serve_from_cache)
    # after_request hooks run last-registered first: this one runs after add_security_headers (so a
    # stored page keeps them) and before the others (Cache-Control: no-store for members, which
    # belongs to the member's answer, not to the stored copy).
    hooks = app.after_request_funcs.setdefault(None, [])
    from webapp.security import add_security_headers

    hooks.insert(hooks.index(add_security_headers), _store_in_cache)
    hooks.insert(0, _keep_member_headers)  # runs last of all: the headers as every hook left them
    app.jinja_env.globals.update(hole=hole, in_skeleton=in_skeleton)
    app.wsgi_app = ServeFromCache(app, app.wsgi_app)


def _cache() -> PageCache:
    return current_app.extensions["pagecache"]


def _environ_key(environ: dict, audience: str) -> tuple:
    """What a stored page is found by: the same raw request fields for the WSGI fast path and Flask."""
    return (
        audience,
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}",
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        *(environ.get(name) for name in _KEY_ENVIRON),
    )


def _is_anonymous() -> bool:
    # Without loading a user: a session with a user id, or a remember-me cookie, is a member.
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return "_user_id" not in session and remember_cookie not in request.cookies


def _cache_key() -> tuple | None:
    if request.method != "GET" or not current_app.config["PAGECACHE_ENABLED"]:
        return None
    if _is_anonymous():
        return _environ_key(request.environ, VISITOR) if request.endpoint in CACHEABLE_ENDPOINTS else None
    # A member's page with a query (a filter aside) may carry a notice meant for them alone ("done=").
    if request.endpoint in OWN_ENDPOINTS and not request.query_string and isinstance(session.get("_user_id"), str):
        return _own_key(request.environ, session["_user_id"])
    if request.endpoint in MEMBER_ENDPOINTS and (request.endpoint == "events.index" or not request.query_string):
        return _environ_key(request.environ, MEMBER)
    return None


def _own_key(environ: dict, user_id: str) -> tuple:
    return (*_environ_key(environ, OWN), user_id)


def _own_cache() -> PageCache:
    return current_app.extensions["pagecache_own"]


def note_change(session: Session) -> None:
    """This transaction changes what a kept page shows though it writes only private rows (a
    member's calendar address on My events): its commit bumps the content version all the same."""
    session.info[CHANGED] = True


def _csrf_field() -> str:
    return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")


def _serve_from_cache():
    """Flask's side: remember a visitor's miss for the store; serve a member's page from its skeleton.

    (A visitor's hit, and a member's of a page whose only personal part is the menu, never get here:
    ServeFromCache answered them before Flask ran.)
    """
    key = _cache_key()
    if key is None:
        return None
    try:
        version = request.environ[VERSION_READ] if VERSION_READ in request.environ else read_content_version()
    except Exception:  # no version, no cache: render as if there were none
        log.exception("could not read the content version; serving uncached")
        return None
    if key[0] == MEMBER:
        return _serve_member(key, version)
    if key[0] == OWN:  # rendered by its view; kept once every hook has had its say (_keep_member_headers)
        request.environ[OWN_PENDING] = (key, version)
        return None
    if version is None:
        return None
    entry = _cache().get(key, version)
    if entry is None:
        request.environ[ENVIRON_KEY] = (key, version)
        return None
    return _response_from(entry, entry.body.replace(CSRF_PLACEHOLDER.encode(), _csrf_token().encode()))


def _csrf_token() -> str:
    from flask_wtf.csrf import generate_csrf

    return generate_csrf()


def _response_from(entry: Entry, body: bytes):
    response = current_app.response_class(body, status=entry.status, headers=entry.headers)
    if "ETag" in response.headers:  # a feed: the client's copy may be this one (304)
        response.make_conditional(request)
    return response


def _store_in_cache(response):
    pending = request.environ.pop(ENVIRON_KEY, None)
    if pending is None:
        return response
    entry = _entry_for(response, pending[1])
    if entry is not None:
        _cache().put(pending[0], entry)
    return response


def _entry_for(response, version: int | None, *, holes: tuple[str, ...] = (), personal: bool = False
               ) -> Entry | None:
    """What to keep of `response` (a 200 of at most MAX_BODY_BYTES that allows it), or None.

    `personal`: a member's own page, kept for them alone, so its `no-store` (for browsers and
    shared caches) does not stop it.
    """
    if version is None or response.status_code != 200 or response.is_streamed or response.direct_passthrough:
        return None
    if "no-store" in (response.headers.get("Cache-Control") or "") and not personal:
        return None  # a page that says so (an organizer's draft preview) is never kept
    body = response.get_data()
    if len(body) > MAX_BODY_BYTES:
        return None
    # The token the template put in this page (Flask-WTF keeps it on g for the request), if any.
    token = g.get(_csrf_field())
    has_csrf = bool(token) and token.encode() in body
    if has_csrf:
        body = body.replace(token.encode(), CSRF_PLACEHOLDER.encode())
    headers = [(name, value) for name, value in response.headers.items() if name.lower() not in UNSTORED_HEADERS]
    return Entry(version, _cache().clock(), response.status_code, headers, body, has_csrf, holes)


# --- Members: one skeleton per page, their own parts rendered per request ---------------------------

# hole name -> fill(**view_args) -> {hole name: HTML}; one call renders every hole it registered.
_FILLERS: dict[str, Callable[..., dict[str, str]]] = {}


def personal_parts(*names: str):
    """Register the function that renders these holes of a member's page, from the page's view args.

    It returns {name: HTML} for every name, or None when the page is not what its skeleton showed
    (the event is gone): the view then renders the whole page as without a cache.
    """
    def register(fill):
        for name in names:
            _FILLERS[name] = fill
        return fill
    return register


def in_skeleton() -> bool:
    """True while a member's page is rendered to be kept: its personal parts become holes."""
    return g.get("pagecache_skeleton", False)


def hole(name: str) -> Markup:
    if name not in _FILLERS:
        raise KeyError(f"no personal_parts() fill for the hole {name!r}")
    return Markup(HOLE_MARK.format(name))


def render_parts(template: str, names: tuple[str, ...], **context) -> dict[str, str]:
    """Blocks of `template` rendered alone with one context (the context processors run once)."""
    from jinja2_fragments import render_block

    current_app.update_template_context(context)
    return {name: render_block(current_app.jinja_env, template, name, **context) for name in names}


@personal_parts("member_nav")
def _member_nav(**_view_args) -> dict[str, str]:
    return render_parts("base.html", ("member_nav",))


def _serve_member(key: tuple, version: int | None):
    entry = _cache().get(key, version) if version is not None else None
    if entry is not None and not db.session().in_transaction():
        # A hit only reads (the member, their parts), one statement at a time: in autocommit there is
        # no BEGIN before the first and no ROLLBACK after the last, two round trips of three.
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    if entry is None:
        # Render the page once as its skeleton, keep it, and fill it like a hit: the fill path is the
        # only one a member's page takes, so what a hit shows is what every member's page is tested with.
        g.pagecache_skeleton = True
        try:
            response = current_app.make_response(
                current_app.ensure_sync(current_app.view_functions[request.endpoint])(**request.view_args)
            )
        finally:
            g.pagecache_skeleton = False
        if response.is_streamed or response.direct_passthrough:
            return response
        holes = tuple(dict.fromkeys(name.decode() for name in _HOLE.findall(response.get_data())))
        entry = _entry_for(response, version, holes=holes)
        if entry is not None:
            _cache().put(key, entry)
        else:  # not kept (a 404, a draft's no-store preview): still this member's page, so filled
            entry = Entry(-1, 0.0, response.status_code, list(response.headers.items()), response.get_data(),
                          False, holes)
    parts = _member_parts(entry)
    if parts is None:
        return None  # the page changed under its skeleton: the view renders it whole
    token = _csrf_token()
    if entry.version >= 0 and _signed_in():
        _keep_for_the_fast_path(entry, parts, token)
    return _response_from(entry, assemble(entry, parts, token))


# A members' page with no personal part but its menu (home, events, groups, About).
MENU_ONLY = frozenset({"member_nav"})
MEMBER_PARTS_PER_PAGE = 2000  # members whose parts one stored page keeps (about 5 KB each)


def _keep_for_the_fast_path(entry: Entry, parts: dict[str, str], token: str) -> None:
    """Keep what ServeFromCache needs to answer this kind of member, or this member, without Flask."""
    facts = _menu_facts_of_current_member()
    if set(entry.holes) <= MENU_ONLY:
        if "member_nav" in parts:
            entry.menus.setdefault(facts, parts["member_nav"].replace(token, CSRF_PLACEHOLDER))
    elif not (facts.organizes or facts.staff) and len(entry.member_parts) < MEMBER_PARTS_PER_PAGE:
        # Organizers' and staff's parts can show what changes without a version bump (messages sent).
        entry.member_parts[session["_user_id"]] = {
            name: html.replace(token, CSRF_PLACEHOLDER) for name, html in parts.items()}
    g.pagecache_member_entry = entry  # and _keep_member_headers the headers


def _signed_in() -> bool:
    # Not an ended session's copied cookie, which gets the member's key but a signed-out page.
    from flask_login import current_user

    return current_user.is_authenticated


def _menu_facts_of_current_member():
    from flask_login import current_user

    from webapp.accounts.services import MenuFacts
    from webapp.groups.services import organizes_a_group

    return MenuFacts.of(current_user, organizes_a_group(db.session, current_user))


def _member_parts(entry: Entry) -> dict[str, str] | None:
    """This member's parts of the entry's page, rendered by their fillers; None if the page is gone."""
    parts: dict[str, str] = {}
    for name in entry.holes:
        if name not in parts:
            rendered = _FILLERS[name](**(request.view_args or {}))
            if rendered is None:
                return None
            parts.update(rendered)
    return parts


def assemble(entry: Entry, parts: dict[str, str], token: str) -> bytes:
    """The entry's page with `parts` in its holes and `token` wherever the CSRF placeholder is."""
    body = entry.body
    if entry.holes:
        pieces = _HOLE.split(body)  # text, name, text, name, ..., text
        pieces[1::2] = [parts[name.decode()].encode() for name in pieces[1::2]]
        body = b"".join(pieces)
    return body.replace(CSRF_PLACEHOLDER.encode(), token.encode())


def _keep_member_headers(response):
    """The first time Flask fills a members' page, keep the headers its hooks set; keep a member's
    own page (with those headers) for their next request."""
    own = request.environ.pop(OWN_PENDING, None)
    if own is not None and _signed_in():
        entry = _entry_for(response, own[1], personal=True)
        if entry is not None:
            entry.member_headers.extend(entry.headers)
            _own_cache().put(own[0], entry)
    entry = g.pop("pagecache_member_entry", None)
    if entry is not None and not entry.member_headers and response.status_code == entry.status:
        entry.member_headers.extend(
            (name, value) for name, value in response.headers.items() if name.lower() not in UNSTORED_HEADERS)
    return response


# --- Visitors: a stored page straight from WSGI ------------------------------------------------------


def flask_login_identifier(environ) -> str:
    """Flask-Login's session identifier (flask_login.utils._create_identifier), from the environ:
    the first X-Forwarded-For address (else the client's) and the User-Agent, as it formats them."""
    address = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR"))
    if address is not None:
        address = address.encode("utf-8").split(b",")[0].strip()
    user_agent = environ.get("HTTP_USER_AGENT")
    if user_agent is not None:
        user_agent = user_agent.encode("utf-8")
    return hashlib.sha512(f"{address}|{user_agent}".encode()).hexdigest()


class ServeFromCache:
    """A GET of a stored page is answered here, before Flask, its extensions and hooks, when it can be.

    A visitor's: read the content version (the "very next request" promise) and give the visitor
    their own CSRF token in the page, in their session cookie, as Flask-WTF would.
    A signed-in member's, for a page whose only personal part is the menu (home, events, groups,
    About): the same, and before it one statement that their session is still open (the rule
    load_user applies: a copied cookie after sign-out is refused here too) and says which menu
    they get; the menu itself was kept the first time Flask filled the page for that kind of member.
    Anything this cannot decide (a cookie it cannot read, a remember-me cookie without a session,
    a session Flask-Login would change, a bad character in an htmx header, a version it cannot
    read, a page or menu not kept yet) goes to Flask, which serves it as before.
    """

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self._serializers: tuple | None = None
        self._engine = None

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and self.app.config["PAGECACHE_ENABLED"]:
            response = self._hit(environ)
            if response is not None:
                return response(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _hit(self, environ):
        cache = self.app.extensions.get("pagecache")
        if cache is None or any(CONTROL_CHARACTERS.search(environ[name]) for name in _HTMX_ENVIRON if name in environ):
            return None
        session_data = self._session_data(environ)
        if session_data is None:
            return None
        audience = MEMBER if "_user_id" in session_data else VISITOR
        key = _environ_key(environ, audience)
        if audience == MEMBER and not cache.has(key) and isinstance(session_data["_user_id"], str):
            cache = self.app.extensions["pagecache_own"]  # My events: this session's own copy
            key = _own_key(environ, session_data["_user_id"])
        if not cache.has(key):
            return None
        if audience == MEMBER and not self._member_session_as_flask_login_leaves_it(environ, session_data):
            return None
        try:
            version = read_content_version(self.app)
        except Exception:
            log.exception("could not read the content version; serving uncached")
            return None
        environ[VERSION_READ] = version
        entry = cache.get(key, version, counted=False) if version is not None else None
        if entry is None:
            return None
        parts = {}
        if audience == MEMBER:
            if not entry.member_headers:
                return None
            if key[0] == OWN or set(entry.holes) <= MENU_ONLY:
                facts = self._menu_facts(session_data["_user_id"])
                if facts is None:
                    return None  # an ended session: Flask signs the browser out
                if entry.holes:
                    if facts not in entry.menus:
                        return None
                    parts["member_nav"] = entry.menus[facts]
            else:
                kept = entry.member_parts.get(session_data["_user_id"])
                if kept is None:
                    return None
                facts = self._menu_facts(session_data["_user_id"])
                if facts is None or facts.organizes or facts.staff:
                    return None
                parts = kept
        cache.hits += 1
        headers = entry.member_headers if audience == MEMBER else entry.headers
        if not entry.has_csrf and not parts:
            response = self.app.response_class(entry.body, status=entry.status, headers=headers)
        else:
            interface = self.app.session_interface
            browser = interface.session_class(session_data)
            browser.accessed = True  # as Flask-WTF's read through Flask's session proxy marks it
            field_name = self.app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
            if not isinstance(browser.get(field_name), str):  # Flask-WTF's generate_csrf, step for step
                browser[field_name] = hashlib.sha1(os.urandom(64)).hexdigest()
            token = self._csrf_serializer().dumps(browser[field_name])
            response = self.app.response_class(assemble(entry, parts, token), status=entry.status, headers=headers)
            interface.save_session(self.app, browser, response)  # Vary: Cookie; a new visitor's cookie
        if "ETag" in response.headers:
            response.make_conditional(environ)
        return response

    def _session_data(self, environ) -> dict | None:
        """The browser's session data ({} for none), or None when Flask must decide."""
        header = environ.get("HTTP_COOKIE")
        if not header:
            return {}
        cookies = parse_cookie(header)
        config = self.app.config
        value = cookies.get(config["SESSION_COOKIE_NAME"])
        if not value:
            # Flask-Login would sign a remember-me cookie's member in (or clear it): Flask's to do.
            return None if config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies else {}
        serializer = self._session_serializer()
        if serializer is None:
            return None
        try:
            data = serializer.loads(value, max_age=int(self.app.permanent_session_lifetime.total_seconds()))
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        if "_user_id" not in data and config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies:
            return None
        return data

    def _member_session_as_flask_login_leaves_it(self, environ, data: dict) -> bool:
        """Whether Flask-Login would load this member without touching the session or a cookie."""
        if not isinstance(data.get("_user_id"), str) or "_remember" in data:
            return False  # a remember-me cookie to set or clear on the way out
        # Session protection ("basic"): another address or browser marks the session not fresh.
        return data.get("_id") == flask_login_identifier(environ)

    def _menu_facts(self, user_id: str):
        """The member's menu facts if their session is open, else None: from this process's last check
        of it while the members' version is unchanged (with Redis), else one statement."""
        from webapp.accounts.services import menu_facts_if_signed_in

        members_version = self._members_version()  # read before the check, as the content version is
        checks = self.app.extensions["pagecache_checks"]
        now = utcnow()
        if members_version is not None:
            kept = checks.get(user_id, members_version, counted=False)
            if kept is not None and now < kept.open_until:
                return kept.facts
        try:
            with self.app.app_context():
                if self._engine is None or self._engine[0] is not db.engine:
                    # Autocommit: one SELECT, no BEGIN before it or ROLLBACK after it.
                    self._engine = (db.engine, db.engine.execution_options(isolation_level="AUTOCOMMIT"))
                with self._engine[1].connect() as connection:
                    open_session = menu_facts_if_signed_in(connection, user_id, now=now)
        except Exception:
            log.exception("could not check a member's session; Flask will")
            return None
        if open_session is None:
            return None
        if members_version is not None:
            checks.put(user_id, KeptCheck(members_version, checks.clock(), *open_session))
        return open_session.facts

    def _members_version(self) -> int | None:
        """The members' version from Redis (kept by client tracking, stamped with its connection's
        epoch), or None: no check is kept then."""
        tracked = _tracked_version(self.app)
        if tracked is None:
            return None
        try:
            version = tracked.read_stamped(MEMBERS_KEY)
            if version is None:  # Redis lost it (or never had it): start again far from old numbers
                _redis(self.app).set(MEMBERS_KEY, _random_start(), nx=True)
            return version
        except Exception:
            log.exception("could not read the members' version; checking the session in the database")
            return None

    def _session_serializer(self):
        return self._signers()[0]

    def _csrf_serializer(self):
        return self._signers()[1]

    def _signers(self) -> tuple:
        """The session's and Flask-WTF's signers, made once per secret (a test may change it)."""
        config = self.app.config
        secrets_now = (config.get("SECRET_KEY"), tuple(config.get("SECRET_KEY_FALLBACKS") or ()),
                       config.get("WTF_CSRF_SECRET_KEY"))
        if self._serializers is None or self._serializers[0] != secrets_now:
            csrf_secret = config.get("WTF_CSRF_SECRET_KEY") or self.app.secret_key
            self._serializers = (
                secrets_now,
                (self.app.session_interface.get_signing_serializer(self.app),
                 URLSafeTimedSerializer(csrf_secret, salt="wtf-csrf-token")),
            )
        return self._serializers[1]
