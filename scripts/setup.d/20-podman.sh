#!/usr/bin/env bash
# podman-service's tests run real rootless Podman as the user tkpodman:
# the user, its home and its /etc/subuid + /etc/subgid ranges. Idempotent.
# (/dev/net/tun and /dev/fuse are made 0666 by 10-base.sh.)
set -euo pipefail
U=tkpodman
if ! id -u "$U" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$U"
fi
# A range of 65536 ids that no other line of the file uses.
ensure_range() { # file usermod-flag
  local file=$1 flag=$2
  touch "$file"
  grep -q "^$U:" "$file" && return 0
  local start
  start=$(awk -F: 'BEGIN{m=100000} NF==3 && $2+$3>m {m=$2+$3} END{print m}' "$file")
  usermod "$flag" "$start-$((start + 65535))" "$U"
}
ensure_range /etc/subuid --add-subuids
ensure_range /etc/subgid --add-subgids
home=$(getent passwd "$U" | cut -d: -f6)
[ -d "$home" ] || install -d -m 0755 -o "$U" -g "$U" "$home"
# Debian 13 with Podman 5.4, the second Podman the tests drive (and the
# Docker image's base); about 90 s once, then cached.
bash "$(dirname "$0")/../base-rootfs.sh"
