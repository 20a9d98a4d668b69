#!/usr/bin/env bash
# The Docker image's tests and `make run` need a Docker engine. When none
# answers on /var/run/docker.sock, start Debian's dockerd in the background
# (no systemd on these machines). Idempotent: an engine that answers is left
# alone. Log: /var/log/terok-dockerd.log.
set -euo pipefail
exec bash "$(dirname "$0")/../image.sh" engine
