"""The README's command-line examples work typed exactly as written in a fresh `make run`
checkout: no SECRET_KEY, no FLASK_DEBUG in the environment, the development SQLite database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Settings a developer's shell does not have, and production settings this run must not see.
NOT_IN_A_NEW_SHELL = ("SECRET_KEY", "FLASK_DEBUG", "FLASK_APP", "DATABASE_URL", "REDIS_URL", "MAIL_SERVER",
                      "SITE_URL", "TEST_POSTGRES_URL", "TEST_REDIS_URL")


def readme_cli_lines() -> list[str]:
    """Every `.venv/bin/flask --app webapp …` line of the README's shell blocks, comments dropped."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith(".venv/bin/flask --app webapp "):
                lines.append(command)
    return lines


@pytest.fixture
def new_shell(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in NOT_IN_A_NEW_SHELL}
    env["INSTANCE_PATH"] = str(tmp_path / "instance")  # make run's instance/, in a temp folder
    return env


def run(command: str, env) -> subprocess.CompletedProcess:
    flask = Path(sys.executable).parent / "flask"  # the README's .venv/bin/flask, in whichever venv runs us
    argv = [str(flask), *command.split()[1:]]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_readme_shows_the_role_and_organizer_commands():
    commands = readme_cli_lines()
    assert any(" users grant-role " in c for c in commands)
    assert any(" groups add-organizer " in c for c in commands)


def test_every_readme_flask_command_runs_as_typed(new_shell):
    for setup in ("flask --app webapp db upgrade", "flask --app webapp seed"):  # what make run does first
        done = run(setup, new_shell)
        assert done.returncode == 0, done.stderr[-2000:]
    for command in readme_cli_lines():
        done = run(command, new_shell)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr[-2000:]}"
        assert "SECRET_KEY" not in done.stderr


def test_the_flask_command_still_refuses_a_public_site(new_shell):
    done = run("flask --app webapp users grant-role ada@example.org staff",
               {**new_shell, "SITE_URL": "https://meetups.metro.org"})
    assert done.returncode != 0
    assert "FLASK_DEBUG is on" in done.stderr and ".flaskenv" in done.stderr
