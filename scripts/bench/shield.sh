#!/usr/bin/env bash
# terok-shield: arm latency (p50/p99 over 200 namespaces), live allow/deny
# latency and a 10,000-entry allowlist load, ours (netlink through the
# daemon) against the same ruleset loaded by an `nft` subprocess; lookups
# through a task's resolver against the same query sent straight to the same
# upstream (p50/p99, added time and ratio), and the answer-to-set update;
# one task's lookups quiet and while another task floods its resolver
# (p50/p99 side by side with the ratio; target: p99 within 2x), with the
# default limits and without them, beside the same flood sent to a closed
# port (what the flood's own CPU use costs on this machine).
# Needs root (network namespaces); prints each pair and its ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
  echo "shield bench: needs root (network namespaces); run: sudo make bench" >&2
  exit 1
fi
go run ./daemons/shield/bench
