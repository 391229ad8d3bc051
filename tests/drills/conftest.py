"""Fault drills: real Redis (the test's own), real worker processes, a real SMTP sink."""

from __future__ import annotations

import pytest

from tests.drills.support import OwnRedis, Worker, smtp_server


@pytest.fixture(autouse=True)
def _postgres_only(db_kind):
    if db_kind != "postgres":
        pytest.skip("the drills run several processes on one database; they run on PostgreSQL, as production does")


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sink():
    # Like many relays, it does not offer SMTPUTF8 (aiosmtpd's Controller would, unless told not to).
    with smtp_server(enable_SMTPUTF8=False) as handler:
        yield handler


@pytest.fixture
def app_overrides(own_redis, sink):
    return {"REDIS_URL": own_redis.url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port,
            "MAIL_BACKEND": "smtp"}


@pytest.fixture
def worker_env(migrated, own_redis, sink) -> dict[str, str]:
    """Settings for the worker processes: short sweeps, leases and backoff so a drill takes seconds."""
    return {
        "DATABASE_URL": migrated,
        "REDIS_URL": own_redis.url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
        "SECRET_KEY": "test-secret",
        "SITE_URL": "http://meetups.test",
        "OUTBOX_SWEEP_SECONDS": "1",
        "REMINDER_SWEEP_SECONDS": "1",
        "OUTBOX_CLAIM_LEASE_SECONDS": "3",
        "OUTBOX_RETRY_BASE_SECONDS": "1",
        "OUTBOX_RETRY_MAX_SECONDS": "2",
    }


@pytest.fixture
def start_worker(app, worker_env, tmp_path):
    """start_worker("a", beat=True): a real worker process, stopped before the tables are emptied."""
    started: list[Worker] = []

    def start(name: str, *, beat: bool = False, app: str = "tasks", **env) -> Worker:
        worker = Worker({**worker_env, **env}, tmp_path / name, name, beat=beat, app=app)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.kill()  # the drill is over: a graceful stop only costs seconds of warm shutdown
