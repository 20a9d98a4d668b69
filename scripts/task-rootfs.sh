#!/usr/bin/env bash
# Builds, once, the root filesystem of terok's default task image and
# caches it (no registry needed):
#   scripts/task-rootfs.sh [DIR]    (default /var/cache/terok/taskfs-trixie)
# Debian 13 (trixie) minbase with git, bash, ca-certificates, curl and
# openssh-client. A finished tree carries DIR/.terok-rootfs-complete naming
# its package list and is reused while that list is unchanged; a run cut
# short leaves only DIR.tmp-*, never a half-made DIR. Needs root,
# debootstrap and Debian's package mirror (TEROK_DEBIAN_MIRROR overrides).
# scripts/task-image.sh imports it as localhost/terok-base:latest.
set -euo pipefail
DIR=${1:-/var/cache/terok/taskfs-trixie}
MIRROR=${TEROK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
INCLUDE=git,bash,ca-certificates,curl,openssh-client
MARK=.terok-rootfs-complete

if [ -f "$DIR/$MARK" ] && grep -qxF "include: $INCLUDE" "$DIR/$MARK"; then
  echo "task-rootfs: $DIR is ready ($(head -1 "$DIR/$MARK"))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "task-rootfs: needs root (debootstrap); run: sudo $0 ${1:-}" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "task-rootfs: install debootstrap (apt-get install debootstrap)" >&2; exit 1; }
if [ -e "$DIR" ] && [ ! -f "$DIR/$MARK" ]; then
  echo "task-rootfs: $DIR exists but is not a finished rootfs (no $MARK); move it away first" >&2
  exit 1
fi
mkdir -p "$(dirname "$DIR")"
TMP=$(mktemp -d "$DIR.tmp-XXXXXX")
trap 'rm -rf --one-file-system "$TMP" "$TMP.log"' EXIT
echo "task-rootfs: debootstrap trixie into $TMP (about a minute)"
debootstrap --variant=minbase --include="$INCLUDE" trixie "$TMP" "$MIRROR" >"$TMP.log" 2>&1 || {
  echo "task-rootfs: debootstrap failed; last lines of $TMP.log:" >&2; tail -20 "$TMP.log" >&2; exit 1; }
chroot "$TMP" apt-get clean
rm -rf "$TMP"/var/lib/apt/lists/* "$TMP"/var/cache/apt/*.bin "$TMP"/usr/share/doc/* "$TMP"/usr/share/man/* "$TMP"/usr/share/locale/*
git_version=$(chroot "$TMP" dpkg-query -W -f '${Version}' git)
printf 'debian trixie minbase task rootfs, git %s, built %s\ninclude: %s\n' "$git_version" "$(date -u +%FT%TZ)" "$INCLUDE" >"$TMP/$MARK"
if [ -e "$DIR" ]; then
  old=$(mktemp -d "$DIR.old-XXXXXX")
  mv -T "$DIR" "$old/rootfs"
  mv -T "$TMP" "$DIR"
  rm -rf --one-file-system "$old"
else
  mv -T "$TMP" "$DIR"
fi
trap - EXIT
rm -f "$TMP.log"
echo "task-rootfs: $DIR ready (git $git_version)"
