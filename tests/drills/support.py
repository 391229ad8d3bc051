"""Real processes for the fault drills: an SMTP sink that can refuse or stall, a Redis of the
test's own (never the shared one), and Celery workers that can be SIGKILLed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from tests.support.servers import OwnRedis  # noqa: F401  (the drills stop and start it)
from tests.support.smtp import RecordingHandler
from webapp.outbox.models import OutboxMail

ROOT = Path(__file__).resolve().parents[2]


class ProgrammableHandler(RecordingHandler):
    """A recording sink whose answers a test changes while it runs.

    - `refuse_mail`: an answer such as "451 4.3.0 Try again later" for every MAIL FROM;
    - `refuse_rcpt`: {address: "550 5.1.1 No such user"};
    - `stall_at_mail`: on that (1-based) MAIL FROM, set `stalled` and hold the client there.
    """

    def __init__(self) -> None:
        super().__init__()
        self.refuse_mail: str | None = None
        self.refuse_rcpt: dict[str, str] = {}
        self.stall_at_mail: int | None = None
        self.stall_seconds = 30.0
        self.stalled = threading.Event()
        self.mail_commands = 0
        self.connections = 0
        self.refused = 0
        self.envelopes: list[tuple[str, list[str], list[str]]] = []  # (MAIL FROM, RCPT TOs, options)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_commands += 1
        if self.stall_at_mail is not None and self.mail_commands == self.stall_at_mail:
            self.stalled.set()
            await asyncio.sleep(self.stall_seconds)
        if self.refuse_mail:
            self.refused += 1
            return self.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), list(envelope.mail_options)))
        return await super().handle_DATA(server, session, envelope)

    def recipients(self) -> list[str]:
        with self._lock:
            return [m["To"] for m in self.messages]

    def go_down(self) -> None:
        """Stop listening: a connection to the port is refused, as when the mail server is down."""
        self._server.go_down()

    def come_back(self) -> None:
        """Listen on the same port again, keeping what was received."""
        self._server.come_back()


class _Listener:
    """The aiosmtpd controller of a sink; a stopped controller cannot start again, so coming
    back is a new one on the same port with the same handler."""

    def __init__(self, handler, options: dict) -> None:
        from tests.conftest import free_port

        self.handler, self.options, self.port = handler, options, free_port()
        self.controller = None

    def come_back(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()

    def go_down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextmanager
def smtp_server(handler=None, **options):
    """A sink on a free port; `options` go to aiosmtpd (e.g. enable_SMTPUTF8=True)."""
    handler = handler or ProgrammableHandler()
    listener = _Listener(handler, options)
    listener.come_back()
    handler.port, handler._server = listener.port, listener
    try:
        yield handler
    finally:
        listener.go_down()


class Worker:
    """A real `celery -A tasks worker` process (optionally with the beat scheduler)."""

    def __init__(self, env: dict[str, str], folder: Path, name: str, *, beat: bool = False,
                 concurrency: int = 1, app: str = "tasks") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "INSTANCE_PATH": str(folder)}
        self.env.pop("FLASK_DEBUG", None)
        self.cmd = [
            str(Path(sys.executable).parent / "celery"), "-A", app, "worker", "--loglevel=INFO",
            f"--concurrency={concurrency}", "--pool=prefork", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h",
        ]
        if beat:
            self.cmd += ["--beat", "--schedule", str(folder / "beat-schedule")]
        self.log_path = folder / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> Worker:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("a")
        # Its own session: a SIGKILL reaches the main process and its pool children at once.
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while " ready." not in self.log_path.read_text()[offset:]:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no goodbye, no acknowledgement, no cleanup."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill_pool(self) -> None:
        """SIGKILL the pool process running the task (as the OOM killer would); the worker lives on."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        assert len(children) == 1, f"expected one pool process, found {children}"
        os.kill(int(children[0]), signal.SIGKILL)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def assert_each_once(sink, expected: list[str], *, subject_start: str | tuple[str, ...] | None = None) -> None:
    """The sink received exactly one mail for each of `expected`: nothing missing, nothing doubled."""
    received = Counter(sink.recipients())
    assert received == Counter(expected), f"missing {set(expected) - set(received)}, doubled " \
        f"{[r for r, n in received.items() if n > 1]}"
    if subject_start:
        assert all(m["Subject"].startswith(subject_start) for m in sink.messages)


def states(session) -> Counter:
    """How many outbox rows are in each state, read afresh."""
    session.expire_all()
    return Counter(session.scalars(select(OutboxMail.state)))


def succeeded(worker, task: str) -> int:
    """How many runs of `task` the worker's log says succeeded."""
    return sum(1 for line in worker.log().splitlines() if f"Task {task}[" in line and "succeeded" in line)
