#!/usr/bin/env bash
# make task-image: builds localhost/terok-base:latest — Debian 13 minbase
# with git, bash, ca-certificates, curl and openssh-client, from Debian's
# packages (no registry) — and imports it into the running tree's Podman
# through terok-web ($TEROK_RUN_DIR, default .run/run as make run-native uses).
#   TEROK_TASK_IMAGE   image name (default localhost/terok-base:latest)
#   TEROK_TASK_ROOTFS  cached root filesystem (default /var/cache/terok/taskfs-trixie)
set -euo pipefail
cd "$(dirname "$0")/.."
export TEROK_RUN_DIR=${TEROK_RUN_DIR:-$PWD/.run/run}
image=${TEROK_TASK_IMAGE:-localhost/terok-base:latest}
rootfs=${TEROK_TASK_ROOTFS:-/var/cache/terok/taskfs-trixie}

die() { echo "make task-image: $*" >&2; exit 1; }
[ -x bin/terok ] || die "bin/terok is not built; run make build"
if [ ! -f "$rootfs/.terok-rootfs-complete" ]; then
  [ "$(id -u)" = 0 ] || die "$rootfs is not built yet and building it needs root: sudo scripts/task-rootfs.sh"
  bash scripts/task-rootfs.sh "$rootfs"
fi
bin/terok health >/dev/null 2>&1 || true
[ -S "$TEROK_RUN_DIR/web.sock" ] || die "no terok tree answers in $TEROK_RUN_DIR (start it with make run-native, or set TEROK_RUN_DIR)"
echo "make task-image: importing $rootfs as $image"
tar -C "$rootfs" --numeric-owner --exclude=./.terok-rootfs-complete -c . | bin/terok image import "$image" -
