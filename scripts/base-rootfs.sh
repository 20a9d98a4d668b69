#!/usr/bin/env bash
# Builds, once, a Debian 13 (trixie) minbase root filesystem with Podman 5
# for machines without a container registry, and caches it:
#   scripts/base-rootfs.sh [DIR]      (default /var/cache/terok/rootfs-trixie)
# Used as the base of the Docker image and to test podman-service against
# Podman 5.4. runc is included because crun cannot start rootless
# containers on hosts with hybrid cgroups (Debian 12 VMs). Caching and
# failure handling: cached_debootstrap in lib.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cached_debootstrap base-rootfs "${1:-/var/cache/terok/rootfs-trixie}" \
  podman,netavark,aardvark-dns,passt,crun,runc,uidmap,fuse-overlayfs,git,nftables,ca-certificates,iproute2,procps,busybox \
  "debian trixie minbase" podman
