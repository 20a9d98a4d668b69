#!/usr/bin/env bash
# Debian's `supervisor` package is our compatibility client (Python
# supervisorctl) and benchmark baseline, never a service: keep its system
# supervisord from starting at boot, and stop one that holds the default
# socket (10-base.sh stops a running one; this also covers a later install).
set -euo pipefail
[ -e /etc/init.d/supervisor ] || exit 0
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now supervisor >/dev/null 2>&1 || true
elif command -v update-rc.d >/dev/null 2>&1; then
  update-rc.d supervisor disable >/dev/null 2>&1 || true
fi
pidfile=/var/run/supervisord.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  /etc/init.d/supervisor stop >/dev/null 2>&1 || true
fi
exit 0
