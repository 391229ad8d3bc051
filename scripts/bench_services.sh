#!/usr/bin/env bash
# For the benchmarks (not the tests): the machine's PostgreSQL on 5432 and Redis on 6379, started
# if they are down. On a machine that already runs them this does nothing.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get -o DPkg::Lock::Timeout=600 update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
}

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
echo "Benchmark services ready: PostgreSQL, Redis."
