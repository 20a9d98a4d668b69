#!/usr/bin/env bash
# Builds, once, the root filesystem of terok's default task image and
# caches it (no registry needed):
#   scripts/task-rootfs.sh [DIR]    (default /var/cache/terok/taskfs-trixie)
# Debian 13 (trixie) minbase with git, bash, ca-certificates, curl and
# openssh-client, without docs, man pages and locales.
# scripts/task-image.sh imports it as localhost/terok-base:latest. Caching
# and failure handling: cached_debootstrap in lib.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cached_debootstrap task-rootfs "${1:-/var/cache/terok/taskfs-trixie}" \
  git,bash,ca-certificates,curl,openssh-client \
  "debian trixie minbase task rootfs" git 1
