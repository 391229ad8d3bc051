"""Start the web server and a Celery worker with its embedded scheduler; Ctrl-C stops both.

Used by `make run`. Everything runs on embedded defaults: SQLite, kombu's filesystem broker,
mails as .eml files in instance/mail/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    port = os.environ.get("PORT", "5000")
    env = {**os.environ, "FLASK_DEBUG": os.environ.get("FLASK_DEBUG", "1")}
    env.setdefault("SITE_URL", f"http://localhost:{port}")
    instance = Path(env.get("INSTANCE_PATH", ROOT / "instance"))
    instance.mkdir(exist_ok=True)
    commands = {
        "web": [str(BIN / "flask"), "--app", "webapp", "run", "--port", port, "--no-reload"],
        "worker": [
            str(BIN / "celery"), "-A", "tasks", "worker", "--beat", "--loglevel=INFO",
            "--concurrency=2", "--schedule", str(instance / "celerybeat-schedule"),
        ],
    }
    processes = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in commands.items()}
    print(f"\n  METRO Meetups is starting on http://localhost:{port}  (Ctrl-C stops everything)")
    print(f"  Mails: {instance / 'mail'}/ and http://localhost:{port}/dev/mail\n", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in processes.items():
            if proc.poll() is not None:
                print(f"{name} exited with status {proc.returncode}; stopping the rest.")
                exit_code = proc.returncode or 1
                stopping = True
        time.sleep(0.3)
    for proc in processes.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in processes.values():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
