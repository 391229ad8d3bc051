"""A group's calendar feed with 300 events (issue 19): `.venv/bin/python bench/feeds.py` (docs/benchmarks.md).

One run, on loopback only, bounded in time (bench/harness.py):
1. on private services (bench/harness.py: a PostgreSQL cluster and a Redis of its own) makes the
   database `meetups_bench_feeds`, migrates it, and adds
   one group whose feed lists EVENTS events (published, about a third ended in the last weeks and
   the rest ahead, one in 15 cancelled, a quarter in person), plus what the feed must leave out
   (drafts, events that ended long ago) and another group's events;
2. starts two gunicorns (WORKERS sync workers each, production settings,
   BENCH_HELLO=1): one with the page cache on, as in production (its content version in Redis),
   one with PAGECACHE_ENABLED=0, which is what every request costs when the cache is cold (the
   first after any change, or after PAGECACHE_SECONDS);
3. checks both serve the whole feed (EVENTS VEVENTs) and answer its ETag with 304;
4. with wrk, per round and server: the full feed, and the feed with If-None-Match (the poll a
   subscribed calendar makes), each right after a /hello run of its own on the same server; each
   rate is divided by that /hello's, and the median of ROUNDS rounds is reported.

Targets (with the cache on, as in production): full feed >= 0.3 of /hello, 304 >= 0.8 of /hello.
Knobs (environment): EVENTS (300), WORKERS (2), THREADS (2),
CONNECTIONS (16), DURATION (10, seconds), WARMUP (3), ROUNDS (3), BENCH_OUT (a folder for wrk's
raw output and the report; default a new temp folder), PROFILE (a folder: py-spy the workers).
The last line printed is the BENCH-RESULT line bench/all.py reads.
Exit status 0 when both targets are met, 1 when one is missed, 2 when the run itself is wrong.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    Gunicorn,
    PySpy,
    bench_app,
    children,
    get,
    load_average,
    private_services,
    result_line,
    row,
    wrk,
)

EVENTS = int(os.environ.get("EVENTS", 300))
WORKERS = int(os.environ.get("WORKERS", 2))
THREADS = int(os.environ.get("THREADS", 2))
CONNECTIONS = int(os.environ.get("CONNECTIONS", 16))
DURATION = int(os.environ.get("DURATION", 10))
WARMUP = int(os.environ.get("WARMUP", 3))
ROUNDS = int(os.environ.get("ROUNDS", 3))
# A folder: after the rounds, py-spy samples the gunicorn workers under wrk, per server and request.
PROFILE = Path(os.environ["PROFILE"]) if os.environ.get("PROFILE") else None
TARGETS = {"full": 0.3, "304": 0.8}
SLUG = "digital-preservation"
MODES = {"cache on": {}, "cache off": {"PAGECACHE_ENABLED": "0"}}


def populate(db, now) -> None:
    from webapp.events.models import Event, EventStatus
    from webapp.groups.models import Group

    group = Group(slug=SLUG, name="Digital Preservation Meetup", is_active=True,
                  description="A METRO Meetup for people working on digital preservation.")
    other = Group(slug="other-group", name="Metadata Roundtable", is_active=True, description="Another group.")
    db.session.add_all([group, other])
    db.session.flush()
    past = EVENTS // 3

    def event(n: int, group_id: int, starts, **extra) -> Event:
        in_person = n % 4 == 0
        return Event(
            group_id=group_id, slug=f"{group_id}-event-{n}", title=f"Lightning talks: file fixity at scale, {n + 1}",
            summary="Short talks on keeping files intact across migrations, with time for questions.",
            description="Join us for short talks.\n\n" * 8, starts_at=starts,
            ends_at=starts + timedelta(minutes=90), is_online=not in_person,
            venue_name="METRO Library Council" if in_person else None,
            venue_address="599 11th Avenue, 8th Floor, New York, NY 10036" if in_person else None,
            venue_accessibility="Step-free entrance on 11th Avenue." if in_person else None,
            meeting_url=None if in_person else "https://zoom.us/j/1234567890",
            created_at=now - timedelta(days=120), updated_at=now - timedelta(days=100), **extra)

    rows = []
    for n in range(EVENTS):
        # The past third ended within the last 80 days (the feed keeps FEED_PAST_DAYS, 90); the
        # rest spread over the coming year.
        days = -80 + 80 * n // max(past, 1) if n < past else 1 + 365 * (n - past) // max(EVENTS - past, 1)
        starts = (now + timedelta(days=days)).replace(hour=22, minute=0, second=0, microsecond=0)
        if n % 15 == 7:  # cancelled last week: still in the feed as STATUS:CANCELLED
            rows.append(event(n, group.id, starts, status=EventStatus.CANCELLED))
            rows[-1].updated_at = now - timedelta(days=7)
        else:
            rows.append(event(n, group.id, starts))
    # What the feed leaves out: drafts, events that ended long ago, another group's.
    for n in range(5):
        rows.append(event(1000 + n, group.id, now + timedelta(days=30 + n), status=EventStatus.DRAFT))
        rows.append(event(2000 + n, group.id, now - timedelta(days=200 + 30 * n)))
    for n in range(20):
        rows.append(event(3000 + n, other.id, now + timedelta(days=3 + 7 * n)))
    db.session.add_all(rows)
    db.session.commit()


def main() -> int:
    out = Path(os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix="bench-feeds-"))
    (out / "wrk").mkdir(parents=True, exist_ok=True)
    with private_services() as services:
        from webapp.db import db, utcnow

        db_url, redis_url = services.database("meetups_bench_feeds"), services.fresh_redis()
        app = bench_app(db_url, out, redis_url)
        with app.app_context():
            populate(db, utcnow())
            db.session.remove()
            db.engine.dispose()

        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench",
               "BENCH_HELLO": "1", "PYTHONDONTWRITEBYTECODE": "1", "INSTANCE_PATH": str(out)}
        env.pop("FLASK_DEBUG", None)
        with Gunicorn({**env, **MODES["cache on"]}, WORKERS, out / "gunicorn-cache-on.log") as cached, \
                Gunicorn({**env, **MODES["cache off"]}, WORKERS, out / "gunicorn-cache-off.log") as uncached:
            servers = {"cache on": cached, "cache off": uncached}
            path = f"/groups/{SLUG}/calendar.ics"
            etags, size, problems, profiles = {}, 0, [], {}
            for mode, server in servers.items():
                status, headers, body = get(server.base + path)
                vevents = body.count(b"BEGIN:VEVENT")
                if status != 200 or vevents != EVENTS:
                    problems.append(f"{mode}: GET {path} -> {status} with {vevents} events, not {EVENTS}")
                etags[mode], size = headers.get("ETag", ""), len(body)
                status, _, body = get(server.base + path, {"If-None-Match": etags[mode]})
                if status != 304 or body:
                    problems.append(f"{mode}: If-None-Match {etags[mode]} -> {status}, {len(body)} bytes")
            if problems:
                print("\n".join(problems), file=sys.stderr)
                print(result_line("feeds", [], valid=False, problems=problems))
                return 2
            urls = {"hello": ("/hello", {}), "full": (path, {}),
                    "304": (path, {"If-None-Match": etags["cache on"]})}

            for server in servers.values():  # warm up: imports, templates, pools, the cache
                for url, headers in urls.values():
                    wrk(server.base + url, threads=1, connections=4, seconds=WARMUP, headers=headers)
                    server.drain()
            results: dict[tuple[str, str], list] = {}
            for round_ in range(1, ROUNDS + 1):
                for mode, server in servers.items():
                    # Each measurement right after a /hello of its own: the machine's load drifts
                    # (others' test runs), and a ratio is only as good as its two runs are close.
                    for name in ("full", "304"):
                        for part in ("hello", name):
                            url, headers = urls[part]
                            result = wrk(server.base + url, threads=THREADS, connections=CONNECTIONS,
                                         seconds=DURATION, headers=headers)
                            key = f"hello {name}" if part == "hello" else name
                            (out / "wrk" / f"r{round_}-{mode}-{key}.txt".replace(" ", "-")).write_text(result.raw)
                            results.setdefault((mode, key), []).append(result)
                            server.drain()
                            print(f"feeds: round {round_} {mode:9} {key:10} {result.rps:8.0f} req/s", flush=True)
                            if result.bad:
                                problems.append(f"round {round_} {mode} {key}: {result.bad} errors or 4xx/5xx")
                            per_request = result.bytes_read / max(result.requests, 1)
                            if key == "304" and per_request > 1024:
                                problems.append(f"round {round_} {mode} 304: {per_request:.0f} bytes per answer")
            if PROFILE:  # where a request's time goes: py-spy on both workers of each server, under wrk
                for mode, server in servers.items():
                    for name in ("full", "304"):
                        url, headers = urls[name]
                        folder = PROFILE / f"{mode.replace(' ', '-')}-{name}"
                        with PySpy(children(server.pid), folder) as spy:
                            wrk(server.base + url, threads=THREADS, connections=CONNECTIONS, seconds=DURATION,
                                headers=headers)
                        server.drain()
                        profiles[(mode, name)] = spy.summary(40)
    report, missed, rows = render_report(results, size)
    for (mode, name), summary in profiles.items():
        report += f"\n\npy-spy, {mode}, {name} (inclusive share of the workers' samples, waiting included):\n{summary}"
    (out / "report.md").write_text(report + "\n", encoding="utf-8")
    print()
    print(report)
    print(f"\nfeeds: raw wrk output and this report in {out}")
    if problems:
        print("Measurement problems: " + "; ".join(problems), file=sys.stderr)
    print(result_line("feeds", rows, valid=not problems, problems=problems))
    if problems:
        return 2
    return 1 if missed else 0


def render_report(results: dict[tuple[str, str], list], size: int) -> tuple[str, list[str], list[dict]]:
    lines = [
        f"{ROUNDS} rounds · gunicorn --workers {WORKERS} (sync) · wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s · "
        f"PostgreSQL · feed of {EVENTS} events, {size / 1024:.0f} KiB · load average at the end {load_average()}",
        "",
        "| page cache | request | req/s (median) | ratio to hello (median) | ratio per round | p50 / p99 | target |",
        "| --- | --- | ---: | ---: | --- | --- | --- |",
    ]
    missed, rows = [], []
    labels = {"hello": "`/hello`", "full": "full feed (200)", "304": "If-None-Match (304)"}
    for mode in MODES:
        for name, label in labels.items():
            if name == "hello":  # every /hello run of this server
                runs = results[(mode, "hello full")] + results[(mode, "hello 304")]
                ratios = [1.0] * len(runs)
            else:  # each against the /hello run just before it
                runs = results[(mode, name)]
                base = [r.rps for r in results[(mode, f"hello {name}")]]
                ratios = [r.rps / b for r, b in zip(runs, base, strict=True)]
            ratio = statistics.median(ratios)
            target = TARGETS.get(name)
            if target is None:
                verdict = "(baseline)"
            elif ratio >= target:
                verdict = f"≥ {target:g}: met"
            else:
                verdict = f"≥ {target:g}: **missed**"
                if mode == "cache on":  # the targets are for the site as it runs
                    missed.append(f"{mode} {name} {ratio:.2f} < {target:g}")
            if mode == "cache off" and target is not None:
                verdict += " (for reference)"
            p50 = statistics.median(r.p50_ms for r in runs if r.p50_ms is not None)
            p99 = statistics.median(r.p99_ms for r in runs if r.p99_ms is not None)
            if mode == "cache on" and target is not None:  # the table's rows: the site as it runs
                rows.append(row(f"feed of {EVENTS} events, {label}", ratio, f"≥ {target:g} × /hello", ratio >= target,
                                f"a group's calendar feed, page cache on, ÷ the site's /hello just before; "
                                f"{statistics.median(r.rps for r in runs):,.0f} req/s; per round "
                                f"{', '.join(f'{x:.2f}' for x in ratios)}", unit="×"))
            lines.append(f"| {mode} | {label} | {statistics.median(r.rps for r in runs):,.0f} | {ratio:.2f} | "
                         f"{', '.join(f'{x:.2f}' for x in ratios)} | {p50:.1f} / {p99:.1f} ms | {verdict} |")
    lines += ["", "Targets (cache on): " + ("; ".join(missed) + " missed." if missed else "met.")]
    return "\n".join(lines), missed, rows


if __name__ == "__main__":
    sys.exit(main())
