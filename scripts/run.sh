#!/usr/bin/env bash
# make run-native: the whole tree, natively under terok-supervisord with the
# development config in dev/. Sockets, state, config, logs and the OCI hooks
# directory go under $TEROK_DEV_DIR (default .run/, git-ignored).
#
# As root: terok-shield runs as root, terok-vault as its own system user
# terok-vault (created here when missing), the other daemons as an
# unprivileged user (rootless Podman needs one): $TEROK_USER, else
# $SUDO_USER. The tree is laid out as in the image (docs/security.md): what
# root reads stays root's — the dev dir itself, the overrides, hooks and
# logs; the sockets' directory is root:<user's group> 01775; the config and
# state directories are the user's but their system/ subtrees (the shield's
# root's, the vault's terok-vault's; bin/terok-entrypoint
# --prepare-volumes). The user must not own the checkout either: root runs
# its bin/terok-shield (terok-supervisord refuses it otherwise).
# As a normal user: everything runs as you (the vault too, see
# docs/credentials.md), and terok-shield (which needs root to enter task
# network namespaces) is left stopped.
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
# terok-vault's credential broker (tasks reach it as they reach the gate).
export TEROK_VAULT_LISTEN=${TEROK_VAULT_LISTEN:-${TEROK_VAULT_BIND:-127.0.0.1}:9419}
# Where a task reaches the gate, and so what the shield must let through:
# the gate's port at 10.0.2.2 (Podman 4 with slirp4netns and
# allow_host_loopback, Debian 12) and at 169.254.1.2 (Podman 5 with pasta,
# host.containers.internal).
gate_port=${TEROK_GATE_LISTEN##*:}
vault_port=${TEROK_VAULT_LISTEN##*:}
export TEROK_SHIELD_ENDPOINTS=${TEROK_SHIELD_ENDPOINTS:-tcp:10.0.2.2:$gate_port,tcp:169.254.1.2:$gate_port,tcp:10.0.2.2:$vault_port,tcp:169.254.1.2:$vault_port}

die() { echo "make run-native: $*" >&2; exit 1; }
for b in terok-supervisord terok-shield podman-service terok-gate terok-vault terok-web terok-entry terok-entrypoint; do
  [ -x "bin/$b" ] || die "bin/$b is not built; run make build"
done

overrides=$TEROK_DEV_DIR/supervisor.d
mkdir -p "$TEROK_RUN_DIR" "$TEROK_STATE_DIR" "$TEROK_CONFIG_DIR" "$TEROK_LOG_DIR" "$TEROK_HOOKS_DIR" "$overrides"
# Program logs hold what the daemons print: only their owner may read them
# (the supervisor writes each file 0600).
chmod 0700 "$TEROK_LOG_DIR"
local_conf=$overrides/90-local.conf
tmp=$(mktemp "$overrides/.90-local.XXXXXX")

if [ "$(id -u)" = 0 ]; then
  user=${TEROK_USER:-${SUDO_USER:-}}
  [ -n "$user" ] && [ "$user" != root ] ||
    die "as root, name the unprivileged user that runs rootless Podman: TEROK_USER=<name> make run-native (the user needs /etc/subuid and /etc/subgid ranges; useradd adds them)"
  id "$user" >/dev/null 2>&1 || die "TEROK_USER=$user: no such user; create it with useradd -m $user"
  group=$(id -gn "$user")
  # The daemons run as $user: it must reach the binaries and own the tree,
  # all but the system/ subtrees of the config and state directories: the
  # shield's config and state there are root's alone (it refuses them
  # otherwise; docs/security.md).
  runuser -u "$user" -- test -x "$PWD/bin/terok-gate" ||
    die "user $user cannot execute $PWD/bin; put the checkout where $user can read it"
  # The vault's system user (no home, no login); the vault starts as root
  # and drops to it.
  id terok-vault >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin terok-vault
  # Root's: the dev dir (so $user cannot swap what is in it), the overrides
  # the supervisor reads, the hooks root writes, the logs (0700: program
  # output may hold secrets; read them with supervisorctl tail).
  chown root:root "$TEROK_DEV_DIR" && chmod 0755 "$TEROK_DEV_DIR"
  chown -R root:root "$overrides" "$TEROK_HOOKS_DIR" "$TEROK_LOG_DIR"
  chmod 0755 "$overrides" "$TEROK_HOOKS_DIR"
  chmod 0700 "$TEROK_LOG_DIR"
  # The sockets: $user's daemons make theirs, the sticky bit keeps root's.
  chown "root:$group" "$TEROK_RUN_DIR" && chmod 01775 "$TEROK_RUN_DIR"
  # Config and state: $user's, but system/ (the shield's, the vault's).
  TEROK_USER=$user bin/terok-entrypoint --prepare-volumes
  runuser -u terok-vault -- test -x "$TEROK_DEV_DIR" ||
    die "user terok-vault cannot reach $TEROK_DEV_DIR; put the checkout (or TEROK_DEV_DIR) where other users may enter it"
  # Rootless Podman keeps its runtime state in the user's XDG_RUNTIME_DIR.
  xdg=/run/user/$(id -u "$user")
  install -d -m 0700 -o "$user" -g "$group" "$xdg"
  # Build cache mounts live under TMPDIR; Podman 4.3 would otherwise share
  # one /var/tmp/buildah-cache among all users (the first owns it).
  buildtmp=/var/tmp/terok-podman-$(id -u "$user")
  install -d -m 0700 -o "$user" -g "$group" "$buildtmp"
  cat >"$tmp" <<CONF
; Written by scripts/run.sh: the unprivileged daemons run as $user, and the
; shield's socket is reachable by that user's group (for the OCI hook).
[program:terok-shield]
command = $PWD/bin/terok-shield serve --socket-group $group --socket-mode 0660 --config $TEROK_CONFIG_DIR/system/shield --state $TEROK_STATE_DIR/system/shield

[program:podman-service]
user = $user
environment = XDG_RUNTIME_DIR="$xdg",TMPDIR="$buildtmp"

[program:terok-gate]
user = $user

; The vault starts as root, prepares its own directories, then runs as
; terok-vault; vault.sock is for root, terok-vault and $user's group.
[program:terok-vault]
command = $PWD/bin/terok-vault serve --listen $TEROK_VAULT_LISTEN --user terok-vault --socket-group $group

[program:terok-web]
user = $user

; terok-web (as $user) shows and controls the programs (terok daemons):
; the supervisor's socket is open to $user's group.
[unix_http_server]
chown = root:$group
chmod = 0770
CONF
  shield_note="terok-shield runs as root, terok-vault as terok-vault; the others as $user"
else
  user=$(id -un)
  # Rootless Podman keeps its runtime state in XDG_RUNTIME_DIR, which a
  # login session sets up; without one (su, ssh without pam_systemd, cron)
  # use the directory Podman itself falls back to, made private to you.
  xdg=${XDG_RUNTIME_DIR:-}
  if [ -z "$xdg" ] || [ ! -d "$xdg" ] || [ ! -O "$xdg" ]; then
    # Podman's own choice without a session: /run/user/<uid> when it is
    # yours, else /tmp/podman-run-<uid>. Using the same one keeps Podman's
    # database from seeing two runtime directories for one storage.
    xdg=/run/user/$(id -u)
    [ -d "$xdg" ] && [ -O "$xdg" ] || xdg=/tmp/podman-run-$(id -u)
    install -d -m 0700 "$xdg" 2>/dev/null && [ -O "$xdg" ] ||
      die "no usable XDG_RUNTIME_DIR (${XDG_RUNTIME_DIR:-unset}) and $xdg is not a directory of yours; log in with a session (loginctl enable-linger $user) or set XDG_RUNTIME_DIR to a private directory you own"
    xdg_note="XDG_RUNTIME_DIR was ${XDG_RUNTIME_DIR:-unset}; podman-service uses $xdg"
  fi
  buildtmp=/var/tmp/terok-podman-$(id -u)
  install -d -m 0700 "$buildtmp" 2>/dev/null && [ -O "$buildtmp" ] ||
    die "$buildtmp (podman-service's TMPDIR, where image builds keep their caches) is not a directory of yours; remove it or let its owner use it"
  cat >"$tmp" <<CONF
; Written by scripts/run.sh: not root, so the shield (which must enter task
; network namespaces) stays stopped. Run make run-native as root to arm tasks.
[program:terok-shield]
autostart = false

[program:podman-service]
environment = XDG_RUNTIME_DIR="$xdg",TMPDIR="$buildtmp"
CONF
  shield_note="terok-shield is not started (it needs root), so tasks do not start either"
fi
mv "$tmp" "$local_conf"

# The OCI hooks that arm the shield for annotated containers; podman-service
# points rootless Podman at this directory (hooks_dir).
bin/terok-shield install-hooks --dir "$TEROK_HOOKS_DIR" --socket "$TEROK_RUN_DIR/shield.sock" >/dev/null

# Check the whole configuration (overrides included) before anything runs,
# so a bad override is reported alone, not after the banner.
bin/terok-supervisord --check -c dev/supervisord.conf >/dev/null ||
  die "the supervisor configuration above is not usable; fix it (or remove the override that broke it) and run make run-native again"

# Start the tree, and print where it answers once its socket does.
bin/terok-supervisord -c dev/supervisord.conf &
sup=$!
trap 'kill -TERM $sup 2>/dev/null' INT TERM
for _ in $(seq 1 300); do # bounded: 30 s
  bin/supervisorctl -s "unix://$TEROK_RUN_DIR/supervisor.sock" pid >/dev/null 2>&1 && break
  kill -0 $sup 2>/dev/null || break
  sleep 0.1
done
if kill -0 $sup 2>/dev/null; then
  admin_where=$TEROK_STATE_DIR/gate/admin-token
  [ -z "${TEROK_GATE_ADMIN_TOKEN:-}" ] || admin_where='as set in TEROK_GATE_ADMIN_TOKEN'
  cat <<MSG
terok (native development tree) — $shield_note${xdg_note:+
  $xdg_note}
  git (gate):     http://$TEROK_GATE_LISTEN/<project>.git (admin token: $admin_where)
  vault broker:   http://$TEROK_VAULT_LISTEN/<provider>/ (keys: TEROK_RUN_DIR=$TEROK_RUN_DIR bin/terok-vault secret set PROVIDER)
  web API:        http://$TEROK_WEB_LISTEN/api/v1/ (token: TEROK_RUN_DIR=$TEROK_RUN_DIR bin/terok web url)
  tasks:          TEROK_RUN_DIR=$TEROK_RUN_DIR bin/terok project add NAME --cmd '...'; bin/terok task run NAME
  sockets:        $TEROK_RUN_DIR/{supervisor,gate,shield,podman,podman-service,vault,web}.sock
  state:          $TEROK_STATE_DIR
  logs:           $TEROK_LOG_DIR/<program>.log
In another shell, this reaches the tree with every CLI (bin/supervisorctl status, bin/terok health, ...):
  export TEROK_RUN_DIR=$TEROK_RUN_DIR
Ctrl-C stops the tree.
MSG
fi
# A trapped signal interrupts wait (status 128+n) while the supervisor
# still stops its programs: wait again until it has exited.
while :; do
  rc=0
  wait $sup || rc=$?
  kill -0 $sup 2>/dev/null || break
done
trap - INT TERM
as_user() { if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- env XDG_RUNTIME_DIR="$xdg" "$@"; else env XDG_RUNTIME_DIR="$xdg" "$@"; fi; }

# The tree's shutdown stops the task containers it leaves running (SIGTERM,
# SIGKILL after 2 s), as docker stop does in the image, and leaves a
# marker so terok-web records those tasks as stopped at its next start.
# Only terok's containers (label terok.task): the user's others stay.
if command -v podman >/dev/null; then
  as_user "$PWD/image/podman-tasks" --stop-now --filter label=terok.task --by "make run-native's shutdown" |
    sed 's/^/make run-native: /' || true
fi

# Rootless Podman keeps a pause process (holding its user namespace) after
# podman-service stopped. Stop it when nothing of $user uses it any more:
# no running container (with its conmon) and no other podman process. A
# task container left running keeps it, and is named here.
pause=${xdg:-/nonexistent}/libpod/tmp/pause.pid
if [ -f "$pause" ] && command -v podman >/dev/null && ids=$(as_user podman ps -q 2>/dev/null); then
  running=$(printf '%s\n' "$ids" | grep -c . || true)
  ppid=$(cat "$pause")
  # Processes of $user that use this runtime directory: conmon names it in
  # its arguments, podman has it as XDG_RUNTIME_DIR. (Podman of the same
  # user with another runtime directory has its own pause process.)
  others=0
  for p in $(pgrep -u "$user" -x podman; pgrep -u "$user" -x conmon); do
    [ "$p" = "$ppid" ] && continue
    if grep -qzF "$xdg/" "/proc/$p/cmdline" 2>/dev/null ||
       grep -qzxF "XDG_RUNTIME_DIR=$xdg" "/proc/$p/environ" 2>/dev/null; then
      others=$((others + 1))
    fi
  done
  if [ "$running" = 0 ] && [ "$others" = 0 ]; then
    kill "$ppid" 2>/dev/null && echo "make run-native: stopped rootless Podman's pause process of $user (pid $ppid)"
  elif [ "$running" != 0 ]; then
    echo "make run-native: $running container(s) of $user still run, with their conmon and Podman's pause process; list them with podman ps and stop them with podman stop --all, as $user" >&2
  else
    echo "make run-native: left rootless Podman's pause process of $user (pid $ppid) running: other podman or conmon processes of $user use it" >&2
  fi
fi
exit $rc
