"""Every benchmark, one table: `make bench` (or `.venv/bin/python bench/all.py`), docs/benchmarks.md.

Starts one pair of private services (bench/harness.py: a PostgreSQL cluster in a temp folder and
a redis-server, each on a free port; stopped on exit, Ctrl-C or error), then runs each part as a
process of its own, one after the other, each in a database of its own on that server:

    pages      bench/pages.py               visitors' and members' pages ÷ a bare Flask hello; first-load weight
    burst      bench/registration_burst.py  500 members, 20 seats: exact, 5xx, register ÷ members' page GETs
    reminders  bench/reminders.py           5,000 reminders through 2 workers ÷ a bare smtplib loop
    feeds      bench/feeds.py               a group's 300-event calendar feed ÷ /hello (200 and 304)
    digests    bench/digests.py             5,000 weekly digests through 2 workers ÷ a bare smtplib loop
    series     bench/series_registration.py Register for all 26 sessions ÷ one Register

Each part prints, as its last line, `BENCH-RESULT {json}` (harness.result_line); this collects
them and prints one Markdown table with the date, the machine (CPUs, load average) and the
command, and writes it to <BENCH_OUT>/table.md. `--only pages,burst` (make bench ONLY=pages,burst)
runs some parts. Knobs are each part's own environment variables (DURATION, ROUNDS, MEMBERS, ...;
see each script and docs/benchmarks.md); `--quick` shrinks every part to a smoke run (seconds of
wrk, tens of members: numbers then mean nothing, the table and the checks still do).

Exit status: 0 every target met, 1 a target missed, 2 the run was invalid (a part failed, was
wrong or printed no result).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import BIN, RESULT_PREFIX, ROOT, load_average, private_services  # noqa: E402


@dataclass
class Part:
    name: str
    command: list[str]
    # Defaults for this part under `make bench` (a variable already in the environment wins).
    env: dict[str, str] = field(default_factory=dict)
    quick: dict[str, str] = field(default_factory=dict)
    quick_args: list[str] = field(default_factory=list)
    needs_wrk: bool = False
    timeout: int = 900


def _script(name: str, *args: str) -> list[str]:
    return [str(BIN / "python"), str(ROOT / "bench" / name), *args]


PARTS = [
    Part("pages", _script("pages.py"), needs_wrk=True,
         quick={"MEMBERS": "20", "DURATION": "1", "WARMUP": "1", "ROUNDS": "1", "BENCH_EVENTS": "60"}),
    Part("burst", _script("registration_burst.py"),
         quick_args=["--members", "60", "--rounds", "1", "--warmup-members", "30"]),
    Part("reminders", _script("reminders.py"), quick={"ATTENDEES": "300", "EVENTS": "5", "LATENCY_SAMPLES": "5"}),
    # 5-second wrk runs and 2 rounds (its own defaults: 10 s, 3): the whole table in about 10 minutes.
    Part("feeds", _script("feeds.py"), needs_wrk=True, env={"DURATION": "5", "WARMUP": "2", "ROUNDS": "2"},
         quick={"EVENTS": "30", "DURATION": "1", "WARMUP": "1", "ROUNDS": "1"}),
    Part("digests", _script("digests.py"), env={"ROUNDS": "2"}, quick={"FOLLOWERS": "300", "ROUNDS": "1"}),
    Part("series", _script("series_registration.py"), env={"ROUNDS": "2"},
         quick={"SESSIONS": "4", "REQUESTS": "10", "ROUNDS": "1", "CAPACITY": "5"}),
]


def run_part(part: Part, out: Path, quick: bool) -> dict:
    """Run one part with its output shown as it comes; its result (or why there is none)."""
    folder = out / part.name
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BENCH_OUT": str(folder), "PYTHONUNBUFFERED": "1"}
    if quick:  # a smoke run's sizes win over anything set
        env.update(part.quick)
    else:
        for name, value in part.env.items():
            env.setdefault(name, value)
    command = part.command + (part.quick_args if quick else [])
    print(f"\n== {part.name}: {shlex.join(command[1:])}", flush=True)
    started = time.monotonic()
    last = None
    with (folder / "stderr.log").open("w") as errors, (folder / "stdout.log").open("w") as output:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            for line in proc.stdout:
                output.write(line)
                if line.startswith(RESULT_PREFIX):
                    last = line[len(RESULT_PREFIX):]
                else:
                    print(f"  {line}", end="", flush=True)
            proc.wait(timeout=part.timeout)
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    seconds = time.monotonic() - started
    result = {"bench": part.name, "valid": False, "rows": [], "problems": [], "seconds": seconds,
              "status": proc.returncode}
    if last is None:
        # Its last words, without the migrations' progress (Alembic logs each step at INFO).
        said = (folder / "stderr.log").read_text(errors="replace").splitlines()
        tail = [line for line in said if not line.startswith("INFO  [alembic")][-15:]
        result["problems"] = [f"{part.name} exited {proc.returncode} without a BENCH-RESULT line"]
        print("\n".join(f"  ! {line}" for line in tail), file=sys.stderr)
    else:
        result.update(json.loads(last))
    print(f"== {part.name}: {seconds:.0f} s, exit {proc.returncode}", flush=True)
    return result


def _value(r: dict) -> str:
    value, unit = r.get("value"), r.get("unit", "")
    if value is None:
        return "yes" if r.get("met") else "no"
    if unit == "req/s":
        return f"{value:,.0f} req/s"
    if unit == "×":
        return f"{value:.2f} ×"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "KB":
        return f"{value:.1f} KB"
    return f"{value:g} {unit}".strip()


def render_table(results: list[dict], *, command: str, started: datetime, load_start: str,
                 seconds: float) -> str:
    lines = [
        f"`{command}` · {started:%Y-%m-%d %H:%M} UTC · {os.cpu_count()} CPUs · load average "
        f"{load_start} at the start, {load_average()} at the end · {seconds / 60:.1f} minutes",
        "",
        "| part | measured | value | target | result | what it measured |",
        "| --- | --- | ---: | --- | --- | --- |",
    ]
    for result in results:
        for r in result["rows"]:
            verdict = "—" if r["met"] is None else "met" if r["met"] else "**missed**"
            what = r["what"].replace("|", "\\|")
            lines.append(f"| {result['bench']} | {r['name']} | {_value(r)} | {r['target'] or '—'} | {verdict} "
                         f"| {what} |")
        if not result["valid"]:
            why = "; ".join(result.get("problems") or []) or "see its output"
            lines.append(f"| {result['bench']} | **the run was invalid** | | | **invalid** | {why} |")
    return "\n".join(lines)


def overall_status(results: list[dict]) -> int:
    if any(not r["valid"] for r in results):
        return 2
    return 1 if any(row["met"] is False for r in results for row in r["rows"]) else 0


def run(parts: list[Part], *, out: Path, quick: bool, command: str) -> int:
    started, load_start, clock = datetime.now(UTC), load_average(), time.monotonic()
    results = []
    with private_services():
        for part in parts:
            results.append(run_part(part, out, quick))
    table = render_table(results, command=command, started=started, load_start=load_start,
                         seconds=time.monotonic() - clock)
    (out / "table.md").write_text(table + "\n", encoding="utf-8")
    print("\n" + table + "\n")
    print(f"bench: the table and each part's output in {out}")
    return overall_status(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated parts: " + ",".join(p.name for p in PARTS))
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny sizes, 1-second wrk runs")
    args = parser.parse_args(argv)
    wanted = [name for name in args.only.replace(" ", ",").split(",") if name]
    unknown = set(wanted) - {p.name for p in PARTS}
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; the parts: {', '.join(p.name for p in PARTS)}")
    parts = [p for p in PARTS if not wanted or p.name in wanted]
    if any(p.needs_wrk for p in parts) and shutil.which("wrk") is None:
        print("bench: wrk is not installed: bash scripts/bench_services.sh", file=sys.stderr)
        return 2
    out = Path(os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix="meetups-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    command = os.environ.get("BENCH_COMMAND") or shlex.join(["python", "bench/all.py", *(argv or sys.argv[1:])])
    # One benchmark run at a time on this machine: two would share the CPUs and both be meaningless.
    import fcntl

    with open(Path(tempfile.gettempdir()) / "meetups-bench.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("bench: another benchmark is running on this machine; waiting for it", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        return run(parts, out=out, quick=args.quick, command=command)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C: every part and service is stopped on the way here
        print("\nbench: interrupted; everything it started is stopped", file=sys.stderr)
        sys.exit(130)
