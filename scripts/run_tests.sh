#!/usr/bin/env bash
# make test's two passes: every test on PostgreSQL, and everything but the browser tests and the
# tests that use no database (tests/conftest.py marks them db_independent: they ran already) on
# SQLite. Given xdist options (-n 3 --dist loadgroup) the two run at the same time: the PostgreSQL
# pass leaves a CPU part idle while its tests wait on Chromium, workers, SMTP and timers, and the
# SQLite pass fills it, so the whole run ends about when the PostgreSQL pass would alone
# (docs/benchmarks.md, "The test suite"). Without options (make test pointed at servers of one's
# own, TEST_POSTGRES_URL / TEST_REDIS_URL, which two passes would share) they take turns.
# The SQLite pass's output is kept in a file and shown once the PostgreSQL pass has ended.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# pytest rewrites the asserts of each test module as it imports it and keeps the result next to
# it, unless Python may not write bytecode: then each of the six xdist processes rewrites all of
# them again, about 8 s of CPU each.
export PYTHONDONTWRITEBYTECODE=
postgres=("$BIN/pytest" --db=postgres "$@")
sqlite=("$BIN/pytest" --db=sqlite -m "not browser and not db_independent" -q "$@")

if [ $# -eq 0 ]; then
  "${postgres[@]}" && "${sqlite[@]}"
  exit
fi

log=$(mktemp "${TMPDIR:-/tmp}/meetups-sqlite-pass-XXXXXX")
set -m  # its own process group, which a Ctrl-C here can then stop too (a plain & would ignore SIGINT)
"${sqlite[@]}" >"$log" 2>&1 &
sqlite_pid=$!
set +m
stop_sqlite() { kill -INT -- "-$sqlite_pid" 2>/dev/null; wait "$sqlite_pid"; cat "$log"; rm -f "$log"; exit 130; }
trap stop_sqlite INT TERM

"${postgres[@]}"
postgres_status=$?
wait "$sqlite_pid"
sqlite_status=$?
trap - INT TERM
echo "SQLite pass (it ran alongside):"
cat "$log"
rm -f "$log"
[ "$postgres_status" -eq 0 ] && [ "$sqlite_status" -eq 0 ]
