#!/usr/bin/env bash
# make run: the whole tree, natively under terok-supervisord with the
# development config in dev/. State, sockets and logs go to .run/.
set -euo pipefail
cd "$(dirname "$0")/.."
export TEROK_ROOT=$PWD
export TEROK_RUN_DIR=${TEROK_RUN_DIR:-$PWD/.run/run}
export TEROK_STATE_DIR=${TEROK_STATE_DIR:-$PWD/.run/state}
export TEROK_CONFIG_DIR=${TEROK_CONFIG_DIR:-$PWD/.run/config}
mkdir -p "$TEROK_RUN_DIR" "$TEROK_STATE_DIR" "$TEROK_CONFIG_DIR" .run/log
if [ ! -x bin/terok-supervisord ]; then
  echo "make run: bin/terok-supervisord is not built yet" >&2; exit 1
fi
cat <<MSG
terok (native development tree)
  sockets:        $TEROK_RUN_DIR/{supervisor,gate,shield,podman,web}.sock
  state:          $TEROK_STATE_DIR
  logs:           $PWD/.run/log/<program>.log
  status:         bin/supervisorctl -c dev/supervisord.conf status
  daemon health:  TEROK_RUN_DIR=$TEROK_RUN_DIR bin/terok health
Ctrl-C stops the tree.
MSG
exec bin/terok-supervisord -c dev/supervisord.conf
