"""`make bench`'s own machinery (bench/harness.py, bench/all.py): the private services start and
stop and are never the machine's, and the driver turns each part's BENCH-RESULT line into one
table and one exit status. The benchmarks themselves are not run here (minutes, and wrk)."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from bench import all as driver
from bench import harness


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_private_services_are_the_runs_own_and_stopped_on_the_way_out(monkeypatch):
    monkeypatch.delenv("BENCH_POSTGRES", raising=False)
    monkeypatch.delenv("BENCH_REDIS", raising=False)
    with harness.private_services() as services:
        pg_port = int(services.postgres.rsplit(":", 1)[1])
        redis_port = int(services.redis_url.rsplit(":", 1)[1].split("/")[0])
        assert {pg_port, redis_port}.isdisjoint({5432, 6379})
        url = services.database("meetups_bench_check")
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("meetups_bench_check",)
            conn.execute("CREATE TABLE left_behind (id int)")
            conn.commit()
        # A database handed out again is new and empty.
        again = services.database("meetups_bench_check")
        with psycopg.connect(again.replace("postgresql+psycopg", "postgresql")) as conn:
            assert conn.execute("SELECT to_regclass('left_behind')").fetchone() == (None,)
        client = redis.Redis.from_url(services.redis_url)
        client.set("left", "behind")
        assert client.get("left") == b"behind"
        assert redis.Redis.from_url(services.fresh_redis()).get("left") is None
    assert not _listening(pg_port) and not _listening(redis_port)
    assert "BENCH_POSTGRES" not in os.environ


def test_private_services_stop_when_the_benchmark_fails(monkeypatch):
    monkeypatch.delenv("BENCH_POSTGRES", raising=False)
    monkeypatch.delenv("BENCH_REDIS", raising=False)
    with pytest.raises(KeyboardInterrupt), harness.private_services() as services:
        ports = (int(services.postgres.rsplit(":", 1)[1]), int(services.redis_url.rsplit(":", 1)[1].split("/")[0]))
        raise KeyboardInterrupt  # as Ctrl-C
    assert not any(_listening(port) for port in ports)


def test_a_benchmark_never_empties_a_database_that_is_not_on_its_private_server(monkeypatch):
    monkeypatch.setenv("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:1")
    with pytest.raises(SystemExit, match="refusing"):
        harness.reset_database("postgresql+psycopg://postgres:postgres@127.0.0.1:5432/meetups_bench")


@pytest.fixture(scope="module")
def services():
    """One pair for the driver's tests, as bench/all.py hands its own to each part."""
    saved = {name: os.environ.pop(name, None) for name in ("BENCH_POSTGRES", "BENCH_REDIS")}
    with harness.private_services() as pair:
        yield pair
    os.environ.update({name: value for name, value in saved.items() if value is not None})


def _part(name: str, *lines: str, exit_code: int = 0) -> driver.Part:
    code = "".join(f"print({line!r})\n" for line in lines) + f"raise SystemExit({exit_code})\n"
    return driver.Part(name, [sys.executable, "-c", code])


def _result(bench: str, *rows: dict, valid: bool = True) -> str:
    return harness.result_line(bench, list(rows), valid=valid)


MET = harness.row("page a", 0.7, "≥ 0.6 × bare hello", True, "anonymous GETs", unit="×")
MISSED = harness.row("page b", 0.2, "≥ 0.35 × bare hello", False, "signed-in GETs", unit="×")
CONTEXT = harness.row("baseline", 2300.0, "", None, "a bare Flask hello", unit="req/s")


def test_the_table_has_a_row_per_result_and_says_met_or_missed(tmp_path, services):
    parts = [_part("one", "some output", _result("one", CONTEXT, MET)),
             _part("two", _result("two", MISSED), exit_code=1)]
    status = driver.run(parts, out=tmp_path, quick=False, command="make bench ONLY=one,two")
    table = (tmp_path / "table.md").read_text()
    assert status == 1
    assert table.startswith("`make bench ONLY=one,two` · ")
    assert f"{os.cpu_count()} CPUs" in table
    assert "load average" in table
    assert "| one | baseline | 2,300 req/s | — | — | a bare Flask hello |" in table
    assert "| one | page a | 0.70 × | ≥ 0.6 × bare hello | met | anonymous GETs |" in table
    assert "| two | page b | 0.20 × | ≥ 0.35 × bare hello | **missed** | signed-in GETs |" in table
    assert (tmp_path / "one" / "stdout.log").read_text().startswith("some output")


def test_every_target_met_is_0_and_a_part_without_a_result_or_invalid_is_2(tmp_path, services):
    met = json.loads(_result("one", MET, CONTEXT).removeprefix("BENCH-RESULT "))
    assert driver.overall_status([met]) == 0
    crashed = _part("crash", "half a line", exit_code=3)
    wrong = _part("wrong", _result("wrong", MET, valid=False), exit_code=2)
    assert driver.run([_part("one", _result("one", MET)), crashed, wrong], out=tmp_path / "b", quick=False,
                      command="x") == 2
    table = (tmp_path / "b" / "table.md").read_text()
    assert "| crash | **the run was invalid** | | | **invalid** | crash exited 3 without a BENCH-RESULT line |" in table
    assert "| wrong | **the run was invalid** |" in table


def test_the_parts_are_the_issues_list_and_each_script_ends_with_a_result_line():
    assert [p.name for p in driver.PARTS] == ["pages", "burst", "reminders", "feeds", "digests", "series"]
    for part in driver.PARTS:
        source = Path(part.command[1]).read_text()
        assert "private_services" in source and "result_line(" in source, part.name
    line = _result("x", MET)
    assert line.startswith("BENCH-RESULT ") and json.loads(line.removeprefix("BENCH-RESULT "))["rows"] == [MET]
