#!/usr/bin/env bash
# Builds, once, a Debian 13 (trixie) minbase root filesystem with Podman 5
# for machines without a container registry, and caches it:
#   scripts/base-rootfs.sh [DIR]      (default /var/cache/terok/rootfs-trixie)
# A finished tree carries DIR/.terok-rootfs-complete naming its package list
# and is reused while that list is unchanged (else it is rebuilt beside and
# swapped in); a run cut short leaves only DIR.tmp-*, never a half-made DIR.
# runc is included because crun cannot start rootless containers on hosts
# with hybrid cgroups (Debian 12 VMs). Needs root,
# debootstrap and Debian's package mirror (TEROK_DEBIAN_MIRROR overrides).
# Used as the base of the Docker image and to test podman-service against
# Podman 5.4.
set -euo pipefail
DIR=${1:-/var/cache/terok/rootfs-trixie}
MIRROR=${TEROK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
INCLUDE=podman,netavark,aardvark-dns,passt,crun,runc,uidmap,fuse-overlayfs,git,nftables,ca-certificates,iproute2,procps,busybox
MARK=.terok-rootfs-complete

if [ -f "$DIR/$MARK" ] && grep -qxF "include: $INCLUDE" "$DIR/$MARK"; then
  echo "base-rootfs: $DIR is ready ($(head -1 "$DIR/$MARK"))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "base-rootfs: needs root (debootstrap); run: sudo $0 ${1:-}" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "base-rootfs: install debootstrap (apt-get install debootstrap)" >&2; exit 1; }
if [ -e "$DIR" ] && [ ! -f "$DIR/$MARK" ]; then
  echo "base-rootfs: $DIR exists but is not a finished rootfs (no $MARK); move it away first" >&2
  exit 1
fi
mkdir -p "$(dirname "$DIR")"
TMP=$(mktemp -d "$DIR.tmp-XXXXXX")
trap 'rm -rf --one-file-system "$TMP"' EXIT
echo "base-rootfs: debootstrap trixie into $TMP (about 90 s)"
debootstrap --variant=minbase --include="$INCLUDE" trixie "$TMP" "$MIRROR" >"$TMP.log" 2>&1 || {
  echo "base-rootfs: debootstrap failed; last lines of $TMP.log:" >&2; tail -20 "$TMP.log" >&2; exit 1; }
rm -f "$TMP.log"
chroot "$TMP" apt-get clean
rm -rf "$TMP"/var/lib/apt/lists/*
podman_version=$(chroot "$TMP" dpkg-query -W -f '${Version}' podman)
printf 'debian trixie minbase, podman %s, built %s\ninclude: %s\n' "$podman_version" "$(date -u +%FT%TZ)" "$INCLUDE" >"$TMP/$MARK"
if [ -e "$DIR" ]; then   # an older package list: swap the new tree in
  old=$(mktemp -d "$DIR.old-XXXXXX")
  mv -T "$DIR" "$old/rootfs"
  mv -T "$TMP" "$DIR"
  rm -rf --one-file-system "$old"
else
  mv -T "$TMP" "$DIR"
fi
trap - EXIT
echo "base-rootfs: $DIR ready (podman $podman_version)"
