#!/usr/bin/env bash
# Make sure what the tests talk to is installed and running: PostgreSQL, Redis, Chromium.
# On a machine that already runs them this does nothing.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Chromium from Debian, for the browser tests (Playwright cannot download browsers here).
if [ ! -x /usr/lib/chromium/chromium ]; then
  echo "Installing Chromium from Debian's packages..."
  apt_install chromium
fi

# Redis on 127.0.0.1:6379.
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  command -v redis-server >/dev/null || { echo "Installing Redis..."; apt_install redis-server; }
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

# PostgreSQL on 127.0.0.1:5432 with a database `test` the postgres role can reach.
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if [ ! -d /etc/postgresql ] || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "Installing PostgreSQL..."
    apt_install postgresql
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
fi
for _ in $(seq 1 30); do
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break
  sleep 1
done
# Password auth (Debian's default) or trust (this machine): the tests connect as postgres/postgres.
if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
  as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  as_root su postgres -c "createdb test" 2>/dev/null || true
fi
echo "Test services ready: PostgreSQL, Redis, Chromium."
