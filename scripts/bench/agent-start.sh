#!/usr/bin/env bash
# A task's start from a project's built agents image against the plain
# base image (localhost/terok-base), interleaved in one run, as the ratio
# (target: within 1.2x). Real rootless Podman as tkpodman; the agents
# layer is built first through the npm registry (Claude Code by default;
# BENCH_AGENTS=claude,opencode for more). Needs root and make deps.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench agent-start: needs root (runs Podman as tkpodman)"; exit 1; }
[ -x bin/podman-service ] || make --no-print-directory build
exec go run ./daemons/web/internal/images/imagebench --what start --podman-service bin/podman-service \
  --agents "${BENCH_AGENTS:-claude}" --starts "${BENCH_STARTS:-15}"
