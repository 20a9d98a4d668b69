#!/usr/bin/env bash
# make bench: every scripts/bench/*.sh in turn. Each one runs ours and its
# baseline side by side in one run and prints each pair with its ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory build
status=0
for b in scripts/bench/*.sh; do
  [ -e "$b" ] || continue
  echo "=== $(basename "$b" .sh)"
  bash "$b" || { echo "bench $b failed"; status=1; }
done
exit $status
