#!/usr/bin/env bash
# terok-web: task start latency (API call → agent command running, median
# and p90 of BENCH_RUNS, split into gate, create, start with the shield's
# arm, workspace clone of a 1,000-file repository, rest) beside a plain
# `podman run` doing the same clone; BENCH_PARALLEL tasks at once; API p50
# and p99 with 200 concurrent clients on loopback, beside a bare net/http
# floor and side by side with terok-web built at BENCH_WEB_BASE (default
# 0089361, the commit before task UIs got their own origins and sessions
# went server-side), two runs each. BENCH_WEB_API_ONLY=1 skips the task
# starts. A real native tree (scripts/run.sh) as root with the e2e user;
# needs make deps (task rootfs).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench web: needs root (runs the tree with rootless Podman as tke2e)"; exit 1; }
[ -x bin/terok-web ] || make --no-print-directory build
api_only=()
[ "${BENCH_WEB_API_ONLY:-0}" = 1 ] && api_only=(--api-only)
exec go run ./daemons/web/internal/bench --root "$PWD" --runs "${BENCH_RUNS:-20}" --parallel "${BENCH_PARALLEL:-20}" \
  --base "${BENCH_WEB_BASE:-0089361}" "${api_only[@]}"
