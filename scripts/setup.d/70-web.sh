#!/usr/bin/env bash
# terok-web's tests: the root filesystem of the default task image
# (Debian 13 minbase with git, bash, ca-certificates, curl, openssh-client),
# cached in /var/cache/terok/taskfs-trixie. e2e/tasks_test.go imports it
# into the tree's Podman; make task-image does the same for make run.
set -euo pipefail
bash "$(dirname "$0")/../task-rootfs.sh"
