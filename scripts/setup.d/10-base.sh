#!/usr/bin/env bash
# Device modes and the shared unprivileged test user.
# Rootless Podman's slirp4netns/pasta need /dev/net/tun, fuse-overlayfs needs
# /dev/fuse; both are 0600 on these machines.
set -euo pipefail
for d in /dev/net/tun /dev/fuse; do
  [ -e "$d" ] && chmod 0666 "$d"
done
# Debian's supervisor package may start a system supervisord; the tests run
# their own on temp sockets, and the benchmark needs a quiet machine.
if pgrep -x supervisord >/dev/null 2>&1 && [ -e /etc/init.d/supervisor ]; then
  /etc/init.d/supervisor stop >/dev/null 2>&1 || true
fi
