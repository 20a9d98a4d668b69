#!/usr/bin/env bash
# terok-shield's tests: the rootless Podman test user `tkshield` (with its
# own subordinate id ranges) and a tiny local image built from
# busybox-static (no registry here). Idempotent and quiet when done.
set -euo pipefail
user=tkshield
image=localhost/tkshield-busybox:latest

. "$(dirname "$0")/../lib.sh"
ensure_test_user "$user"
uid=$(id -u "$user")

home=$(getent passwd "$user" | cut -d: -f6)
conf="$home/.config/containers/containers.conf"
if [ ! -e "$conf" ]; then
  install -d -o "$user" -g "$user" "$home/.config" "$home/.config/containers"
  cat >"$conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  chown "$user:" "$conf"
fi

run_dir=/run/user/$uid
install -d -m 0700 -o "$user" -g "$user" "$run_dir"
as_user() { (cd / && runuser -u "$user" -- env XDG_RUNTIME_DIR="$run_dir" HOME="$home" "$@"); }

if ! as_user podman image exists "$image" 2>/dev/null; then
  tmp=$(mktemp -d /tmp/tkshield-img.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/tmp"
  cp /bin/busybox "$tmp/rootfs/bin/busybox"
  for a in sh nc sleep echo cat true false printf ip; do ln -sf busybox "$tmp/rootfs/bin/$a"; done
  if ! tar -C "$tmp/rootfs" -c . | as_user podman import - "$image" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    exit 1
  fi
fi
