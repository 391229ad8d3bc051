#!/usr/bin/env bash
# 500 members register for one 20-seat event at once, on PostgreSQL under gunicorn (3 sync workers,
# as the Dockerfile runs it); compared with 500 anonymous GETs of the event page. See docs/benchmarks.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DB=meetups_bench_burst
psql -h 127.0.0.1 -U postgres -d test -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $DB"
unset FLASK_DEBUG
# Production-like: Redis is the broker and the rate-limit store (its own db, emptied after).
export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}"
redis-cli -u "$REDIS_URL" flushdb >/dev/null
trap 'redis-cli -u "$REDIS_URL" flushdb >/dev/null' EXIT
export DATABASE_URL="postgresql+psycopg://postgres:postgres@127.0.0.1:5432/$DB" SECRET_KEY=bench
export INSTANCE_PATH="$(mktemp -d)" REGISTRATION_LIMIT_PER_MEMBER="1000 per hour"
timeout 600 .venv/bin/python bench/registration_burst.py "$@"
