#!/usr/bin/env bash
# The whole-tree tests (e2e/) run `make run` as root with TEROK_USER=tke2e:
# the unprivileged daemons and rootless Podman run as that user.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
ensure_test_user tke2e
