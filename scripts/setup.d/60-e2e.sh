#!/usr/bin/env bash
# The whole-tree tests (e2e/) run `make run` as root with TEROK_USER=tke2e:
# the unprivileged daemons and rootless Podman run as that user.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
ensure_test_user tke2e
# terok-vault's own system user: the native tree as root drops the vault
# to it (scripts/run.sh also creates it when missing).
id terok-vault >/dev/null 2>&1 ||
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin terok-vault
