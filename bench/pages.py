"""Visitors' and members' pages against a bare Flask hello, and first-load weight (issue 23):
`.venv/bin/python bench/pages.py`, or `make bench ONLY=pages` (docs/benchmarks.md).

One run, on loopback only, on private services (bench/harness.py: a PostgreSQL cluster and a
Redis of its own), bounded in time:
1. a database of its own: migrations, the real seed data (`flask seed`), topped up to
   BENCH_GROUPS groups and BENCH_EVENTS events (bench/populate.py); MEMBERS members, each signed
   in as the mailed link leaves them (a user_sessions row, `login_user`: a real session cookie);
   of them, some registered for the benchmarked event (confirmed, and some waitlisted: the event
   is capped for it), most following its group, and each registered for two other events, so the
   personal parts of the pages (registration panel, follow button, My events) really render;
2. two gunicorns with the same settings (WORKERS sync workers): the site (production settings,
   BENCH_HELLO=1, page cache on) and bench/bare_hello.py, a bare Flask app with one route;
3. checks every page answers 200, the members' pages as that member (signed in), and warms up;
4. ROUNDS rounds, each interleaving, one after the other with wrk -tTHREADS -cCONNECTIONS
   -dDURATION: the bare hello, the site's /hello, the visitors' pages (home, /events, an event
   page, a group page; anonymous, so page-cache hits) and the members' pages (the same and My
   events; a Lua script gives each request the next member's cookie, so it is not one member
   re-viewing one page). Each page's req/s is divided by the bare hello's of its round (and by the
   site's /hello), and the median of the rounds is reported;
5. first-load weight (bench/weight.py) of home, /events and the event page.

Targets: visitors' pages >= 0.6 x bare hello; members' pages >= 0.35 x bare hello; each page
<= MAX_KB gzipped. Knobs (environment): DURATION (5, seconds), WARMUP (2), ROUNDS (3),
THREADS (2), CONNECTIONS (8), WORKERS (2), MEMBERS (200), BENCH_GROUPS (25), BENCH_EVENTS (300),
MAX_KB (60), BENCH_APP (the WSGI app gunicorn serves, default "webapp:create_app()": a variant to
compare), PAGECACHE_ENABLED, BENCH_OUT (a folder for wrk's raw output; default a temp folder),
PROFILE (a folder: py-spy the site's workers, one more run per page, when py-spy is installed).
The last line printed is the BENCH-RESULT line bench/all.py reads. Exit status 0 every target
met, 1 one missed, 2 the run itself went wrong.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    Gunicorn,
    PySpy,
    bench_app,
    children,
    exit_status,
    get,
    load_average,
    private_services,
    result_line,
    row,
    wrk,
)

DURATION = int(os.environ.get("DURATION", 5))
WARMUP = int(os.environ.get("WARMUP", 2))
ROUNDS = int(os.environ.get("ROUNDS", 3))
THREADS = int(os.environ.get("THREADS", 2))
CONNECTIONS = int(os.environ.get("CONNECTIONS", 8))
WORKERS = int(os.environ.get("WORKERS", 2))
MEMBERS = int(os.environ.get("MEMBERS", 200))
BENCH_GROUPS = int(os.environ.get("BENCH_GROUPS", 25))
BENCH_EVENTS = int(os.environ.get("BENCH_EVENTS", 300))
MAX_KB = float(os.environ.get("MAX_KB", 60))
BENCH_APP = os.environ.get("BENCH_APP", "webapp:create_app()")
# A folder: after the rounds, py-spy samples the site's workers under wrk, one run per page and kind.
PROFILE = Path(os.environ["PROFILE"]) if os.environ.get("PROFILE") else None
VISITOR_TARGET, MEMBER_TARGET = 0.6, 0.35
# Every member request sends it, as a browser would: Flask-Login's session identifier is made from
# the address and the User-Agent, and a mismatch would mark each request's session stale.
USER_AGENT = "pages-bench/1"
SECRET_KEY = "bench-secret"

# Lua for wrk: each request carries the next member's session cookie (each thread starts at its
# own place in the list); answers other than 200 (a redirect to sign-in) are counted and printed.
MEMBER_LUA = """
local cookies = {}
for line in io.lines("%(cookies)s") do cookies[#cookies + 1] = line end
local threads = {}
function setup(thread)
  thread:set("offset", #threads * 53)
  table.insert(threads, thread)
end
local n = 0
bad = 0
function init(args) n = offset end
function request()
  n = n %% #cookies + 1
  return wrk.format("GET", nil, {["Cookie"] = "session=" .. cookies[n], ["User-Agent"] = "%(agent)s"})
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("Not 200: %%d\\n", total))
end
"""


def prepare(app, db) -> dict:
    """Seed and top up the database; make the members; name the pages to measure."""
    from flask import g, session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf
    from sqlalchemy import select

    from bench import populate
    from webapp.accounts.models import User
    from webapp.accounts.services import start_session
    from webapp.display import site_zone
    from webapp.events.models import Event, EventStatus
    from webapp.follows.services import follow_group
    from webapp.registrations.models import Registration, RegistrationStatus
    from webapp.registrations.services import RegistrationError, register
    from webapp.seed import seed

    now = datetime.now(UTC)
    zone = site_zone()
    seed(db.session, today=datetime.now(zone).date(), zone=zone, redate=False, refresh=False)
    db.session.commit()
    rng = random.Random(20261123)
    populate.add_groups(rng, BENCH_GROUPS)
    populate.add_events(rng, BENCH_EVENTS, now)
    db.session.commit()
    slug = populate.pick_event_slug(now)
    if slug is None:
        raise SystemExit("no upcoming event with a group to benchmark")
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    group = event.group

    users = [User(email=f"member{n:04d}@example.org", display_name=f"Member {n}") for n in range(MEMBERS)]
    db.session.add_all(users)
    db.session.flush()
    for user in users:  # an open user_sessions row each, as a sign-in link leaves: login_user needs it
        start_session(db.session, user, now=now)
    # The event capped so that of the members who register, the last fifth wait in line.
    registering = users[: max(MEMBERS * 3 // 10, 2)]
    event.capacity = event.confirmed_count + len(registering) * 4 // 5
    db.session.flush()
    for user in registering:
        register(db.session, event.id, member=user, now=now, mail=False)
    others = list(db.session.scalars(
        select(Event.id).where(Event.status == EventStatus.SCHEDULED, Event.capacity.is_(None),
                               Event.starts_at > now + timedelta(days=1), Event.id != event.id)
        .order_by(Event.starts_at).limit(40)))
    for n, user in enumerate(users):  # My events lists more than one event
        for other in (others[n % len(others)], others[(n * 7 + 3) % len(others)]) if others else ():
            try:
                register(db.session, other, member=user, now=now, mail=False)
            except RegistrationError:
                pass
        if n % 4 != 3:  # three in four follow the group
            follow_group(db.session, group.id, member=user, now=now)
    db.session.commit()
    statuses = list(db.session.scalars(select(Registration.status).where(
        Registration.event_id == event.id, Registration.user_id.in_([u.id for u in registering]))))
    confirmed = sum(1 for s in statuses if s == RegistrationStatus.CONFIRMED)
    waitlisted = sum(1 for s in statuses if s == RegistrationStatus.WAITLISTED)

    serializer = app.session_interface.get_signing_serializer(app)
    cookies = []
    for user in users:
        # The session the emailed sign-in link leaves (login_user: the user id with its session
        # key, fresh, the session-protection identifier of this client's address and User-Agent).
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                      headers={"User-Agent": USER_AGENT}):
            g.pop("csrf_token", None)
            login_user(user)
            generate_csrf()  # the CSRF secret a browser's session holds from its first page on
            cookies.append(serializer.dumps(dict(session)))
    return {"event": slug, "group": group.slug, "cookies": cookies, "confirmed": confirmed,
            "waitlisted": waitlisted, "followers": sum(1 for n in range(MEMBERS) if n % 4 != 3)}


def check_pages(site: Gunicorn, bare: Gunicorn, visitors: dict, members: dict, cookies: list[str]) -> list[str]:
    """Every page answers 200; a member's page is that member's (signed in). Each member's My events
    is opened once here: the first look makes the member's private calendar address (one write)."""
    problems = []
    if get(bare.base + "/hello")[2] != b"Hello":
        problems.append("the bare hello does not say Hello")
    for name, path in visitors.items():
        status, headers, body = get(site.base + path)
        if status != 200 or b"Sign out" in body:
            problems.append(f"visitors' {name} {path} -> {status}")

    def look(cookie: str, path: str) -> tuple[int, bytes]:
        status, _, body = get(site.base + path, {"Cookie": f"session={cookie}", "User-Agent": USER_AGENT})
        return status, body

    with ThreadPoolExecutor(4) as pool:
        firsts = list(pool.map(lambda c: look(c, members["my events"]), cookies))
    if any(status != 200 for status, _ in firsts):
        problems.append(f"My events: {sum(1 for s, _ in firsts if s != 200)} members not answered 200")
    for name, path in members.items():
        for cookie in cookies[:3]:
            status, body = look(cookie, path)
            if status != 200 or b"Sign out" not in body:
                problems.append(f"members' {name} {path} -> {status}{'' if b'Sign out' in body else ', not signed in'}")
    return problems


def measure(site: Gunicorn, bare: Gunicorn, visitors: dict, members: dict, script: Path, out: Path):
    """ROUNDS interleaved rounds; {(kind, page): [WrkResult per round]}."""
    runs = [("bare", "hello", bare, "/hello", None), ("site", "hello", site, "/hello", None)]
    runs += [("visitors", name, site, path, None) for name, path in visitors.items()]
    runs += [("members", name, site, path, script) for name, path in members.items()]
    for _kind, _name, server, path, lua in runs:  # warm up: imports, templates, pools, the cache
        wrk(server.base + path, threads=1, connections=4, seconds=WARMUP, script=lua)
        server.drain()
    results: dict[tuple[str, str], list] = {}
    for round_ in range(1, ROUNDS + 1):
        for kind, name, server, path, lua in runs:
            result = wrk(server.base + path, threads=THREADS, connections=CONNECTIONS, seconds=DURATION,
                         script=lua)
            (out / f"r{round_}-{kind}-{name}.txt".replace(" ", "-")).write_text(result.raw)
            results.setdefault((kind, name), []).append(result)
            server.drain()
            print(f"pages: round {round_} {kind:8} {name:9} {result.rps:8.0f} req/s"
                  f"{f'  ({result.bad} bad)' if result.bad else ''}", flush=True)
    if PROFILE:  # where a request's time goes: py-spy on both of the site's workers, under wrk
        for kind, name, server, path, lua in runs:
            if server is not site:
                continue
            with PySpy(children(site.pid), PROFILE / f"{kind}-{name}".replace(" ", "-")) as spy:
                wrk(site.base + path, threads=THREADS, connections=CONNECTIONS, seconds=DURATION, script=lua)
            site.drain()
            (PROFILE / f"{kind}-{name}.txt".replace(" ", "-")).write_text(spy.summary(60) + "\n")
            print(f"pages: profile of {kind}' {name} in {PROFILE}", flush=True)
    return results


def rows_for(results: dict, weights: list[tuple[str, dict]]) -> tuple[list[dict], list[str]]:
    rows, problems = [], []
    bare = [r.rps for r in results[("bare", "hello")]]
    hello = [r.rps for r in results[("site", "hello")]]
    for (kind, name), runs in results.items():
        problems += [f"{kind} {name}: {r.bad} errors or answers other than 200" for r in runs if r.bad]
    rows.append(row("bare Flask hello", statistics.median(bare), "", None,
                    f"bench/bare_hello.py under the same gunicorn ({WORKERS} sync workers): the baseline",
                    unit="req/s"))
    to_bare = [h / b for h, b in zip(hello, bare, strict=True)]
    rows.append(row("the site's /hello ÷ bare hello", statistics.median(to_bare), "", None,
                    "the middleware every request pays (BENCH_HELLO=1)", unit="×"))
    for kind, target, who in (("visitors", VISITOR_TARGET, "anonymous: page-cache hits"),
                              ("members", MEMBER_TARGET, f"signed in, each request the next of {MEMBERS} "
                                                         "members' session cookies")):
        for (k, name), runs in results.items():
            if k != kind:
                continue
            ratios = [r.rps / b for r, b in zip(runs, bare, strict=True)]
            to_hello = [r.rps / h for r, h in zip(runs, hello, strict=True)]
            ratio = statistics.median(ratios)
            rows.append(row(
                f"{kind}' {name}", ratio, f"≥ {target:g} × bare hello", ratio >= target,
                f"{who}; {statistics.median(r.rps for r in runs):,.0f} req/s, "
                f"{statistics.median(to_hello):.2f} × the site's /hello, per round "
                f"{', '.join(f'{x:.2f}' for x in ratios)}, p99 "
                f"{statistics.median(r.p99_ms for r in runs if r.p99_ms is not None):.0f} ms", unit="×"))
    for name, page in weights:
        kb = page["total_gz"] / 1024
        problems += page["problems"]
        rows.append(row(f"first-load weight, {name}", kb, f"≤ {MAX_KB:g} KB", kb <= MAX_KB,
                        f"HTML {page['html_gz'] / 1024:.1f} + CSS {page['css_gz'] / 1024:.1f} + "
                        f"JS {page['js_gz'] / 1024:.1f} KB, gzipped ({page['path']})", unit="KB"))
    return rows, problems


def main() -> int:
    out = Path(os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix="bench-pages-"))
    out.mkdir(parents=True, exist_ok=True)
    with private_services() as services:
        from bench.weight import measure as page_weight
        from webapp.db import db

        db_url, redis_url = services.database("meetups_bench_pages"), services.fresh_redis()
        app = bench_app(db_url, out, redis_url, SECRET_KEY=SECRET_KEY)
        with app.app_context():
            plan = prepare(app, db)
            db.session.remove()
            db.engine.dispose()
        (out / "cookies.txt").write_text("\n".join(plan["cookies"]) + "\n")
        script = out / "members.lua"
        script.write_text(MEMBER_LUA % {"cookies": out / "cookies.txt", "agent": USER_AGENT})
        print(f"pages: {MEMBERS} signed-in members; the event /events/{plan['event']}: {plan['confirmed']} of them "
              f"confirmed, {plan['waitlisted']} waitlisted; {plan['followers']} follow /groups/{plan['group']}",
              flush=True)
        visitors = {"home": "/", "events": "/events", "event page": f"/events/{plan['event']}",
                    "group page": f"/groups/{plan['group']}"}
        members = {**visitors, "my events": "/my/events"}

        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SECRET_KEY": SECRET_KEY,
               "BENCH_HELLO": "1", "PYTHONDONTWRITEBYTECODE": "1", "INSTANCE_PATH": str(out)}
        env.pop("FLASK_DEBUG", None)
        with Gunicorn(env, WORKERS, out / "gunicorn-site.log", app=BENCH_APP) as site, \
                Gunicorn(env, WORKERS, out / "gunicorn-bare.log", app="bench.bare_hello:app") as bare:
            problems = check_pages(site, bare, visitors, members, plan["cookies"])
            if problems:
                print("\n".join(problems), file=sys.stderr)
                print(result_line("pages", [], valid=False, problems=problems))
                return 2
            results = measure(site, bare, visitors, members, script, out)
            weights = [(name, page_weight(site.base, visitors[name])) for name in ("home", "events", "event page")]
    rows, problems = rows_for(results, weights)
    print(f"\npages: {ROUNDS} rounds · gunicorn --workers {WORKERS} (sync) · wrk -t{THREADS} -c{CONNECTIONS} "
          f"-d{DURATION}s · load average {load_average()} · raw output in {out}")
    for r in rows:
        print(f"  {r['name']:36} {r['value']:10.3f} {r['target']:22} {r['met']}")
    if problems:
        print("Problems: " + "; ".join(problems), file=sys.stderr)
    print(result_line("pages", rows, valid=not problems, problems=problems))
    return exit_status(rows, not problems)


if __name__ == "__main__":
    sys.exit(main())
