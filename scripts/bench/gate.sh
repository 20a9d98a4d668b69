#!/usr/bin/env bash
# Clone benchmark of terok-gate: one generated repository (5,000 commits,
# 2,000 files, ~100 MB pack; cached under /var/tmp/tkgate-bench) cloned
# through the gate, through git http-backend as CGI, and with
# `git clone --no-local` (the floor). Prints medians, ratios and the gate's
# RSS. BENCH_ROUNDS sets the clones per method (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/terok-gate ] || make --no-print-directory build
exec go run ./daemons/gate/internal/bench --bin bin/terok-gate --rounds "${BENCH_ROUNDS:-3}"
