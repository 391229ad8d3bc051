"""The suite runs on servers of its own, never on the machine's PostgreSQL or Redis."""

from __future__ import annotations

import tempfile

import pytest
import redis
from sqlalchemy import create_engine, make_url, text

from tests import conftest


@pytest.mark.skipif(conftest.POSTGRES_URL is not None, reason="TEST_POSTGRES_URL names a server on purpose")
def test_postgres_is_a_cluster_of_the_runs_own_in_a_temp_folder(postgres_url):
    url = make_url(postgres_url)
    assert url.port != 5432
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            data_directory = conn.execute(text("SHOW data_directory")).scalar_one()
    finally:
        engine.dispose()
    assert data_directory.startswith(tempfile.gettempdir())
    assert "meetups-test-pg-" in data_directory


@pytest.mark.skipif(conftest.REDIS_URL is not None, reason="TEST_REDIS_URL names a server on purpose")
def test_redis_is_a_server_of_the_runs_own(redis_url):
    client = redis.Redis.from_url(redis_url)
    port = int(client.config_get("port")["port"])
    assert port != 6379
    assert redis_url.startswith(f"redis://127.0.0.1:{port}/")
