"""Register for all 26 sessions of a series, against one single-event registration (issue 20):
`.venv/bin/python bench/series_registration.py` or `make bench-series` (docs/benchmarks.md).

One run, on loopback only, bounded in time (bench/harness.py):
1. on private services (bench/harness.py: a PostgreSQL cluster and a Redis of its own) makes the
   database `meetups_bench_series`, migrates it, and per
   round (and a warm-up round) makes one weekly series of SESSIONS online sessions, each with
   CAPACITY seats, through the app's own create_series, and one single event with the same
   capacity; and for each round 2 x REQUESTS members, each signed in with a real user_sessions row
   (as bench/registration_burst.py does), with a session cookie and CSRF token of their own;
2. starts gunicorn (WORKERS sync workers, production settings);
3. per round, interleaved: REQUESTS POSTs of Register for all (/series/<slug>/register) by as
   many members, then REQUESTS POSTs of Register (/events/<slug>/register) by as many others,
   each from CONCURRENCY client threads keeping the server busy; requests/s is the count over
   the span from the first request sent to the last answer;
4. checks the database: every series member registered (confirmed or waitlisted) in every
   session, one series registration and one queued mail each; no session or event with more
   confirmed than its capacity, its counters equal to its rows, its line numbered 1..n; every
   answer 200.

A round's own series and event are its reset: no round registers anyone already registered.
Target: series req/s >= 0.3 of the single event's (median of ROUNDS rounds' ratios).
Knobs (environment): SESSIONS (26), CAPACITY (60), REQUESTS (120),
CONCURRENCY (8), WORKERS (2), ROUNDS (3), BENCH_OUT (a folder for the report), PROFILE (a folder:
py-spy the workers during one more series burst).
The last line printed is the BENCH-RESULT line bench/all.py reads.
Exit status 0 when the target is met, 1 when it is missed, 2 when the run itself is wrong.
"""

from __future__ import annotations

import http.client
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    Gunicorn,
    PySpy,
    bench_app,
    children,
    load_average,
    private_services,
    result_line,
    row,
)

SESSIONS = int(os.environ.get("SESSIONS", 26))
CAPACITY = int(os.environ.get("CAPACITY", 60))
REQUESTS = int(os.environ.get("REQUESTS", 120))
CONCURRENCY = int(os.environ.get("CONCURRENCY", 8))
WORKERS = int(os.environ.get("WORKERS", 2))
ROUNDS = int(os.environ.get("ROUNDS", 3))
PROFILE = Path(os.environ["PROFILE"]) if os.environ.get("PROFILE") else None
TARGET = 0.3
# Every request sends it, as a browser would: the session-protection identifier is made from it.
USER_AGENT = "series-bench/1"


def populate(app, db, now, rounds: int) -> list[dict]:
    """Per round: a series of SESSIONS sessions, a single event, and signed-in members for each."""
    from datetime import time as clock

    from flask import g, session
    from flask_login import login_user
    from flask_wtf.csrf import generate_csrf

    from webapp.accounts.models import User
    from webapp.accounts.services import start_session
    from webapp.events.models import Event, EventStatus
    from webapp.groups.models import Group
    from webapp.series import services
    from webapp.series.recurrence import rule_for

    group = Group(slug="bench-series", name="Series Bench Meetup", is_active=True, description="Benchmarks.")
    db.session.add(group)
    db.session.flush()
    first_on = (now + timedelta(days=3)).date()
    plan = []
    for n in range(rounds):
        fields = services.SeriesFields(
            title=f"Weekly chat {n}", description="A weekly chat.\n\n" * 4, rrule=rule_for("weekly", first_on),
            first_on=first_on, local_time=clock(18), duration_minutes=60, end_count=SESSIONS, end_on=None,
            is_online=True, capacity=CAPACITY, meeting_url="https://zoom.us/j/42")
        series = services.create_series(db.session, group, fields, actor=None, now=now)
        starts = now + timedelta(days=5)
        event = Event(group_id=group.id, slug=f"single-{n}", title=f"Single event {n}", summary="",
                      description="A single event.\n\n" * 4, starts_at=starts, ends_at=starts + timedelta(hours=1),
                      is_online=True, meeting_url="https://zoom.us/j/43", capacity=CAPACITY,
                      status=EventStatus.SCHEDULED, created_at=now, updated_at=now)
        db.session.add(event)
        users = [User(email=f"r{n}-m{i}@example.org", display_name=f"Member {n}.{i}") for i in range(2 * REQUESTS)]
        db.session.add_all(users)
        db.session.flush()
        made = len(services.sessions_of(db.session, series.id))
        if made != SESSIONS:
            raise SystemExit(f"the series has {made} sessions, not {SESSIONS}")
        for user in users:  # an open user_sessions row each, as a sign-in link leaves: login_user needs it
            start_session(db.session, user, now=now)
        db.session.commit()
        serializer = app.session_interface.get_signing_serializer(app)
        credentials = []
        for user in users:
            with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                          headers={"User-Agent": USER_AGENT}):
                g.pop("csrf_token", None)  # Flask-WTF caches the token on g
                login_user(user)
                token = generate_csrf()
                credentials.append((user.id, serializer.dumps(dict(session)), token))
        plan.append({"series_id": series.id, "series": series.slug, "event_id": event.id, "event": event.slug,
                     "series_members": credentials[:REQUESTS], "event_members": credentials[REQUESTS:],
                     "series_emails": [user.email for user in users[:REQUESTS]]})
    return plan


def _send(port: int, work: queue.Queue, results: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while True:
        try:
            path, cookie, token = work.get_nowait()
        except queue.Empty:
            break
        started = time.perf_counter()
        try:
            conn.request("POST", path, body=f"csrf_token={token}", headers={
                "Cookie": f"session={cookie}", "Content-Type": "application/x-www-form-urlencoded",
                "HX-Request": "true", "User-Agent": USER_AGENT})
            response = conn.getresponse()
            response.read()
            status = response.status
        except Exception as exc:  # noqa: BLE001 - counted as a failure
            status = f"error {type(exc).__name__}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        results.append((started, time.perf_counter() - started, status))
    conn.close()


def load(port: int, path: str, members: list[tuple[int, str, str]]) -> dict:
    """Each member POSTs once; CONCURRENCY threads keep that many requests in flight."""
    work: queue.Queue = queue.Queue()
    for _, cookie, token in members:
        work.put((path, cookie, token))
    results: list = []
    threads = [threading.Thread(target=_send, args=(port, work, results)) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    latencies = sorted(r[1] for r in results)
    span = max(r[0] + r[1] for r in results) - min(r[0] for r in results)
    return {"count": len(results), "rps": len(results) / span,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
            "bad": [r[2] for r in results if r[2] != 200]}


def check(db, spec: dict) -> list[str]:
    """What must hold after a round; each broken rule as a sentence."""
    from sqlalchemy import func, select

    from webapp.events.models import Event
    from webapp.outbox.models import OutboxMail
    from webapp.registrations.models import Registration, RegistrationStatus
    from webapp.series.models import SeriesRegistration

    problems = []
    events = list(db.session.scalars(select(Event).where(
        (Event.series_id == spec["series_id"]) | (Event.id == spec["event_id"]))))
    for event in events:
        regs = list(db.session.scalars(select(Registration).where(Registration.event_id == event.id)))
        confirmed = [r for r in regs if r.status == RegistrationStatus.CONFIRMED]
        waitlisted = sorted(r.queue_number for r in regs if r.status == RegistrationStatus.WAITLISTED)
        if len(confirmed) > event.capacity:
            problems.append(f"{event.slug}: {len(confirmed)} confirmed, capacity {event.capacity}")
        if (event.confirmed_count, event.waitlist_count) != (len(confirmed), len(waitlisted)):
            problems.append(f"{event.slug}: counters {event.confirmed_count}/{event.waitlist_count}, "
                            f"rows {len(confirmed)}/{len(waitlisted)}")
        if waitlisted != list(range(1, len(waitlisted) + 1)):
            problems.append(f"{event.slug}: line numbered {waitlisted[:5]}…")
        expected = {m[0] for m in spec["series_members" if event.series_id else "event_members"]}
        if {r.user_id for r in regs} != expected or len(regs) != len(expected):
            problems.append(f"{event.slug}: {len(regs)} registrations, not one for each of {len(expected)} members")
    sessions = sum(1 for e in events if e.series_id)
    if sessions != SESSIONS:
        problems.append(f"series {spec['series']}: {sessions} sessions")
    records = db.session.scalar(select(func.count()).select_from(SeriesRegistration).where(
        SeriesRegistration.series_id == spec["series_id"], SeriesRegistration.cancelled_at.is_(None)))
    if records != REQUESTS:
        problems.append(f"series {spec['series']}: {records} series registrations, not {REQUESTS}")
    mails = db.session.scalar(select(func.count()).select_from(OutboxMail).where(
        OutboxMail.recipient.in_(spec["series_emails"])))
    if mails != REQUESTS:
        problems.append(f"series {spec['series']}: {mails} mails queued for {REQUESTS} members, not one each")
    return problems


def main() -> int:
    out = Path(os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix="bench-series-"))
    out.mkdir(parents=True, exist_ok=True)
    with private_services() as services:
        from webapp.db import db, utcnow

        db_url, redis_url = services.database("meetups_bench_series"), services.fresh_redis()
        # Long enough a horizon that create_series makes all SESSIONS weekly sessions at once.
        app = bench_app(db_url, out, redis_url, SERIES_HORIZON_DAYS=7 * SESSIONS + 30)
        with app.app_context():
            warmup, *plan = populate(app, db, utcnow(), ROUNDS + 1 + (1 if PROFILE else 0))
            db.session.remove()
            db.engine.dispose()
        profiled = plan.pop() if PROFILE else None

        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench-secret",
               "SITE_URL": "http://meetups.bench", "BENCH_HELLO": "1",  # /hello: how Gunicorn knows it is up
               "PYTHONDONTWRITEBYTECODE": "1", "INSTANCE_PATH": str(out)}
        env.pop("FLASK_DEBUG", None)
        results, problems, profile = [], [], None
        with Gunicorn(env, WORKERS, out / "gunicorn.log") as server:
            for n, spec in enumerate([warmup, *plan]):
                series = load(server.port, f"/series/{spec['series']}/register", spec["series_members"])
                single = load(server.port, f"/events/{spec['event']}/register", spec["event_members"])
                for name, result in (("series", series), ("single", single)):
                    if result["bad"]:
                        problems.append(f"round {n} {name}: answers {sorted(set(map(str, result['bad'])))}")
                print(f"series-bench: round {n}{' (warm-up)' if not n else ''}: series {series['rps']:.1f} req/s, "
                      f"single {single['rps']:.1f} req/s, ratio {series['rps'] / single['rps']:.2f}, "
                      f"load {load_average()}", flush=True)
                if n:
                    results.append((series, single, load_average()))
            if profiled:
                with PySpy(children(server.pid), PROFILE) as spy:
                    load(server.port, f"/series/{profiled['series']}/register", profiled["series_members"])
                profile = spy.summary(40)
        with app.app_context():
            for n, spec in enumerate([warmup, *plan]):
                problems += [f"round {n}: {p}" for p in check(db, spec)]
            db.session.remove()
            db.engine.dispose()

    report, met, rows = render_report(results, problems)
    if profile:
        report += f"\n\npy-spy, Register for all (inclusive share of the workers' samples):\n{profile}"
    (out / "report.md").write_text(report + "\n", encoding="utf-8")
    print()
    print(report)
    print(f"\nseries-bench: report in {out}")
    if problems:
        print("Problems: " + "; ".join(problems), file=sys.stderr)
    print(result_line("series", rows, valid=not problems, problems=problems))
    if problems:
        return 2
    return 0 if met else 1


def render_report(results: list, problems: list[str]) -> tuple[str, bool, list[dict]]:
    ratios = [s["rps"] / e["rps"] for s, e, _ in results]
    ratio = statistics.median(ratios)
    met = ratio >= TARGET
    rows = [row(f"Register for all ({SESSIONS} sessions) ÷ Register", ratio, f"≥ {TARGET:g}", met,
                f"{REQUESTS} members each press Register for all, {REQUESTS} others Register for one event, "
                f"{CONCURRENCY} in flight; req/s ratio, per round {', '.join(f'{r:.2f}' for r in ratios)}",
                unit="×")]

    def line(name: str, runs: list[dict], ratio_text: str, per_round: str) -> str:
        return (f"| {name} | {statistics.median(r['rps'] for r in runs):,.1f} | {ratio_text} | {per_round} | "
                f"{statistics.median(r['p50_ms'] for r in runs):,.0f} / "
                f"{statistics.median(r['p99_ms'] for r in runs):,.0f} ms |")

    lines = [
        f"{len(results)} rounds · gunicorn --workers {WORKERS} (sync) · {REQUESTS} POSTs per kind and round, "
        f"{CONCURRENCY} in flight · PostgreSQL · series of {SESSIONS} sessions, {CAPACITY} seats each · "
        f"load average at the end {load_average()}",
        "",
        "| request | req/s (median) | ratio to single (median) | ratio per round | p50 / p99 (median) |",
        "| --- | ---: | ---: | --- | --- |",
        line("Register (one event)", [e for _, e, _ in results], "1.00", "(baseline)"),
        line(f"Register for all ({SESSIONS} sessions)", [s for s, _, _ in results], f"{ratio:.2f}",
             ", ".join(f"{r:.2f}" for r in ratios)),
        "",
        f"Target ≥ {TARGET}: {'met' if met else '**missed**'}. "
        f"Correctness: {'every check passed' if not problems else '; '.join(problems)}.",
    ]
    return "\n".join(lines), met, rows


if __name__ == "__main__":
    sys.exit(main())
