"""Reminder delivery benchmark (issue 10): `python bench/reminders.py` (see docs/benchmarks.md).

One run, on loopback only, bounded in time:
1. rebuilds the PostgreSQL database `meetups_bench_reminders` (refuses `test`), migrates it, and
   inserts ATTENDEES confirmed attendees spread over EVENTS events that start in three hours;
2. starts a Redis of its own on a free port, an in-process SMTP sink (aiosmtpd) and WORKERS real
   Celery worker processes (concurrency 1 each);
3. runs the reminder sweep (the task's own loop: chunks of 500, a commit each, which hands the rows
   to the workers in batches) and times until the last reminder reaches the sink;
4. sends the very same messages again with a bare smtplib loop over one connection (building
   each message from its row in the loop, as the worker does), and reports the workers'
   mails/second as a ratio to that loop's;
5. reports each worker's peak memory (VmHWM of the main process and of its pool child);
6. measures registration click -> confirmation mail in the sink, LATENCY_SAMPLES times (p50, p95).

Knobs (environment): BENCH_REMINDERS_DATABASE_URL, ATTENDEES (5000), EVENTS (50), WORKERS (2),
LATENCY_SAMPLES (40). Exit status 0 when the targets hold (ratio >= 0.5, p95 < 2 s), 1 otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import insert, text, update  # noqa: E402

DB_URL = os.environ.get(
    "BENCH_REMINDERS_DATABASE_URL",
    "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/meetups_bench_reminders",
)
ATTENDEES = int(os.environ.get("ATTENDEES", 5000))
EVENTS = int(os.environ.get("EVENTS", 50))
WORKERS = int(os.environ.get("WORKERS", 2))
LATENCY_SAMPLES = int(os.environ.get("LATENCY_SAMPLES", 40))
DEADLINE = 300  # seconds for any one wait: the run fails rather than hangs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingSink:
    """Counts accepted messages and remembers when each recipient's last one arrived."""

    def __init__(self) -> None:
        self.count = 0
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        now = time.monotonic()
        with self.lock:
            self.count += 1
            for rcpt in envelope.rcpt_tos:
                self.arrived[rcpt] = now
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.count = 0
            self.arrived.clear()


def wait_for(predicate, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def reset_database() -> None:
    name = DB_URL.rsplit("/", 1)[1]
    if name == "test":
        raise SystemExit("refusing to use the test database")
    admin = DB_URL.replace("postgresql+psycopg", "postgresql").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(DB_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def peak_memory_kb(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) of a worker's main process and its pool children."""
    def hwm(p: int) -> int:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {"main": hwm(pid), **{f"child{n}": hwm(int(c)) for n, c in enumerate(children)}}


def main() -> int:
    reset_database()
    work = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    redis_port = free_port()
    redis_proc = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no", "--dir", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    workers: list[subprocess.Popen] = []
    try:
        wait_for(lambda: _pings(redis_url), "redis", 10)
        from flask_migrate import upgrade

        from webapp import create_app
        from webapp.db import db, utcnow

        app = create_app({
            "TESTING": True, "SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": DB_URL,
            "INSTANCE_PATH": str(work), "REDIS_URL": redis_url, "SITE_URL": "http://meetups.bench",
        })
        with app.app_context():
            upgrade(revision="heads")
            populate(db, utcnow())

        env = {**os.environ, "DATABASE_URL": DB_URL, "REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1",
               "MAIL_PORT": str(controller.port), "SECRET_KEY": "bench-secret", "SITE_URL": "http://meetups.bench",
               "PYTHONUNBUFFERED": "1", "OUTBOX_SWEEP_SECONDS": "3600", "REMINDER_SWEEP_SECONDS": "3600"}
        env.pop("FLASK_DEBUG", None)
        for n in range(WORKERS):
            folder = work / f"worker{n}"
            folder.mkdir()
            log = (folder / "worker.log").open("w")
            workers.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "celery"), "-A", "tasks", "worker", "--loglevel=WARNING",
                 "--concurrency=1", "--pool=prefork", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "-n", f"bench{n}@%h"],
                cwd=ROOT, env={**env, "INSTANCE_PATH": str(folder)}, stdout=log, stderr=subprocess.STDOUT))
        time.sleep(1)
        wait_for(lambda: all(len(Path(f"/proc/{w.pid}/task/{w.pid}/children").read_text().split()) >= 1
                             for w in workers), "workers", 60)
        time.sleep(2)  # the pool children connect to Redis

        from webapp.reminders import services as reminders

        with app.app_context():
            started = time.monotonic()
            now = utcnow()
            while reminders.queue_due_reminders(db.session, now=now, limit=500):
                db.session.commit()  # each commit hands its 500 rows to the workers in batches of 50
            db.session.commit()
            swept = time.monotonic() - started
            wait_for(lambda: sink.count >= ATTENDEES, f"{ATTENDEES} reminders")
            delivered = time.monotonic() - started
            memory = {f"worker{n}": peak_memory_kb(w.pid) for n, w in enumerate(workers)}

            # The bare loop: the same messages, prebuilt, over one smtplib connection.
            from webapp.outbox.models import OutboxMail
            from webapp.outbox.services import build_message

            # Building each message (MIME parts, .ics attachment) is inside the loop, as it is in the
            # worker: what the ratio measures is the outbox's own cost (claims, re-checks, commits,
            # the broker), not the email package's.
            messages = list(db.session.scalars(db.select(OutboxMail).where(OutboxMail.kind == "reminder")))
            sink.reset()
            started = time.monotonic()
            with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
                for mail in messages:
                    message = build_message(mail)
                    smtp.sendmail(message.sender, [mail.recipient], message.as_bytes())
            bare = time.monotonic() - started
            wait_for(lambda: sink.count >= len(messages), "bare loop")

        # Outside the app context: each request gets its own, as in production.
        latencies = measure_latency(app, db, sink, utcnow())

        worker_rate, bare_rate = ATTENDEES / delivered, len(messages) / bare
        ratio = worker_rate / bare_rate
        p50 = statistics.median(latencies)
        p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 20 else max(latencies)
        print(f"reminders: {ATTENDEES} attendees, {EVENTS} events, {WORKERS} workers")
        print(f"  sweep (queue {ATTENDEES} reminder rows, render, commit): {swept:.2f} s")
        print(f"  last reminder in the sink after: {delivered:.2f} s  ({worker_rate:.0f} mails/s)")
        print(f"  bare smtplib loop, same {len(messages)} messages, one connection: {bare:.2f} s "
              f"({bare_rate:.0f} mails/s)")
        print(f"  ratio workers / bare loop: {ratio:.2f} (target >= 0.5)")
        for name, kb in memory.items():
            print(f"  {name} peak RSS (VmHWM): " + ", ".join(f"{k} {v / 1024:.0f} MiB" for k, v in kb.items()))
        print(f"registration click -> confirmation mail in the sink, {len(latencies)} samples: "
              f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (target p95 < 2000 ms)")
        return 0 if ratio >= 0.5 and p95 < 2.0 else 1
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        controller.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.2).ping())
    except redis.ConnectionError:
        return False


def populate(db, now) -> None:
    """EVENTS events starting in three hours; ATTENDEES members confirmed two days ago."""
    from webapp.accounts.models import User
    from webapp.events.models import Event
    from webapp.registrations.models import Registration

    starts = now + timedelta(hours=3)
    db.session.execute(insert(Event), [
        dict(slug=f"bench-{n}", title=f"Bench Meetup {n}", summary="", description="", starts_at=starts,
             ends_at=starts + timedelta(hours=1), is_online=True, meeting_url=f"https://zoom.us/j/9{n:09d}",
             status="scheduled", confirmed_count=0, waitlist_count=0, created_at=now, updated_at=now, sequence=0)
        for n in range(EVENTS)
    ])
    db.session.execute(insert(User), [
        dict(email=f"attendee{n:05d}@example.org", display_name=f"Attendee {n}", created_at=now)
        for n in range(ATTENDEES)
    ])
    db.session.flush()
    event_ids = list(db.session.scalars(db.select(Event.id).order_by(Event.id)))
    user_ids = list(db.session.scalars(db.select(User.id).order_by(User.id)))
    booked = now - timedelta(days=2)
    db.session.execute(insert(Registration), [
        dict(event_id=event_ids[n % EVENTS], user_id=user_id, status="confirmed", accessibility_needs="",
             created_at=booked, confirmed_at=booked, generation=1, source="member")
        for n, user_id in enumerate(user_ids)
    ])
    for event_id in event_ids:
        db.session.execute(update(Event).where(Event.id == event_id).values(
            confirmed_count=text("(SELECT count(*) FROM registrations WHERE registrations.event_id = events.id)")))
    db.session.commit()


def measure_latency(app, db, sink, now) -> list[float]:
    """Press Register (an htmx POST through the whole app) and wait for the confirmation mail."""
    with app.app_context():
        member_ids = _latency_members(db, now)
    latencies = []
    for member_id, address in member_ids:
        client = app.test_client()
        with client.session_transaction() as flask_session:
            flask_session["_user_id"] = str(member_id)
            flask_session["_fresh"] = True
        page = client.get("/about").get_data(as_text=True)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        started = time.monotonic()
        response = client.post("/events/latency/register", data={"csrf_token": token},
                               headers={"HX-Request": "true"})
        assert response.status_code == 200, response.status_code
        wait_for(lambda address=address: address in sink.arrived, f"confirmation to {address}", 30)
        latencies.append(sink.arrived[address] - started)
    return latencies


def _latency_members(db, now) -> list[tuple[int, str]]:
    from webapp.accounts.models import User
    from webapp.events.models import Event

    event = Event(slug="latency", title="Latency Meetup", starts_at=now + timedelta(days=7),
                  ends_at=now + timedelta(days=7, hours=1), is_online=True, meeting_url="https://zoom.us/j/1")
    db.session.add(event)
    members = [User(email=f"clicker{n:03d}@example.org", display_name=f"Clicker {n}") for n in range(LATENCY_SAMPLES)]
    db.session.add_all(members)
    db.session.commit()
    return [(m.id, m.email) for m in members]


if __name__ == "__main__":
    sys.exit(main())
