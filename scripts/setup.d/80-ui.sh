#!/usr/bin/env bash
# The browser tests run Debian's chromium and their own nginx (on temp
# ports, with their own config). Debian's nginx package starts a system
# nginx on port 80 when installed; the tests do not need it.
set -euo pipefail
if [ -e /etc/init.d/nginx ] && pgrep -x nginx >/dev/null 2>&1 && [ -e /run/nginx.pid ]; then
  /etc/init.d/nginx stop >/dev/null 2>&1 || true
fi
