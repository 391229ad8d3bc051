"""A pytest plugin for docs/benchmarks.md, "The test suite": per test, the wall time and the CPU of
the xdist process's whole tree (Chromium, Celery workers, subprocesses) and of its PostgreSQL
cluster, one JSON line each into /tmp/suite-cpu-<tag>-<worker>.jsonl.

    PYTHONPATH=bench SUITE_CPU_TAG=pg .venv/bin/pytest --db=postgres -n 3 --dist loadgroup -p suite_cpu -q

CPU is read from /proc before and after each test (utime+stime of the living processes, with
their reaped children's), so a process that ends unreaped during a test is missed: sums are a floor.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

TICK = os.sysconf("SC_CLK_TCK")
_state = {"out": None, "pg_port": None, "pg_pid": None}


def _out():
    if _state["out"] is None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _state["out"] = open(f"/tmp/suite-cpu-{os.environ.get('SUITE_CPU_TAG', 'run')}-{worker}.jsonl", "w")
    return _state["out"]


def _processes() -> dict[int, tuple[int, int]]:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = open(f"/proc/{name}/stat").read()
            except OSError:
                continue
            rest = stat[stat.rindex(")") + 2:].split()
            found[int(name)] = (int(rest[1]), sum(map(int, rest[11:15])))
    return found


def _postmaster(port: str) -> int | None:
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                argv = open(f"/proc/{name}/cmdline").read().split("\0")
            except OSError:
                continue
            if argv[0].endswith("/postgres") and f"-p {port} " in " ".join(argv) + " ":
                return int(name)
    return None


def _cpu() -> tuple[float, float]:
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in procs.items():
        children.setdefault(parent, []).append(pid)

    def tree(root):
        total, stack = 0, [root]
        while stack:
            pid = stack.pop()
            total += procs.get(pid, (0, 0))[1]
            stack.extend(children.get(pid, []))
        return total

    if _state["pg_port"] and _state["pg_pid"] not in procs:
        _state["pg_pid"] = _postmaster(_state["pg_port"])
    return tree(os.getpid()) / TICK, (tree(_state["pg_pid"]) / TICK if _state["pg_pid"] else 0.0)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    outcome = yield
    if fixturedef.argname == "postgres_url" and outcome.excinfo is None:
        found = re.search(r":(\d+)/", outcome.get_result())
        _state["pg_port"] = found and found.group(1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start, before = time.time(), _cpu()
    yield
    after = _cpu()
    _out().write(json.dumps({"id": item.nodeid, "t0": start, "t1": time.time(),
                             "cpu": after[0] - before[0], "pg": after[1] - before[1]}) + "\n")
    _out().flush()
