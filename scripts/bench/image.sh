#!/usr/bin/env bash
# The Docker image against the same tree run natively (scripts/run.sh,
# `make run-native`) as its baseline: time from start to healthy (every
# daemon answers its health check), idle RSS of the supervisor and the four
# daemons (Podman's own service apart), and time to stop. Plus the image's
# size beside its base. Medians of BENCH_ROUNDS (default 3) starts on warm
# volumes (the first start, which imports the task image, is not counted).
# Needs root, a Docker engine (scripts/image.sh starts one) and the e2e user.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench image: needs root" >&2; exit 1; }
ROUNDS=${BENCH_ROUNDS:-3}
IMAGE=${TEROK_IMAGE:-terok-in-docker:latest}
NAME=image-bench-$$
USER_NATIVE=${TEROK_BENCH_USER:-tke2e}
id "$USER_NATIVE" >/dev/null 2>&1 || { echo "bench image: user $USER_NATIVE missing (make deps)" >&2; exit 1; }
bash scripts/image.sh build >/tmp/image-bench-build.log 2>&1 || { cat /tmp/image-bench-build.log >&2; exit 1; }
work=$(mktemp -d /tmp/image-bench.XXXXXX)
chmod 755 "$work"
cleanup() { docker rm -f "$NAME" >/dev/null 2>&1 || true; [ -n "${native_pid:-}" ] && kill "$native_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f", (b-a)*1000}'; }
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
# tree_rss: from `ps -o rss=,args=` lines, the MiB of the supervisor and
# the four daemons' serve processes (not Podman, not podman-tasks, not a
# podman-service import-image run).
tree_rss() {
  awk '{n=$2; sub(/.*\//, "", n)}
       n=="terok-supervisord" || ((n=="terok-shield" || n=="podman-service" || n=="terok-gate" || n=="terok-web") && $3=="serve") {s+=$1}
       END{printf "%.1f", s/1024}'
}

# --- the image --------------------------------------------------------------
sec=(--privileged)
if ! docker run --rm --privileged "$IMAGE" true >/dev/null 2>&1; then
  sec=(--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    --security-opt systempaths=unconfined --device /dev/fuse --device /dev/net/tun)
fi
vols=(-v "$work/config:/home/podman/.config/terok" -v "$work/share:/home/podman/.local/share/terok"
  -v "$work/containers:/home/podman/.local/share/containers")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gate_port=$(free_port) web_port=$(free_port)
run_image() { docker run -d --name "$NAME" --network host "${sec[@]}" "${vols[@]}" -e TEROK_GATE_BIND=127.0.0.1:"$gate_port" \
  -e TEROK_WEB_LISTEN=127.0.0.1:"$web_port" "$IMAGE" >/dev/null; }
wait_image() {
  for _ in $(seq 600); do
    docker exec "$NAME" /usr/local/lib/terok/healthcheck >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "bench image: not healthy within 60 s" >&2; docker logs "$NAME" | tail -20 >&2; exit 1
}
# warm-up: first start imports the task image; wait for it to finish
run_image; wait_image
for _ in $(seq 240); do docker exec "$NAME" grep -q imported /var/log/terok/podman-tasks.log 2>/dev/null && break; sleep 0.5; done
docker stop "$NAME" >/dev/null; docker rm "$NAME" >/dev/null

img_up=(); img_rss=(); img_stop=()
for _ in $(seq "$ROUNDS"); do
  t0=$(now); run_image; wait_image; t1=$(now)
  img_up+=("$(ms "$t0" "$t1")")
  sleep 5
  img_rss+=("$(docker exec "$NAME" ps -e -o rss=,args= | tree_rss)")
  t0=$(now); docker stop "$NAME" >/dev/null; t1=$(now)
  img_stop+=("$(ms "$t0" "$t1")")
  code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME"); docker rm "$NAME" >/dev/null
  [ "$code" = 0 ] || { echo "bench image: container exited $code on docker stop" >&2; exit 1; }
done

# --- the native tree (baseline) ---------------------------------------------
nat_up=(); nat_rss=(); nat_stop=()
for r in $(seq "$ROUNDS"); do
  dev=$work/native$r; mkdir -p "$dev"; chmod 755 "$dev"
  t0=$(now)
  env -u TEROK_RUN_DIR -u TEROK_STATE_DIR -u TEROK_CONFIG_DIR TEROK_DEV_DIR="$dev" TEROK_USER="$USER_NATIVE" \
    TEROK_GATE_LISTEN=127.0.0.1:"$gate_port" TEROK_WEB_LISTEN=127.0.0.1:"$web_port" setsid bash scripts/run.sh >"$dev.log" 2>&1 &
  native_pid=$!
  ok=
  for _ in $(seq 600); do
    if TEROK_RUN_DIR=$dev/run bin/supervisorctl -s "unix://$dev/run/supervisor.sock" pid >/dev/null 2>&1 &&
       TEROK_RUN_DIR=$dev/run bin/terok health >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.05
  done
  [ -n "$ok" ] || { echo "bench image: native tree not healthy within 30 s" >&2; tail -20 "$dev.log" >&2; exit 1; }
  t1=$(now); nat_up+=("$(ms "$t0" "$t1")")
  sleep 5
  # the supervisor is run.sh's child (or run.sh itself, had it exec'd it),
  # the daemons are the supervisor's children
  sup=$(pgrep -P "$native_pid" -f terok-supervisord | head -1)
  sup=${sup:-$native_pid}
  nat_rss+=("$(ps -o rss=,args= -p "$sup" --ppid "$sup" | tree_rss)")
  t0=$(now); kill -TERM "$native_pid"; wait "$native_pid" || true; t1=$(now)
  nat_stop+=("$(ms "$t0" "$t1")"); native_pid=
done

row() { # what unit ours baseline
  awk -v w="$1" -v u="$2" -v o="$3" -v b="$4" 'BEGIN{printf "%-44s native %8s %-3s  image %8s %-3s  ratio %5.2fx\n", w, b, u, o, u, (b>0? o/b : 0)}'
}
mid() { printf '%s\n' "$@" | median; }
midf() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
echo "image $IMAGE, median of $ROUNDS starts on warm volumes (targets: healthy < 3000 ms, RSS < 80 MiB, stop < 5000 ms)"
row "start -> healthy" ms "$(mid "${img_up[@]}")" "$(mid "${nat_up[@]}")"
row "idle RSS, supervisor + 4 daemons" MiB "$(midf "${img_rss[@]}")" "$(midf "${nat_rss[@]}")"
row "stop (docker stop / SIGTERM)" ms "$(mid "${img_stop[@]}")" "$(mid "${nat_stop[@]}")"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
base=$(docker image inspect -f '{{.Size}}' "$(bash scripts/image.sh base 2>/dev/null | tail -1)")
awk -v s="$size" -v b="$base" 'BEGIN{printf "%-44s base   %8.0f MB   image %8.0f MB   ratio %5.2fx\n", "image size (uncompressed)", b/1e6, s/1e6, s/b}'
printf '\n'
