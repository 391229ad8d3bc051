"""Reminder delivery benchmark (issue 10): `python bench/reminders.py` (see docs/benchmarks.md).

One run, on loopback only, bounded in time:
1. on private services (bench/harness.py's private_services(): a PostgreSQL cluster and a Redis of
   its own, or bench/all.py's) makes the database `meetups_bench_reminders`, migrates it, and
   inserts ATTENDEES confirmed attendees spread over EVENTS events that start in three hours;
2. starts an in-process SMTP sink (aiosmtpd) and WORKERS real
   Celery worker processes (concurrency 1 each);
3. runs the reminder sweep (the task's own loop: a first chunk of 100, then 500, a commit each,
   which hands the rows to the workers in batches; the workers render each mail from its stored
   facts) and times until the last reminder reaches the sink;
4. sends the very same messages again with a bare smtplib loop over one connection (building
   each message from its row, as rendered by the workers, in the loop), and reports the workers'
   mails/second as a ratio to that loop's;
5. reports each worker's peak memory (VmHWM of the main process and of its pool child);
6. measures registration click -> confirmation mail in the sink, LATENCY_SAMPLES times (p50, p95).

Knobs (environment): ATTENDEES (5000), EVENTS (50), WORKERS (2),
LATENCY_SAMPLES (40), TARGET (0.8), PROFILE (a folder: py-spy the workers' pool children while they
send). Exit status 0 when the targets hold (ratio >= TARGET, p95 < 2 s), 1 otherwise. The last line
of its output is `BENCH-RESULT {json}` for `make bench`'s table.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text, update  # noqa: E402

from bench.harness import (  # noqa: E402
    MailRig,
    PySpy,
    bare_smtplib_seconds,
    children,
    private_services,
    reset_database,
    result_line,
    row,
    wait_for,
)

DB_URL = ""  # the private services' database, set below
ATTENDEES = int(os.environ.get("ATTENDEES", 5000))
EVENTS = int(os.environ.get("EVENTS", 50))
WORKERS = int(os.environ.get("WORKERS", 2))
LATENCY_SAMPLES = int(os.environ.get("LATENCY_SAMPLES", 40))
TARGET = float(os.environ.get("TARGET", 0.8))
PROFILE = Path(os.environ["PROFILE"]) if os.environ.get("PROFILE") else None


def main() -> int:
    reset_database(DB_URL)
    with MailRig(DB_URL) as rig:
        from webapp.db import db, utcnow

        app = rig.app()
        with app.app_context():
            populate(db, utcnow())
        rig.start_workers(WORKERS)

        from webapp.reminders import services as reminders

        profile = PySpy([c for w in rig.workers for c in children(w.pid)], PROFILE)
        with app.app_context():
            profile.__enter__()
            started = time.monotonic()
            now = utcnow()
            for limit in reminders.sweep_chunk_sizes():  # the task's own loop (tasks/reminders.py)
                queued = reminders.queue_due_reminders(db.session, now=now, limit=limit)
                db.session.commit()  # each commit hands its rows to the workers in batches of 50
                if not queued:
                    break
            swept = time.monotonic() - started
            first = (min(rig.sink.arrived.values()) - started) if rig.sink.arrived else None
            wait_for(lambda: rig.sink.count >= ATTENDEES, f"{ATTENDEES} reminders")
            if first is None:
                first = min(rig.sink.arrived.values()) - started
            delivered = time.monotonic() - started
            profile.__exit__(None, None, None)
            memory = rig.worker_memory()

            # The bare loop: the same messages over one smtplib connection.
            from webapp.outbox.models import OutboxMail
            from webapp.outbox.services import build_message

            messages = list(db.session.scalars(db.select(OutboxMail).where(OutboxMail.kind == "reminder")))
            rig.sink.reset()
            bare = bare_smtplib_seconds(messages, rig.smtp_port, build_message)
            wait_for(lambda: rig.sink.count >= len(messages), "bare loop")

        # Outside the app context: each request gets its own, as in production.
        latencies = measure_latency(app, db, rig.sink, utcnow())

    worker_rate, bare_rate = ATTENDEES / delivered, len(messages) / bare
    ratio = worker_rate / bare_rate
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 20 else max(latencies)
    print(f"reminders: {ATTENDEES} attendees, {EVENTS} events, {WORKERS} workers")
    print(f"  sweep (queue {ATTENDEES} reminder rows, commit): {swept:.2f} s")
    print(f"  first reminder in the sink after: {first:.2f} s")
    print(f"  last reminder in the sink after: {delivered:.2f} s  ({worker_rate:.0f} mails/s)")
    print(f"  bare smtplib loop, same {len(messages)} messages, one connection: {bare:.2f} s "
          f"({bare_rate:.0f} mails/s)")
    print(f"  ratio workers / bare loop: {ratio:.2f} (target >= {TARGET})")
    if PROFILE:
        print(profile.summary())
    for name, kb in memory.items():
        print(f"  {name} peak RSS (VmHWM): " + ", ".join(f"{k} {v / 1024:.0f} MiB" for k, v in kb.items()))
    print(f"registration click -> confirmation mail in the sink, {len(latencies)} samples: "
          f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (target p95 < 2000 ms)")
    print(result_line("reminders", [
        row(f"reminder fan-out, {ATTENDEES} reminders", ratio, f"≥ {TARGET:g} × bare smtplib",
            ratio >= TARGET, f"the sweep and {WORKERS} Celery workers until the last reminder is in the SMTP "
            f"sink ({worker_rate:.0f} mails/s; first after {first:.2f} s, sweep {swept:.2f} s), ÷ a bare smtplib "
            f"loop over one connection ({bare_rate:.0f}/s)",
            unit="×"),
        row("Register → confirmation mail p95", p95 * 1000, "< 2000 ms", p95 < 2.0,
            f"an htmx POST through the app until the mail is in the sink, {len(latencies)} samples "
            f"(p50 {p50 * 1000:.0f} ms)", unit="ms"),
    ]))
    return 0 if ratio >= TARGET and p95 < 2.0 else 1


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
    for session_id, address in member_ids:
        client = app.test_client()
        with client.session_transaction() as flask_session:
            flask_session["_user_id"] = session_id
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


def _latency_members(db, now) -> list[tuple[str, str]]:
    """Members signed in as a sign-in link leaves them: (their session id, their address)."""
    from webapp.accounts.models import User
    from webapp.accounts.services import start_session
    from webapp.events.models import Event

    event = Event(slug="latency", title="Latency Meetup", starts_at=now + timedelta(days=7),
                  ends_at=now + timedelta(days=7, hours=1), is_online=True, meeting_url="https://zoom.us/j/1")
    db.session.add(event)
    members = [User(email=f"clicker{n:03d}@example.org", display_name=f"Clicker {n}") for n in range(LATENCY_SAMPLES)]
    db.session.add_all(members)
    db.session.flush()
    for member in members:
        start_session(db.session, member, now=now)  # an open user_sessions row, as a sign-in link leaves
    signed_in = [(m.get_id(), m.email) for m in members]
    db.session.commit()
    return signed_in


if __name__ == "__main__":
    with private_services() as services:
        DB_URL = services.database("meetups_bench_reminders")
        status = main()
    sys.exit(status)
