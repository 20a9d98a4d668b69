#!/usr/bin/env bash
# Latency benchmark of terok-vault's credential broker: one streamed
# (server-sent events) request at a time to a fake provider over TLS on
# loopback, directly and through the real broker with a phantom token,
# interleaved in one run; p50/p99 of the first byte and of the whole
# stream, ratios and what the broker adds. Requests
# per path (BENCH_VAULT_REQUESTS, default 1000).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/terok-vault ] || make --no-print-directory build
exec go run ./daemons/vault/internal/bench --bin bin/terok-vault --rounds "${BENCH_VAULT_REQUESTS:-1000}"
