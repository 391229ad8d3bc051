#!/usr/bin/env bash
# METRO Meetups benchmark: `make bench` or `bash bench/run.sh`. See docs/benchmarks.md.
#
# One run: rebuild the `meetups_bench` PostgreSQL database (real seed data topped up to
# 25 groups and 300 events), start gunicorn, then with wrk measure /hello, /, /events and one
# event page, sequentially, ROUNDS times; each page's requests/second is reported as a ratio to
# /hello of the same round. Also measures first-load weight (HTML + CSS + JS, gzipped).
# Exit status: 0 every target met, 1 a target missed, 2 the run itself went wrong.
#
# Knobs (environment): BENCH_DATABASE_URL, WORKERS (2), THREADS (2), CONNECTIONS (16),
# DURATION (10s), WARMUP (3s), ROUNDS (3), BENCH_GROUPS (25), BENCH_EVENTS (300), MIN_RATIO (0.35),
# MAX_KB (60), BENCH_OUT (results folder; default a new temp folder), BENCH_APP (the WSGI app
# gunicorn loads, default "webapp:create_app()": point it at a variant to compare a change).
#
# The whole script is one function, read in full before it runs: editing this file (or switching
# branches) during a run cannot change what the running copy does.
set -euo pipefail

main() {

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV_BIN="$ROOT/.venv/bin"
DB_URL="${BENCH_DATABASE_URL:-postgresql+psycopg://postgres:postgres@127.0.0.1:5432/meetups_bench}"
WORKERS="${WORKERS:-2}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-16}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-3s}"
ROUNDS="${ROUNDS:-3}"
BENCH_GROUPS="${BENCH_GROUPS:-25}"
BENCH_EVENTS="${BENCH_EVENTS:-300}"
MIN_RATIO="${MIN_RATIO:-0.35}"
MAX_KB="${MAX_KB:-60}"
BENCH_APP="${BENCH_APP:-webapp:create_app()}"

die() { echo "bench: $*" >&2; exit 2; }

command -v wrk >/dev/null || die "wrk is not installed: sudo apt-get install wrk"
[ -x "$VENV_BIN/gunicorn" ] && [ -x "$VENV_BIN/flask" ] || die "no .venv with gunicorn: run 'make install-test' first"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"
[[ "$DURATION" =~ ^[0-9]+s$ && "$WARMUP" =~ ^[0-9]+s$ ]] || die "DURATION and WARMUP are seconds, like 10s"

# One benchmark at a time on this machine: a second run would drop the database under the first
# and share its CPUs, making both sets of numbers meaningless.
if command -v flock >/dev/null; then
  exec 9>"${TMPDIR:-/tmp}/meetups-bench.lock"
  if ! flock -n 9; then
    echo "bench: another benchmark is running on this machine; waiting for it (up to 15 min)"
    flock -w 900 9 || die "another benchmark is still running"
  fi
fi

OUT="${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/meetups-bench.XXXXXX")}"
mkdir -p "$OUT/wrk" "$OUT/instance"
GUNICORN_PID=
CHILD_PID=

# Long steps run in the background and are waited for, so Ctrl-C or a TERM stops the run at once.
run() { "$@" & CHILD_PID=$!; wait "$CHILD_PID"; }

cleanup() {
  if [ -n "$CHILD_PID" ]; then kill -TERM "$CHILD_PID" 2>/dev/null || true; fi
  if [ -n "$GUNICORN_PID" ] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
    kill -TERM "$GUNICORN_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$GUNICORN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GUNICORN_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What the app reads: production settings (no debug), the bench database, a throwaway instance,
# and Redis as in production (broker, rate limits, the page cache's content version), on a
# database of its own that is emptied first.
unset FLASK_DEBUG
export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/13}"
command -v redis-cli >/dev/null && redis-cli -u "$REDIS_URL" flushdb >/dev/null || die "Redis is not reachable at $REDIS_URL ('make services')"
export DATABASE_URL="$DB_URL" SECRET_KEY=bench BENCH_HELLO=1 INSTANCE_PATH="$OUT/instance"
export PYTHONDONTWRITEBYTECODE=1

echo "bench: results in $OUT"
echo "bench: preparing $DB_URL (drop and recreate its schema)"
timeout 60 "$VENV_BIN/python" - "$DB_URL" <<'PY' || die "could not prepare the benchmark database (is PostgreSQL running? 'make services')"
import sys
import psycopg
from sqlalchemy.engine import make_url

url = make_url(sys.argv[1])
name = url.database
if name in ("test", "postgres", "template0", "template1"):
    sys.exit(f"refusing to use the database {name!r} for benchmarking")
params = dict(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
              password=url.password, connect_timeout=10)
with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
with psycopg.connect(dbname=name, autocommit=True, **params) as conn:
    conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
    conn.execute("CREATE SCHEMA public")
PY
timeout 120 "$VENV_BIN/flask" --app webapp db upgrade >"$OUT/setup.log" 2>&1 \
  || { cat "$OUT/setup.log" >&2; die "flask db upgrade failed"; }
if [ -f webapp/seed/meetups.json ]; then
  timeout 120 "$VENV_BIN/flask" --app webapp seed >>"$OUT/setup.log" 2>&1 \
    || { cat "$OUT/setup.log" >&2; die "flask seed failed"; }
  tail -n 1 "$OUT/setup.log"
else
  echo "bench: WARNING: webapp/seed/meetups.json is missing; using synthetic data only"
fi
POPULATE_OUT="$(timeout 300 "$VENV_BIN/python" bench/populate.py --groups "$BENCH_GROUPS" --events "$BENCH_EVENTS")" \
  || die "bench/populate.py failed"
echo "$POPULATE_OUT" | grep -v '^EVENT_SLUG='
EVENT_SLUG="$(echo "$POPULATE_OUT" | sed -n 's/^EVENT_SLUG=//p')"
[ -n "$EVENT_SLUG" ] || die "populate.py named no event to benchmark"

PORT="$("$VENV_BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
"$VENV_BIN/gunicorn" --workers "$WORKERS" --bind "127.0.0.1:$PORT" \
  --access-logfile /dev/null --error-logfile "$OUT/gunicorn.log" "$BENCH_APP" 9>&- &
GUNICORN_PID=$!

PAGES=(hello=/hello home=/ events=/events "event=/events/$EVENT_SLUG")

# Wait until it answers, then insist on a 200 from every page before measuring anything.
timeout 60 "$VENV_BIN/python" - "$BASE" "${PAGES[@]}" <<'PY' || { tail -n 30 "$OUT/gunicorn.log" >&2; die "the pages are not all answering 200"; }
import sys, time, urllib.request, urllib.error
base, pages = sys.argv[1], [p.split("=", 1) for p in sys.argv[2:]]
for _ in range(200):
    try:
        urllib.request.urlopen(base + "/hello", timeout=2).read()
        break
    except (OSError, urllib.error.URLError):
        time.sleep(0.25)
failed = False
for name, path in pages:
    try:
        status = urllib.request.urlopen(base + path, timeout=10).status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        status = error
    print(f"bench: GET {path} -> {status}")
    failed |= status != 200
sys.exit(1 if failed else 0)
PY

echo "bench: gunicorn --workers $WORKERS \"$BENCH_APP\"; wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS round(s), warm-up $WARMUP per URL"
wrk_limit=$(( ${DURATION%s} + 30 ))
for name_path in "${PAGES[@]}"; do  # warm up: imports, template compilation, connection pools
  run timeout $(( ${WARMUP%s} + 30 )) wrk -t1 -c4 -d"$WARMUP" "$BASE${name_path#*=}" >/dev/null \
    || die "wrk failed on ${name_path#*=}"
done
for round in $(seq 1 "$ROUNDS"); do
  for name_path in "${PAGES[@]}"; do
    name="${name_path%%=*}"
    run timeout "$wrk_limit" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 5s --latency \
      "$BASE${name_path#*=}" >"$OUT/wrk/r$round-$name.txt" || die "wrk failed on ${name_path#*=}"
    printf 'bench: round %s %-7s %s req/s\n' "$round" "$name" \
      "$(sed -n 's/^Requests\/sec:[[:space:]]*//p' "$OUT/wrk/r$round-$name.txt")"
  done
done

timeout 60 "$VENV_BIN/python" bench/weight.py --base "$BASE" --out "$OUT/weight.json" \
  / /events "/events/$EVENT_SLUG" || die "bench/weight.py failed"
cleanup

cpus="$(nproc 2>/dev/null || echo '?')"
load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo
set +e
"$VENV_BIN/python" bench/report.py --dir "$OUT" "${PAGES[@]/#/--page=}" \
  --min-ratio "$MIN_RATIO" --max-kb "$MAX_KB" \
  --setup "$(date -u +%Y-%m-%d) · $cpus CPUs (load average at the end: $load) · gunicorn --workers $WORKERS (sync) · wrk -t$THREADS -c$CONNECTIONS -d$DURATION × $ROUNDS rounds · PostgreSQL, $BENCH_GROUPS groups / $BENCH_EVENTS events${PAGECACHE_ENABLED:+ · PAGECACHE_ENABLED=$PAGECACHE_ENABLED}"
status=$?
set -e
echo
echo "bench: report written to $OUT/report.md"
exit "$status"
}

main "$@"
