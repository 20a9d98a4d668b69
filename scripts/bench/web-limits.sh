#!/usr/bin/env bash
# terok-web's TCP listener with and without its listener limits
# (kit/listenlimit), side by side in one process over fake daemons: API
# p50 and p99 (GET /api/v1/projects, BENCH_LIMITS_CLIENTS keep-alive
# clients with the token, BENCH_LIMITS_RUNS runs alternating) printed as
# ratios, and how many idle hostile connections each holds without a
# credential and with one (the limits: 64 and 32, against hundreds).
# Needs nothing but Go; no root.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./daemons/web/internal/listenbench --clients "${BENCH_LIMITS_CLIENTS:-16}" --runs "${BENCH_LIMITS_RUNS:-10}"
