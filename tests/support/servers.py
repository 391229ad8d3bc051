"""Servers of the test run's own: a PostgreSQL cluster in a temp folder and redis-server processes
on free ports. The suite never touches the machine's own PostgreSQL or Redis (their databases,
their roles, their passwords), so two runs on one machine never meet."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin(name: str) -> str:
    """Debian keeps initdb and pg_ctl off the PATH, under /usr/lib/postgresql/<version>/bin."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    found = candidates[-1] if candidates else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install PostgreSQL (make test does it from Debian's packages)")
    return found


class PrivatePostgres:
    """`initdb` into a temp folder and `pg_ctl start` on a free port; `stop()` removes it all.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user
    (Debian's package creates it); the folder is ours and deleted afterwards.
    """

    def __init__(self, *, database: str | None = "test", prefix: str = "meetups-test-pg-",
                 max_connections: int = 200) -> None:
        """`database`: made once started, and the end of `url` (None: `url` names the server alone,
        as the benchmarks use it, each adding its own database)."""
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.data = self.folder / "data"
        self.database = database
        self.max_connections = max_connections
        server = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"
        self.url = f"{server}/{database}" if database else server
        self._run_as: str | None = None
        if os.geteuid() == 0:
            self._run_as = "postgres"
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)

    def _run(self, *cmd: str, **kwargs) -> subprocess.CompletedProcess:
        if self._run_as:
            cmd = ("runuser", "-u", self._run_as, "--", *cmd)
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kwargs)

    def start(self) -> PrivatePostgres:
        try:
            self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
            # Durability is not what a test run is for: no fsync makes it several times faster.
            options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                       f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections}")
            self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                      "-o", options, "-w", "-t", "60", "start")
            if self.database:
                self._run(_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          self.database)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            log = self.folder / "log"
            detail = log.read_text()[-2000:] if log.exists() else ""
            self.stop()
            raise RuntimeError(f"could not start a private PostgreSQL: {exc.stderr}\n{detail}") from exc
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


class OwnRedis:
    """A redis-server of the test's own, on a free port, that the test may stop and start."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.proc: subprocess.Popen | None = None

    def start(self) -> OwnRedis:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return self
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None
