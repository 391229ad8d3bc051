#!/usr/bin/env bash
# Install what the tests need and is missing: Chromium (and its headless shell), PostgreSQL's server
# binaries, Redis.
# Nothing is started or changed here: the suite runs a PostgreSQL cluster and a redis-server of
# its own on free ports (tests/support/servers.py) and removes them afterwards, so the machine's
# own services, databases and passwords are never touched and two runs never meet.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# Wait for another install (unattended-upgrades, a second checkout's run) instead of failing.
APT=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root "${APT[@]}" update; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install "$@" >/dev/null
}

missing=()
# Chromium from Debian (Playwright cannot download browsers here): the browser tests and make
# screenshots run its real binary (tests/browser/conftest.py).
[ -x /usr/lib/chromium/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing from Debian's packages: ${missing[*]}..."
  apt_install "${missing[@]}"
fi
echo "Test needs present: Chromium, PostgreSQL, Redis (the suite starts its own instances)."
