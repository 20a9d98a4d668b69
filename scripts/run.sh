#!/usr/bin/env bash
# make run: the whole tree, natively under terok-supervisord with the
# development config in dev/. Sockets, state, config, logs and the OCI hooks
# directory go under $TEROK_DEV_DIR (default .run/, git-ignored).
#
# As root: terok-shield runs as root, the other daemons as an unprivileged
# user (rootless Podman needs one): $TEROK_USER, else $SUDO_USER.
# As a normal user: everything runs as you, and terok-shield (which needs
# root to enter task network namespaces) is left stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
export TEROK_ROOT=$PWD
export TEROK_DEV_DIR=${TEROK_DEV_DIR:-$PWD/.run}
export TEROK_RUN_DIR=${TEROK_RUN_DIR:-$TEROK_DEV_DIR/run}
export TEROK_STATE_DIR=${TEROK_STATE_DIR:-$TEROK_DEV_DIR/state}
export TEROK_CONFIG_DIR=${TEROK_CONFIG_DIR:-$TEROK_DEV_DIR/config}
export TEROK_LOG_DIR=${TEROK_LOG_DIR:-$TEROK_DEV_DIR/log}
export TEROK_HOOKS_DIR=${TEROK_HOOKS_DIR:-$TEROK_DEV_DIR/hooks.d}
export TEROK_GATE_LISTEN=${TEROK_GATE_LISTEN:-${TEROK_GATE_BIND:-127.0.0.1}:9418}
# terok-web's API and UI on TCP (the access token is in
# $TEROK_STATE_DIR/web/token unless TEROK_WEB_TOKEN fixes it).
export TEROK_WEB_LISTEN=${TEROK_WEB_LISTEN:-127.0.0.1:8566}
# Where a task reaches the gate, and so what the shield must let through:
# the gate's port at 10.0.2.2 (Podman 4 with slirp4netns and
# allow_host_loopback, Debian 12) and at 169.254.1.2 (Podman 5 with pasta,
# host.containers.internal).
gate_port=${TEROK_GATE_LISTEN##*:}
export TEROK_SHIELD_ENDPOINTS=${TEROK_SHIELD_ENDPOINTS:-tcp:10.0.2.2:$gate_port,tcp:169.254.1.2:$gate_port}

die() { echo "make run: $*" >&2; exit 1; }
for b in terok-supervisord terok-shield podman-service terok-gate terok-web terok-entry; do
  [ -x "bin/$b" ] || die "bin/$b is not built; run make build"
done

overrides=$TEROK_DEV_DIR/supervisor.d
mkdir -p "$TEROK_RUN_DIR" "$TEROK_STATE_DIR" "$TEROK_CONFIG_DIR" "$TEROK_LOG_DIR" "$TEROK_HOOKS_DIR" "$overrides"
local_conf=$overrides/90-local.conf
tmp=$(mktemp "$overrides/.90-local.XXXXXX")

if [ "$(id -u)" = 0 ]; then
  user=${TEROK_USER:-${SUDO_USER:-}}
  [ -n "$user" ] && [ "$user" != root ] ||
    die "as root, name the unprivileged user that runs rootless Podman: TEROK_USER=<name> make run (the user needs /etc/subuid and /etc/subgid ranges; useradd adds them)"
  id "$user" >/dev/null 2>&1 || die "TEROK_USER=$user: no such user; create it with useradd -m $user"
  group=$(id -gn "$user")
  # The daemons run as $user: it must reach the binaries and own the tree.
  runuser -u "$user" -- test -x "$PWD/bin/terok-gate" ||
    die "user $user cannot execute $PWD/bin; put the checkout where $user can read it"
  chown -R "$user:$group" "$TEROK_DEV_DIR"
  # Rootless Podman keeps its runtime state in the user's XDG_RUNTIME_DIR.
  xdg=/run/user/$(id -u "$user")
  install -d -m 0700 -o "$user" -g "$group" "$xdg"
  cat >"$tmp" <<CONF
; Written by scripts/run.sh: the unprivileged daemons run as $user, and the
; shield's socket is reachable by that user's group (for the OCI hook).
[program:terok-shield]
command = $PWD/bin/terok-shield serve --socket-group $group --socket-mode 0660

[program:podman-service]
user = $user
environment = XDG_RUNTIME_DIR="$xdg"

[program:terok-gate]
user = $user

[program:terok-web]
user = $user

; terok-web (as $user) shows and controls the programs (terok daemons):
; the supervisor's socket is open to $user's group.
[unix_http_server]
chown = root:$group
chmod = 0770
CONF
  shield_note="terok-shield runs as root; the others as $user"
else
  cat >"$tmp" <<CONF
; Written by scripts/run.sh: not root, so the shield (which must enter task
; network namespaces) stays stopped. Run make run as root to arm tasks.
[program:terok-shield]
autostart = false
CONF
  shield_note="terok-shield is not started (it needs root)"
fi
mv "$tmp" "$local_conf"

# The OCI hooks that arm the shield for annotated containers; podman-service
# points rootless Podman at this directory (hooks_dir).
bin/terok-shield install-hooks --dir "$TEROK_HOOKS_DIR" --socket "$TEROK_RUN_DIR/shield.sock" >/dev/null
[ "$(id -u)" = 0 ] && chown -R "$user:$group" "$TEROK_HOOKS_DIR" "$overrides"

cat <<MSG
terok (native development tree) — $shield_note
  git (gate):     http://$TEROK_GATE_LISTEN/<project>.git (admin token: $TEROK_LOG_DIR/terok-gate.log)
  web API:        http://$TEROK_WEB_LISTEN/api/v1/ (token: TEROK_RUN_DIR=$TEROK_RUN_DIR bin/terok web url)
  tasks:          TEROK_RUN_DIR=$TEROK_RUN_DIR bin/terok project add NAME --cmd '...'; bin/terok task run NAME
  sockets:        $TEROK_RUN_DIR/{supervisor,gate,shield,podman,podman-service,web}.sock
  state:          $TEROK_STATE_DIR
  logs:           $TEROK_LOG_DIR/<program>.log
  status:         TEROK_RUN_DIR=$TEROK_RUN_DIR bin/supervisorctl -s unix://$TEROK_RUN_DIR/supervisor.sock status
  daemon health:  TEROK_RUN_DIR=$TEROK_RUN_DIR bin/terok health
Ctrl-C stops the tree.
MSG
exec bin/terok-supervisord -c dev/supervisord.conf
