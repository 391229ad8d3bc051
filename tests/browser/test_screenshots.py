"""`make screenshots` runs end to end, in small: its own server and SQLite seed database, the
organizer and the member signed in through their mailed links, a page and a mail photographed at
phone size into a temp folder, and nothing of it left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_the_screenshot_script_signs_people_in_and_writes_pngs(tmp_path):
    temp_before = set(Path(tempfile.gettempdir()).glob("meetups-screenshots-*"))
    # Settings of the developer's shell must not reach it: it runs on its own database, no Redis.
    env = {**os.environ, "DATABASE_URL": "postgresql://nowhere.invalid/x", "REDIS_URL": "redis://nowhere.invalid"}
    done = subprocess.run(
        [sys.executable, "scripts/screenshots.py", "--out", str(tmp_path), "--only", "attendees,mail-confirmation",
         "--sizes", "phone"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attendees-phone.png", "mail-confirmation-phone.png"]
    for path in tmp_path.iterdir():
        assert png_size(path) == (390, 844)
    assert set(Path(tempfile.gettempdir()).glob("meetups-screenshots-*")) == temp_before
