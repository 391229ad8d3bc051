"""What every benchmark shares: private services (a PostgreSQL cluster in a temp folder and a
redis-server, each on a free port: `private_services()`), an SMTP sink, real Celery workers,
gunicorn, wrk, the memory of a process, and the one-line result each benchmark ends with
(`result_line`, read by bench/all.py). Loopback only, every wait bounded (DEADLINE): a run fails
rather than hangs. Never the machine's PostgreSQL or Redis, their databases or passwords.

Not a test helper: the suite has its own (tests/support/).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import PrivatePostgres as _PrivatePostgres  # noqa: E402
from tests.support.servers import free_port  # noqa: E402, F401 - the benchmarks' too

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEADLINE = 300  # seconds for any one wait


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = DEADLINE, step: float = 0.01,
             progress: Callable[[], object] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}"
                             + (f" (so far: {progress()})" if progress else ""))
        time.sleep(step)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --- private services: PostgreSQL and Redis of the run's own -------------------------------------

def PrivatePostgres() -> _PrivatePostgres:  # noqa: N802 - stands for the class the tests use
    """The test suite's private cluster (`initdb` into a temp folder, `pg_ctl` on a free port, trust
    on loopback, as the `postgres` user when root; fsync off, which only the seeding pays for: a
    benchmark measures reads and lock waits, not the disk), its `url` naming the server alone."""
    return _PrivatePostgres(database=None, prefix="meetups-bench-pg-", max_connections=300)


@dataclass
class Services:
    """The run's own PostgreSQL server (`postgres`: its URL without a database) and Redis."""

    postgres: str
    redis_url: str

    def database(self, name: str) -> str:
        """A new, empty database of this name on the private server (dropped first if there)."""
        reset_database(f"{self.postgres}/{name}", drop=True)
        return f"{self.postgres}/{name}"

    def fresh_redis(self) -> str:
        """The private Redis, emptied: each benchmark starts from nothing (it is nobody else's)."""
        import redis

        redis.Redis.from_url(self.redis_url).flushall()
        return self.redis_url


def _is_private(url: str) -> bool:
    own = os.environ.get("BENCH_POSTGRES")
    return bool(own) and url.startswith(own + "/")


@contextmanager
def private_services() -> Iterator[Services]:
    """PostgreSQL and Redis of this benchmark's own, stopped on the way out: on return, error,
    Ctrl-C or SIGTERM. Run under bench/all.py, the driver's (named by BENCH_POSTGRES and
    BENCH_REDIS) are used instead: one pair for the whole `make bench`, each part in its own
    database. Every benchmark script takes its database and Redis from here."""
    # SIGTERM (timeout, kill <pid>, the driver stopping a part) as Ctrl-C: unwind, so every
    # `finally` and context manager on the way stops what it started (servers, gunicorn, workers).
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if os.environ.get("BENCH_POSTGRES") and os.environ.get("BENCH_REDIS"):
            yield Services(os.environ["BENCH_POSTGRES"], os.environ["BENCH_REDIS"])
            return
        folder = Path(tempfile.mkdtemp(prefix="meetups-bench-redis-"))
        postgres = PrivatePostgres()
        try:
            postgres.start()
            with RedisServer(folder) as redis_server:
                os.environ["BENCH_POSTGRES"], os.environ["BENCH_REDIS"] = postgres.url, redis_server.url
                try:
                    yield Services(postgres.url, redis_server.url)
                finally:
                    os.environ.pop("BENCH_POSTGRES", None)
                    os.environ.pop("BENCH_REDIS", None)
        finally:
            postgres.stop()
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(128 + signum)


def reset_database(url: str, drop: bool = False) -> None:
    """Create the database if missing (`drop`: anew) and empty its schema; only on the private
    server that private_services() started, never the machine's."""
    import psycopg

    if not _is_private(url):
        raise SystemExit(f"refusing {url}: benchmarks use only the private server of private_services()")
    plain = url.replace("postgresql+psycopg", "postgresql")
    base, name = plain.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True, connect_timeout=10) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(plain, autocommit=True, connect_timeout=10) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


# --- the common result line ------------------------------------------------------------------------

RESULT_PREFIX = "BENCH-RESULT "


def row(name: str, value: float | None, target: str, met: bool | None, what: str, unit: str = "") -> dict:
    """One line of the table: what was measured (`name`), its value, the target as text (">= 0.6
    x bare hello"), whether it was met (None: no target, for context), and what it measured."""
    return {"name": name, "value": value, "unit": unit, "target": target, "met": met, "what": what}


def result_line(bench: str, rows: list[dict], *, valid: bool = True, problems: Iterable[str] = ()) -> str:
    """The last line a benchmark prints: `BENCH-RESULT {json}`. `valid` False: the run itself went
    wrong (errors, a wrong count), whatever the numbers say."""
    return RESULT_PREFIX + json.dumps({"bench": bench, "valid": valid, "problems": list(problems), "rows": rows,
                                       "load": load_average()})


def exit_status(rows: list[dict], valid: bool = True) -> int:
    """0 every target met, 1 a target missed, 2 the run was invalid."""
    if not valid:
        return 2
    return 1 if any(r["met"] is False for r in rows) else 0


def bench_app(db_url: str, work: Path, redis_url: str | None, **config):
    """The app in this process, on the bench database, migrated to head."""
    from flask_migrate import upgrade

    from webapp import create_app

    app = create_app({
        "TESTING": True, "SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": db_url,
        "INSTANCE_PATH": str(work), "REDIS_URL": redis_url, "SITE_URL": "http://meetups.bench", **config,
    })
    with app.app_context():
        upgrade(revision="heads")
    return app


# --- memory ----------------------------------------------------------------------------------------

def _status_kb(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def memory_kb(pid: int, field_name: str = "VmHWM") -> dict[str, int]:
    """A field of /proc/<pid>/status (VmHWM: peak resident set; VmRSS: resident now) for a worker's
    main process and each of its pool children."""
    return {"main": _status_kb(pid, field_name),
            **{f"child{n}": _status_kb(c, field_name) for n, c in enumerate(children(pid))}}


# --- Redis -----------------------------------------------------------------------------------------

def _pings(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.2).ping())
    except redis.ConnectionError:
        return False


class RedisServer:
    """A redis-server of the benchmark's own on a free loopback port, nothing saved; `.url`.
    A context manager: never the machine's Redis, so a run empties nobody's data."""

    def __init__(self, folder: Path) -> None:
        port = free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        self._proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> RedisServer:
        try:
            wait_for(lambda: _pings(self.url), "redis", 10)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


# --- the SMTP sink ---------------------------------------------------------------------------------

class CountingSink:
    """An aiosmtpd handler: counts accepted messages and remembers when each recipient's last one
    arrived (and, when `keep` is set, the messages themselves)."""

    def __init__(self, keep: bool = False) -> None:
        self.count = 0
        self.arrived: dict[str, float] = {}
        self.kept: list[bytes] = []
        self.keep = keep
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        now = time.monotonic()
        with self.lock:
            self.count += 1
            for rcpt in envelope.rcpt_tos:
                self.arrived[rcpt] = now
            if self.keep:
                self.kept.append(envelope.content)
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.count = 0
            self.arrived.clear()
            self.kept.clear()


def bare_smtplib_seconds(messages: Iterable, port: int, build: Callable) -> float:
    """Send each row's message over one smtplib connection, building it in the loop as the worker
    does (MIME parts, attachment): what a ratio to this measures is the outbox's own cost (claims,
    re-checks, commits, the broker), not the email package's."""
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for mail in messages:
            message = build(mail)
            smtp.sendmail(message.sender, [mail.recipient], message.as_bytes())
    return time.monotonic() - started


# --- Redis, the sink and real Celery workers, together ---------------------------------------------

@dataclass
class MailRig:
    """The private services' Redis (emptied; or, outside private_services(), a Redis of its own on
    a free port), an in-process SMTP sink and, on demand, real Celery worker processes (prefork,
    concurrency 1 each) pointed at both. Use as a context manager: everything it started is
    stopped on the way out, whatever happened."""

    db_url: str
    keep_messages: bool = False
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-mail-")))
    workers: list[subprocess.Popen] = field(default_factory=list)

    def __enter__(self) -> MailRig:
        from aiosmtpd.controller import Controller

        self._redis = None
        if os.environ.get("BENCH_REDIS"):
            self.redis_url = Services(os.environ.get("BENCH_POSTGRES", ""), os.environ["BENCH_REDIS"]).fresh_redis()
        else:
            self._redis = RedisServer(self.work).__enter__()
            self.redis_url = self._redis.url
        self.sink = CountingSink(keep=self.keep_messages)
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=free_port())
        self._controller.start()
        self.smtp_port = self._controller.port
        return self

    def app(self, **config):
        """The app in this process, on the rig's database and Redis, migrated."""
        return bench_app(self.db_url, self.work, self.redis_url, **config)

    def worker_env(self) -> dict[str, str]:
        env = {**os.environ, "DATABASE_URL": self.db_url, "REDIS_URL": self.redis_url, "MAIL_SERVER": "127.0.0.1",
               "MAIL_PORT": str(self.smtp_port), "SECRET_KEY": "bench-secret", "SITE_URL": "http://meetups.bench",
               # No sweeps during the measurement: the mails go by their own dispatch, as measured.
               "PYTHONUNBUFFERED": "1", "OUTBOX_SWEEP_SECONDS": "3600", "REMINDER_SWEEP_SECONDS": "3600"}
        env.pop("FLASK_DEBUG", None)
        return env

    def start_workers(self, count: int) -> None:
        """`count` Celery workers, each one process with one pool child, as production runs them;
        returns once every pool child is up and connected."""
        env = self.worker_env()
        for n in range(count):
            folder = self.work / f"worker{n}"
            folder.mkdir()
            log = (folder / "worker.log").open("w")
            self.workers.append(subprocess.Popen(
                [str(BIN / "celery"), "-A", "tasks", "worker", "--loglevel=WARNING", "--concurrency=1",
                 "--pool=prefork", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench{n}@%h"],
                cwd=ROOT, env={**env, "INSTANCE_PATH": str(folder)}, stdout=log, stderr=subprocess.STDOUT))
        time.sleep(1)
        wait_for(lambda: all(len(children(w.pid)) >= 1 for w in self.workers), "workers", 60)
        time.sleep(2)  # the pool children connect to Redis

    def worker_memory(self, field_name: str = "VmHWM") -> dict[str, dict[str, int]]:
        return {f"worker{n}": memory_kb(w.pid, field_name) for n, w in enumerate(self.workers)}

    def __exit__(self, *exc_info) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        self._controller.stop()
        if self._redis is not None:
            self._redis.__exit__()
        shutil.rmtree(self.work, ignore_errors=True)


# --- gunicorn and wrk ------------------------------------------------------------------------------

class Gunicorn:
    """gunicorn serving the real app (sync workers, as the Dockerfile runs it),
    on a free loopback port, with these environment settings. A context manager."""

    def __init__(self, env: dict[str, str], workers: int = 2, log: Path | None = None,
                 app: str = "webapp:create_app()") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = (log or Path(os.devnull)).open("w")
        self._proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
             "--access-logfile", "/dev/null", "--error-logfile", "-", app],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> Gunicorn:
        try:
            wait_for(lambda: get(self.base + "/hello")[0] == 200, "gunicorn to answer /hello", 60, 0.25)
        except BaseException:
            self.__exit__()
            raise
        return self

    @property
    def pid(self) -> int:
        return self._proc.pid

    def drain(self, fast_ms: float = 50, timeout: float = 120) -> None:
        """Wait until the requests wrk left queued are done: wrk stops sending, but a sync worker
        still serves every connection already accepted or waiting in the listen backlog, and
        a slow page's leftovers would otherwise eat into the next measurement. A /hello sent now
        waits behind all of them; once two in a row answer fast, the queue is empty."""
        fast, deadline = 0, time.monotonic() + timeout
        while fast < 2:
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.base} still busy after {timeout:.0f} s")
            started = time.monotonic()
            status = get(self.base + "/hello")[0]
            fast = fast + 1 if status == 200 and (time.monotonic() - started) * 1000 < fast_ms else 0
        time.sleep(0.5)  # the other worker may still finish its last request

    def __exit__(self, *exc_info) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._log.close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body); (0, {}, b"") when nothing answers."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
    except OSError:
        return 0, {}, b""


@dataclass
class WrkResult:
    rps: float
    requests: int
    bytes_read: float
    bad: int  # socket errors and answers of 400 or more
    p50_ms: float | None
    p99_ms: float | None
    raw: str


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
_SIZES = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def _ms(text: str) -> float | None:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def wrk(url: str, *, threads: int = 2, connections: int = 16, seconds: int = 10,
        headers: dict[str, str] | None = None, script: Path | None = None) -> WrkResult:
    """One wrk run (`--latency`). wrk counts only socket errors and status >= 400 as bad; a 304 is fine.
    Its timeout is long: an uncached 300-event feed under 16 connections on a busy machine takes
    seconds, and a request wrk gave up on would count as an error, not as the slow answer it is.
    `script`: a Lua script (e.g. bench/pages.py's rotating member cookies); if it prints
    "Not 200: <n>", those answers count as bad too (a redirect to sign-in is not a page)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M).group(1))
    m = re.search(r"^\s*(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB) read", out, re.M)
    requests, bytes_read = int(m.group(1)), float(m.group(2)) * _SIZES[m.group(3)]
    bad = 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        bad += sum(int(x) for x in m.groups())
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        bad += int(m.group(1))
    if m := re.search(r"^Not 200: (\d+)", out, re.M):
        bad += int(m.group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return WrkResult(rps, requests, bytes_read, bad, p50 and _ms(p50.group(1)), p99 and _ms(p99.group(1)), out)


# --- profiling (py-spy, when installed: `.venv/bin/pip install py-spy`) ----------------------------

class PySpy:
    """Sample these processes with py-spy while the block runs; collapsed stacks into `out`
    (one file per process). A context manager; does nothing when `out` is None."""

    def __init__(self, pids: list[int], out: Path | None, rate: int = 100) -> None:
        self.pids, self.out, self.rate, self._procs = pids, out, rate, []

    def __enter__(self) -> PySpy:
        if self.out is None:
            return self
        spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
        if spy is None:
            raise SystemExit("PROFILE is set but py-spy is not installed: .venv/bin/pip install py-spy")
        self.out.mkdir(parents=True, exist_ok=True)
        for pid in self.pids:
            self._procs.append(subprocess.Popen(
                # --idle: waiting (on the database, the broker, the mail server) is where wall time goes too.
                [spy, "record", "--format", "raw", "--rate", str(self.rate), "--nonblocking", "--idle", "--nolineno",
                 "-o", str(self.out / f"{pid}.txt"), "-p", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)  # py-spy attaches
        return self

    def __exit__(self, *exc_info) -> None:
        import signal

        for proc in self._procs:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file and stops
        for proc in self._procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def summary(self, top: int = 30) -> str:
        """Each function's inclusive share of the samples, over all the files, biggest first."""
        if self.out is None:
            return ""
        total, inclusive = 0, {}
        for path in self.out.glob("*.txt"):
            for line in path.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if not count.isdigit():
                    continue
                total += int(count)
                for frame in set(stack.split(";")):
                    name = re.sub(r" \(.*?(site-packages/|/)(?=[^/]*/[^/]*\)$)", " (", frame)
                    inclusive[name] = inclusive.get(name, 0) + int(count)
        if not total:
            return "py-spy: no samples"
        rows = sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]
        return "\n".join(f"{100 * n / total:5.1f} %  {name}" for name, n in rows)
