"""Registration burst: N distinct members press Register for one capped event at once.

Run with `bash bench/registration_burst.sh` (see docs/benchmarks.md). The script prepares its own
PostgreSQL database, starts gunicorn, and fires the POSTs from threads within about a second;
then it checks the result in the database: exactly CAPACITY confirmed, the rest waitlisted in
arrival order (queue numbers 1..N-CAPACITY in the order the server took them), zero 5xx. It
reports p50/p99 latency and throughput, and the same for GETs of the event page in the same run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Every request (GET and POST alike) sends it, as a browser would; the session identifier uses it.
USER_AGENT = "registration-burst/1"


def prepare(members: int, capacity: int) -> tuple[str, list[tuple[str, str]]]:
    """Create the event and members; return the slug and a (cookie, csrf token) per member."""
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
        event = Event(slug="burst", title="Burst test", summary="", description="", starts_at=start,
                      ends_at=start + timedelta(hours=1), is_online=True, capacity=capacity)
        db.session.add(event)
        users = [User(email=f"member{i}@example.org", display_name=f"Member {i}") for i in range(members)]
        db.session.add_all(users)
        db.session.commit()
        serializer = app.session_interface.get_signing_serializer(app)
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
        return event.slug, credentials


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


def burst(port: int, requests: list[tuple[str, str, dict, str | None]]):
    results: list = []
    barrier = threading.Barrier(len(requests))
    threads = [threading.Thread(target=timed, args=(port, m, p, h, b, results, barrier)) for m, p, h, b in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    latencies = sorted(r[1] for r in results)
    span = max(r[0] + r[1] for r in results) - min(r[0] for r in results)
    return {
        "count": len(results),
        "statuses": sorted({str(r[2]) for r in results}),
        "server_errors": sum(1 for r in results if not isinstance(r[2], int) or r[2] >= 500),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "per_second": len(results) / span,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=20)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    slug, credentials = prepare(args.members, args.capacity)
    env = {**os.environ}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--workers", str(args.workers), "--threads", "4",
         "--bind", f"127.0.0.1:{args.port}", "--access-logfile", "/dev/null", "webapp:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", args.port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1)
        gets = burst(args.port, [("GET", f"/events/{slug}", {"User-Agent": USER_AGENT}, None)] * args.members)
        posts = burst(args.port, [
            ("POST", f"/events/{slug}/register",
             {"Cookie": f"session={cookie}", "Content-Type": "application/x-www-form-urlencoded",
              "HX-Request": "true", "User-Agent": USER_AGENT},
             f"csrf_token={token}")
            for cookie, token in credentials
        ])
    finally:
        server.terminate()
        server.wait(timeout=20)

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
    ratio = posts["per_second"] / gets["per_second"]
    print(f"| registrations | {posts['count']} | {posts['p50_ms']:.0f} ms | {posts['p99_ms']:.0f} ms | "
          f"{posts['per_second']:.0f}/s | {ratio:.2f} | 5xx: {posts['server_errors']} |")
    print(f"| event page GET | {gets['count']} | {gets['p50_ms']:.0f} ms | {gets['p99_ms']:.0f} ms | "
          f"{gets['per_second']:.0f}/s | 1.00 | 5xx: {gets['server_errors']} |")
    print(f"confirmed={len(confirmed)} waitlisted={len(waitlisted)} queue in arrival order={in_order} "
          f"event counts={event.confirmed_count}/{event.waitlist_count} statuses={posts['statuses']}")
    ok = (len(confirmed) == args.capacity and len(waitlisted) == args.members - args.capacity
          and in_order and posts["server_errors"] == 0)
    print("RESULT:", "ok" if ok else "FAILED", f"ratio {ratio:.2f} (target 0.25)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
