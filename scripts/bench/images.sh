#!/usr/bin/env bash
# Layered project images: a rebuild where only the project's snippet
# changed (base and agents layers reused by their hash) against a full
# build without the layer cache, in one run, as the ratio. Real rootless
# Podman as tkpodman and the real npm registry (Claude Code by default;
# BENCH_AGENTS=claude,opencode for more). Needs root and make deps.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench images: needs root (runs Podman as tkpodman)"; exit 1; }
[ -x bin/podman-service ] || make --no-print-directory build
exec go run ./daemons/web/internal/images/imagebench --podman-service bin/podman-service \
  --agents "${BENCH_AGENTS:-claude}" --full "${BENCH_FULL:-2}" --snippet "${BENCH_SNIPPET:-5}"
