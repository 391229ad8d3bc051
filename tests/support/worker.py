"""Start a real Celery worker process (on the real Redis) for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def celery_worker(env_overrides: dict[str, str], *, beat: bool = False, timeout: float = 60.0):
    env = {**os.environ, **env_overrides, "PYTHONUNBUFFERED": "1"}
    env.pop("FLASK_DEBUG", None)
    cmd = [
        str(Path(sys.executable).parent / "celery"), "-A", "tasks", "worker",
        "--loglevel=INFO", "--concurrency=1", "--pool=prefork", "--without-gossip",
        "--without-mingle", "--without-heartbeat", "-n", f"test-{os.getpid()}@%h",
    ]
    if beat:
        cmd += ["--beat", "--schedule", env_overrides.get("INSTANCE_PATH", "/tmp") + "/beat"]
    log_path = Path(env_overrides.get("INSTANCE_PATH", "/tmp")) / "worker.log"
    log = log_path.open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while " ready." not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        proc.log_path = log_path
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
