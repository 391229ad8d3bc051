"""Weekly digest delivery benchmark (issue 19): `.venv/bin/python bench/digests.py` (docs/benchmarks.md).

One run, on loopback only, bounded in time (bench/harness.py):
1. on private services (bench/harness.py: a PostgreSQL cluster and a Redis of its own) makes the
   database `meetups_bench_digests`, migrates it, and
   inserts FOLLOWERS members who follow one group and chose the weekly digest, and NEW_EVENTS
   upcoming events the group published last week (plus OLD_EVENTS published before, which no
   digest lists);
2. starts an in-process SMTP sink (aiosmtpd) and WORKERS real Celery workers
   (prefork, concurrency 1 each), and notes each worker's resident memory (VmRSS);
3. sends the scheduler's task `tasks.follows.queue_digests` to the workers, as beat does every hour,
   and times from then until the last digest reaches the sink: a worker renders and queues every
   digest, commits, and the workers send the batches the commit handed out;
4. checks every follower got exactly one digest, and notes the workers' memory again (VmRSS now
   and VmHWM, the peak resident set since each process started);
5. sends the very same messages with a bare smtplib loop over one connection (building each
   from its outbox row, as the worker does), and reports the workers' mails/second as a ratio to
   that loop's.

Knobs (environment): FOLLOWERS (5000), NEW_EVENTS (4), OLD_EVENTS (6),
WORKERS (2), ROUNDS (3). The last line printed is the BENCH-RESULT line bench/all.py reads.
Exit status 0 when the ratio is at least TARGET (0.5), 1 when not, 2 when the run is wrong
(a follower without their digest, or with two).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, update  # noqa: E402

from bench.harness import (  # noqa: E402
    MailRig,
    PySpy,
    bare_smtplib_seconds,
    children,
    load_average,
    private_services,
    result_line,
    row,
    wait_for,
)

FOLLOWERS = int(os.environ.get("FOLLOWERS", 5000))
NEW_EVENTS = int(os.environ.get("NEW_EVENTS", 4))
OLD_EVENTS = int(os.environ.get("OLD_EVENTS", 6))
WORKERS = int(os.environ.get("WORKERS", 2))
ROUNDS = int(os.environ.get("ROUNDS", 3))
TARGET = float(os.environ.get("TARGET", 0.5))
# A folder: py-spy samples the workers' pool children from the task's start to the last mail.
PROFILE = Path(os.environ["PROFILE"]) if os.environ.get("PROFILE") else None
QUEUE_TASK = "tasks.follows.queue_digests"


def populate(db, now) -> None:
    """One group; FOLLOWERS members following it with the weekly digest chosen; its events."""
    from webapp.accounts.models import User
    from webapp.events.models import Event
    from webapp.follows.models import EventPublication, FollowMail, FollowMailChoice, GroupFollow
    from webapp.follows.services import digest_period
    from webapp.groups.models import Group

    week_start, _ = digest_period(FollowMail.WEEKLY, now)
    group = Group(slug="bench-digest-group", name="Digital Preservation Meetup",
                  description="A METRO Meetup for people working on digital preservation.", is_active=True)
    db.session.add(group)
    db.session.flush()
    events = []
    for n in range(NEW_EVENTS + OLD_EVENTS):
        starts = now + timedelta(days=10 + 7 * n, hours=n)
        events.append(Event(
            group_id=group.id, slug=f"bench-digest-{n}", title=f"Lightning talks: file fixity at scale, part {n + 1}",
            summary="Short talks on keeping files intact, with time for questions.",
            description="Join us for short talks.", starts_at=starts, ends_at=starts + timedelta(minutes=90),
            is_online=n % 3 != 0, venue_name=None if n % 3 else "METRO Library Council",
            venue_address=None if n % 3 else "599 11th Avenue, 8th Floor, New York, NY 10036",
            meeting_url="https://zoom.us/j/1234567890" if n % 3 else None, created_at=now, updated_at=now))
    db.session.add_all(events)
    db.session.flush()
    db.session.execute(insert(EventPublication), [
        # The new ones in last week's period (the digest lists them), the old ones a fortnight before.
        dict(event_id=e.id, group_id=group.id,
             published_at=week_start + timedelta(hours=10 + 20 * n) if n < NEW_EVENTS
             else week_start - timedelta(days=14))
        for n, e in enumerate(events)
    ])
    db.session.execute(insert(User), [
        dict(email=f"follower{n:05d}@example.org", display_name=f"Follower {n}", created_at=now)
        for n in range(FOLLOWERS)
    ])
    user_ids = list(db.session.scalars(select(User.id).order_by(User.id)))
    db.session.execute(insert(GroupFollow), [
        dict(group_id=group.id, user_id=user_id, created_at=now - timedelta(days=30)) for user_id in user_ids])
    db.session.execute(insert(FollowMailChoice), [
        dict(user_id=user_id, choice=FollowMail.WEEKLY, updated_at=now - timedelta(days=30)) for user_id in user_ids])
    db.session.commit()


def mib(kb: int) -> str:
    return f"{kb / 1024:.0f} MiB"


def one_round(app, rig, db, profile_dir: Path | None) -> dict:
    """The task through a worker until the last digest arrives, then the bare loop over the same rows."""
    from webapp.follows.models import FollowMailChoice
    from webapp.follows.services import DIGEST_MAIL
    from webapp.outbox.models import MailState, OutboxMail
    from webapp.outbox.services import build_message

    rig.sink.reset()
    # As the scheduler does it: the task goes to the broker, a worker picks it up.
    with PySpy([c for w in rig.workers for c in children(w.pid)], profile_dir) as profile:
        started = time.monotonic()
        app.extensions["celery"].send_task(QUEUE_TASK)
        # A tenth of a second per digest at most: 5,000 took over 300 s at load average 9 (two CPUs).
        wait_for(lambda: rig.sink.count >= FOLLOWERS, f"{FOLLOWERS} digests", max(300, FOLLOWERS / 10),
                 progress=lambda: rig.sink.count)
        delivered = time.monotonic() - started
    first = min(rig.sink.arrived.values()) - started
    time.sleep(1)  # anything sent twice would arrive now
    received, distinct = rig.sink.count, len(rig.sink.arrived)
    with app.app_context():
        digests = select(OutboxMail).where(OutboxMail.kind == DIGEST_MAIL, ~OutboxMail.dedup_key.contains("#"))
        messages = list(db.session.scalars(digests))
        sent = db.session.scalar(select(func.count()).select_from(
            digests.where(OutboxMail.state == MailState.SENT).subquery()))
        rig.sink.reset()
        bare = bare_smtplib_seconds(messages, rig.smtp_port, build_message)
        wait_for(lambda: rig.sink.count >= len(messages), "bare loop")
        size = sum(len(build_message(m).as_bytes()) for m in messages[:50]) / max(min(len(messages), 50), 1)
        # The next round is a new week: this week's digests stay in the outbox, as they do, under
        # keys of their own, and the table is vacuumed, so every round starts from the same state.
        # The members' catch-up mark goes back too: the sweep that sent this week's closed the
        # period (digest_from), and a second round would otherwise find nothing new to send.
        db.session.execute(update(OutboxMail).where(OutboxMail.kind == DIGEST_MAIL, ~OutboxMail.dedup_key.contains("#"))
                           .values(dedup_key=OutboxMail.dedup_key + f"#{time.monotonic_ns()}"))
        db.session.execute(update(FollowMailChoice).values(digest_from=None))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE outbox_mails")
    correct = received == distinct == len(messages) == sent == FOLLOWERS
    return dict(delivered=delivered, first=first, bare=bare, size=size, correct=correct,
                ratio=(FOLLOWERS / delivered) / (len(messages) / bare),
                check=f"{received} received by {distinct} recipients, {len(messages)} queued, {sent} marked sent",
                profile=profile)


def main() -> int:
    with private_services() as services, MailRig(services.database("meetups_bench_digests")) as rig:
        from webapp.db import db, utcnow

        app = rig.app()
        with app.app_context():
            populate(db, utcnow())
        rig.start_workers(WORKERS)
        memory = [("at start", rig.worker_memory("VmRSS"))]
        rounds = []
        for n in range(1, ROUNDS + 1):
            rounds.append(one_round(app, rig, db, PROFILE / f"round{n}" if PROFILE else None))
            print(f"digests: round {n}: the last digest after {rounds[-1]['delivered']:.1f} s, ratio "
                  f"{rounds[-1]['ratio']:.2f}, load average {load_average()}", flush=True)
            memory.append((f"after round {n}", rig.worker_memory("VmRSS")))
        peak = rig.worker_memory("VmHWM")

    print(f"digests: {FOLLOWERS} followers of one group, {NEW_EVENTS} new events each, {WORKERS} workers, "
          f"{ROUNDS} rounds; load average at the end {load_average()}")
    for n, r in enumerate(rounds, 1):
        print(f"  round {n}: first digest in the sink after {r['first']:.2f} s, the last after {r['delivered']:.2f} s "
              f"({FOLLOWERS / r['delivered']:.0f} mails/s); bare smtplib loop {r['bare']:.2f} s "
              f"({FOLLOWERS / r['bare']:.0f} mails/s, {r['size'] / 1024:.1f} KiB each); ratio {r['ratio']:.2f}")
    ratio = statistics.median(r["ratio"] for r in rounds)
    print(f"  ratio workers / bare loop, median of {ROUNDS}: {ratio:.2f} (target >= {TARGET:g})")
    for name in memory[0][1]:
        for proc in memory[0][1][name]:
            steps = " -> ".join(f"{mib(m[name].get(proc, 0))} {label}" for label, m in memory)
            print(f"  {name} {proc} VmRSS: {steps}; peak (VmHWM) {mib(peak[name].get(proc, 0))}")
    per_round = ", ".join(f"{r['ratio']:.2f}" for r in rounds)
    rows = [row(f"weekly digests, {FOLLOWERS} followers", ratio, f"≥ {TARGET:g} × bare smtplib", ratio >= TARGET,
                f"the scheduler's task through {WORKERS} Celery workers until the last digest is in the SMTP sink, "
                f"÷ a bare smtplib loop over the same messages; per round {per_round}", unit="×")]
    if not all(r["correct"] for r in rounds):
        problems = [f"round {n}: {r['check']}; expected {FOLLOWERS} of each" for n, r in enumerate(rounds, 1)
                    if not r["correct"]]
        print("\n".join(problems), file=sys.stderr)
        print(result_line("digests", rows, valid=False, problems=problems))
        return 2
    print(f"  exactly one digest per follower in every round: {rounds[-1]['check']}")
    if PROFILE:
        print("py-spy, both workers' pool children, inclusive share of samples (waiting included), last round:")
        print(rounds[-1]["profile"].summary())
    print(result_line("digests", rows))
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
