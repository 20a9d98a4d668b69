#!/usr/bin/env bash
# podman-service's tests run real rootless Podman as the user tkpodman:
# the user, its home and its /etc/subuid + /etc/subgid ranges. Idempotent.
# (/dev/net/tun and /dev/fuse are made 0666 by 10-base.sh.)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
ensure_test_user tkpodman
# tkpause: a test breaks its rootless Podman (kills the pause process) on
# purpose, so it must not share a user with the other Podman tests.
ensure_test_user tkpause
# Debian 13 with Podman 5.4, the second Podman the tests drive (and the
# Docker image's base); about 90 s once, then cached.
bash "$(dirname "$0")/../base-rootfs.sh"
