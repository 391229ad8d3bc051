#!/usr/bin/env bash
# For the benchmarks (not the tests): install what they need from Debian's packages if it is
# missing: PostgreSQL's programs (initdb, pg_ctl), redis-server and wrk. It starts nothing: every
# benchmark starts a PostgreSQL cluster and a redis-server of its own on free ports
# (bench/harness.py, private_services) and stops them when it ends; the machine's own PostgreSQL
# and Redis, if any, are never used or touched.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v wrk >/dev/null || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing ${missing[*]}..."
  # Debian's postinst scripts would start the packages' own services (a `main` cluster on 5432, a
  # Redis on 6379); a policy-rc.d that answers 101 ("not allowed") for the install's duration stops
  # that. A policy-rc.d the machine already has is left as it is.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    trap 'as_root rm -f "$policy"' EXIT
  fi
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "Benchmark programs present: initdb, pg_ctl, redis-server, wrk (nothing started)."
