#!/usr/bin/env bash
# Copy pinned front-end packages from the npm registry into static/vendor/.
# The site serves them itself: no CDN at run time. Run again after changing a version.
set -euo pipefail
HTMX_VERSION=2.0.11      # htmx 2.x: the registry's `latest` is a 4.x rewrite with other defaults
AXE_VERSION=4.11.4       # axe-core, used by the browser tests only

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "htmx.org@${HTMX_VERSION}" "axe-core@${AXE_VERSION}" >/dev/null
mkdir htmx axe
tar -xzf "htmx.org-${HTMX_VERSION}.tgz" -C htmx
tar -xzf "axe-core-${AXE_VERSION}.tgz" -C axe
mkdir -p "$root/static/vendor"
cp htmx/package/dist/htmx.min.js "$root/static/vendor/htmx.min.js"
cp axe/package/axe.min.js "$root/static/vendor/axe.min.js"
cat > "$root/static/vendor/VERSIONS" <<TXT
htmx.org ${HTMX_VERSION}
axe-core ${AXE_VERSION}
TXT
echo "vendored htmx ${HTMX_VERSION} and axe-core ${AXE_VERSION} into static/vendor/"
