"""Registration burst: N distinct members press Register for one capped event at once.

`.venv/bin/python bench/registration_burst.py` or `make bench ONLY=burst` (docs/benchmarks.md).
On private services (bench/harness.py: a PostgreSQL cluster and a Redis of its own), the script
prepares its database, starts gunicorn, and fires the POSTs from threads within about a second;
then it checks the result in the database: exactly CAPACITY confirmed, the rest waitlisted in
arrival order (queue numbers 1..N-CAPACITY in the order the server took them), zero 5xx. It
reports p50/p99 latency and throughput, and the same for the same members' signed-in GETs of
the event page in the same run (and, for context, anonymous GETs: page-cache hits).

A round is one anonymous GET burst of the event page, one signed-in GET burst by the round's
members, and then their registration burst for that event, from the same client threads against
the same server. The machine is shared and a one-second burst swings with whatever else runs, so
it does several rounds (each with its own event and members) and reports the median of the
rounds' ratios. It also reports the CPU each request cost the gunicorn workers, which moves far
less with the load, and how busy the client itself was.

Target (issue 23): register req/s >= 0.5 x the same members' signed-in event-page GETs, exact,
zero 5xx; p99 reported. The last line printed is the BENCH-RESULT line bench/all.py reads.
Exit status 0 met, 1 missed, 2 the run was wrong.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import BIN, free_port, private_services, result_line  # noqa: E402
from bench.harness import row as result_row  # noqa: E402

# Every request (GET and POST alike) sends it, as a browser would; the session identifier uses it.
USER_AGENT = "registration-burst/1"


def prepare(members: list[int], capacity: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """One event per round with its own members (how many: `members`); per round the event's slug
    and a (cookie, csrf token) per member."""
    from datetime import timedelta

    from flask_wtf.csrf import generate_csrf
    from sqlalchemy import text

    from webapp import create_app
    from webapp.accounts.models import User
    from webapp.db import db, utcnow
    from webapp.events.models import Event

    app = create_app()
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade(revision="heads")
        start = utcnow() + timedelta(days=10)
        events = [Event(slug=f"burst-{n}", title=f"Burst test {n}", summary="", description="", starts_at=start,
                        ends_at=start + timedelta(hours=1), is_online=True, capacity=capacity)
                  for n in range(len(members))]
        db.session.add_all(events)
        users = [User(email=f"member{i}@example.org", display_name=f"Member {i}") for i in range(sum(members))]
        db.session.add_all(users)
        db.session.commit()
        serializer = app.session_interface.get_signing_serializer(app)
        from webapp.accounts.services import start_session

        for user in users:  # an open user_sessions row each, as a sign-in link leaves: login_user needs it
            start_session(db.session, user, now=utcnow())
        db.session.commit()
        credentials = []
        for user in users:
            # The session the emailed sign-in link leaves (login_user: the user id, fresh, and the
            # session-protection identifier of this client's address and User-Agent), and a CSRF
            # token bound to it. Without the identifier Flask-Login would mark every request's
            # session stale and send a new cookie, which no signed-in member's browser causes.
            with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                          headers={"User-Agent": USER_AGENT}):
                from flask import g, session
                from flask_login import login_user

                g.pop("csrf_token", None)  # Flask-WTF caches the token on g, shared by this loop
                login_user(user)
                token = generate_csrf()
                cookie = serializer.dumps(dict(session))
            credentials.append((cookie, token))
        starts = [sum(members[:n]) for n in range(len(members) + 1)]
        return [(event.slug, credentials[starts[n]:starts[n + 1]]) for n, event in enumerate(events)]


def timed(port: int, method: str, path: str, headers: dict, body: str | None, results: list, barrier):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    barrier.wait()
    started = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers)
        status = conn.getresponse().status
    except Exception as exc:  # noqa: BLE001 - counted as a failure
        status = f"error {type(exc).__name__}"
    results.append((started, time.perf_counter() - started, status))
    conn.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes used so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _client(port: int, requests: list, start, results) -> None:
    """One client process: a thread per request, all released together once every process is ready."""
    done: list = []
    ready = threading.Barrier(len(requests) + 1)
    threads = [threading.Thread(target=timed, args=(port, m, p, h, b, done, ready)) for m, p, h, b in requests]
    for t in threads:
        t.start()
    start.wait()  # every client process has its threads up
    ready.wait()  # ... and lets them go
    for t in threads:
        t.join(timeout=120)
    results.put(done)


def burst(port: int, requests: list[tuple[str, str, dict, str | None]], workers: list[int], processes: int = 2):
    """Fire all requests at once from `processes` client processes (one Python process with
    hundreds of threads can itself become the limit, for the fast GETs)."""
    context = multiprocessing.get_context("fork")
    start, queue = context.Barrier(processes), context.Queue()
    shares = [requests[n::processes] for n in range(processes)]
    clients = [context.Process(target=_client, args=(port, share, start, queue)) for share in shares]
    server_before = cpu_seconds(workers)
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for client in clients:
        client.start()
    results = [r for _ in clients for r in queue.get(timeout=180)]
    for client in clients:
        client.join(timeout=30)
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(workers) - server_before
    client_cpu = (client_after.ru_utime + client_after.ru_stime) - (client_before.ru_utime + client_before.ru_stime)
    latencies = sorted(r[1] for r in results)
    span = max(r[0] + r[1] for r in results) - min(r[0] for r in results)
    return {
        "count": len(results),
        "statuses": sorted({str(r[2]) for r in results}),
        "server_errors": sum(1 for r in results if not isinstance(r[2], int) or r[2] >= 500),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "per_second": len(results) / span,
        # What one request cost the gunicorn workers; and how busy each client process was, as a
        # share of one CPU while the burst ran (near 100 % the client would be setting the pace).
        "server_cpu_ms": server_cpu / len(results) * 1000,
        "client_busy": client_cpu / span / processes,
    }


def check(slug: str, members: int, capacity: int) -> tuple[bool, str]:
    """Exactly `capacity` confirmed, the rest waitlisted with places 1..n handed out in order."""
    from sqlalchemy import select

    from webapp import create_app
    from webapp.db import db
    from webapp.events.models import Event
    from webapp.registrations.models import Registration, RegistrationStatus

    app = create_app()
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.slug == slug))
        regs = list(db.session.scalars(select(Registration).where(Registration.event_id == event.id)))
        confirmed = [r for r in regs if r.status == RegistrationStatus.CONFIRMED]
        waitlisted = sorted((r for r in regs if r.status == RegistrationStatus.WAITLISTED),
                            key=lambda r: r.queue_number)
        # Places are handed out under the event lock: contiguous, unique, in the order taken.
        in_order = [r.queue_number for r in waitlisted] == list(range(1, len(waitlisted) + 1))
        ok = (len(confirmed) == capacity and len(waitlisted) == members - capacity and in_order
              and (event.confirmed_count, event.waitlist_count) == (len(confirmed), len(waitlisted)))
        return ok, (f"confirmed={len(confirmed)} waitlisted={len(waitlisted)} queue in arrival order={in_order} "
                    f"event counts={event.confirmed_count}/{event.waitlist_count}")


def row(name: str, result: dict, ratio: float) -> str:
    return (f"| {name} | {result['count']} | {result['p50_ms']:.0f} ms | {result['p99_ms']:.0f} ms | "
            f"{result['per_second']:.0f}/s | {ratio:.2f} | {result['server_cpu_ms']:.1f} ms | "
            f"{result['client_busy']:.0%} | {result['server_errors']} |")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    # As the site runs (the Dockerfile's gunicorn command): 3 sync workers.
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--target", type=float, default=0.5,
                        help="register req/s as a share of the same members' signed-in event-page GETs")
    parser.add_argument("--warmup-members", type=int, default=100)
    parser.add_argument("--client-processes", type=int, default=2)
    args = parser.parse_args()
    args.port = args.port or free_port()
    with private_services() as services:
        # What the app reads, here (prepare, check) and in gunicorn: production settings, the
        # private database and Redis, a throwaway instance folder; a member may register often.
        os.environ.pop("FLASK_DEBUG", None)
        os.environ.update(DATABASE_URL=services.database("meetups_bench_burst"), REDIS_URL=services.fresh_redis(),
                          SECRET_KEY="bench", INSTANCE_PATH=tempfile.mkdtemp(prefix="bench-burst-"),
                          REGISTRATION_LIMIT_PER_MEMBER="1000 per hour")
        return run(args)


def run(args) -> int:
    # Round 0 warms the workers up (connections, templates, compiled statements, the page cache)
    # and is not reported: a cold first GET burst would make the page look slower than it is.
    warmup, *rounds = prepare([args.warmup_members] + [args.members] * args.rounds, args.capacity)
    env = {**os.environ}
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(args.workers), "--threads", str(args.threads),
         "--bind", f"127.0.0.1:{args.port}", "--access-logfile", "/dev/null", "webapp:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    measured = []
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", args.port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1)
        workers = [int(pid) for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
        for slug, credentials in [warmup, *rounds]:
            gets = burst(args.port, [("GET", f"/events/{slug}", {"User-Agent": USER_AGENT}, None)] * args.members,
                         workers, args.client_processes)
            # For context only: the same members loading the page they register from (signed in,
            # so never from the page cache).
            member_gets = burst(args.port, [
                ("GET", f"/events/{slug}", {"Cookie": f"session={cookie}", "User-Agent": USER_AGENT}, None)
                for cookie, _ in credentials
            ], workers, args.client_processes)
            posts = burst(args.port, [
                ("POST", f"/events/{slug}/register",
                 {"Cookie": f"session={cookie}", "Content-Type": "application/x-www-form-urlencoded",
                  "HX-Request": "true", "User-Agent": USER_AGENT},
                 f"csrf_token={token}")
                for cookie, token in credentials
            ], workers, args.client_processes)
            measured.append((slug, len(credentials), gets, member_gets, posts, os.getloadavg()[0]))
    finally:
        server.terminate()
        server.wait(timeout=20)

    print(f"gunicorn --workers {args.workers} --threads {args.threads}; {os.cpu_count()} CPUs; "
          f"{args.client_processes} client processes")
    print("| round | requests | p50 | p99 | throughput | ratio to anonymous GET | worker CPU per request "
          "| client busy | 5xx |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    all_correct, ratios, member_ratios = True, [], []
    for n, (slug, members, gets, member_gets, posts, load) in enumerate(measured):
        ratio = posts["per_second"] / gets["per_second"]
        member_ratio = posts["per_second"] / member_gets["per_second"]
        correct, summary = check(slug, members, args.capacity)
        correct = correct and all(r["server_errors"] == 0 for r in (gets, member_gets, posts))
        all_correct &= correct
        if n:  # the warm-up round is checked, not reported
            ratios.append(ratio)
            member_ratios.append(member_ratio)
            print(row(f"{n}: registrations", posts, ratio))
            print(row(f"{n}: event page GET (anonymous: page cache)", gets, 1.0))
            print(row(f"{n}: event page GET (the members, signed in)", member_gets,
                      member_gets["per_second"] / gets["per_second"]))
        print(f"round {n}{' (warm-up)' if not n else ''}: {summary}, statuses {posts['statuses']}, "
              f"load average {load:.1f}{'' if correct else ' -- WRONG'}")
    ratio, member_ratio = statistics.median(ratios), statistics.median(member_ratios)
    met = member_ratio >= args.target
    print("RESULT:", "correct" if all_correct else "FAILED (see above)",
          f"-- median ratio to the members' own signed-in GET of the event page {member_ratio:.2f} "
          f"({', '.join(f'{r:.2f}' for r in member_ratios)}); target {args.target} {'met' if met else 'missed'}. "
          f"For context, to the anonymous event page GET (page cache): {ratio:.2f}")
    posts = [m[4] for m in measured[1:]]
    p99 = statistics.median(p["p99_ms"] for p in posts)
    errors = sum(r["server_errors"] for m in measured for r in m[2:5])
    rounds = len(measured) - 1
    per_round = ", ".join(f"{r:.2f}" for r in member_ratios)
    rows = [
        result_row("registration burst ÷ members' event-page GET", member_ratio, f"≥ {args.target:g}", met,
                   f"{args.members} signed-in members press Register within a second, {args.capacity} seats; "
                   f"register req/s ÷ the same members' GETs of the page, same run; per round {per_round}; "
                   f"{statistics.median(p['per_second'] for p in posts):.0f} register/s", unit="×"),
        result_row("registration burst: exact, FIFO, zero 5xx", None,
                   f"{args.capacity}/{args.members - args.capacity}, 0 5xx", all_correct,
                   f"every round ({rounds} and a warm-up) checked in the database; "
                   f"{errors} 5xx or failed requests", unit=""),
        result_row("registration burst p99", p99, "(reported)", None,
                   f"median over rounds of the register requests' p99 (p50 "
                   f"{statistics.median(p['p50_ms'] for p in posts):.0f} ms), gunicorn --workers {args.workers}",
                   unit="ms"),
    ]
    print(result_line("burst", rows, valid=all_correct,
                      problems=[] if all_correct else ["a round was not exact or had 5xx (see above)"]))
    # 0 every target met, 1 a target missed, 2 the run itself is wrong.
    return 2 if not all_correct else 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
