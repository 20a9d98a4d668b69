#!/usr/bin/env bash
# terok-supervisord vs Python supervisord 4.2.5: exec -> all RUNNING, RSS,
# and `supervisorctl status` wall time. Driver: scripts/bench/supervisor/bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x bin/terok-supervisord ]; then
  echo "bench supervisor: bin/terok-supervisord is not built (make build)" >&2; exit 1
fi
if [ ! -x /usr/bin/supervisord ]; then
  echo "bench supervisor: Python supervisord missing (apt-get install supervisor)" >&2; exit 1
fi
exec /usr/bin/python3 scripts/bench/supervisor/bench.py bin/terok-supervisord bin/supervisorctl
