#!/usr/bin/env bash
# The terok Docker image on a machine without a container registry.
#   scripts/image.sh engine   start a Docker engine when none answers (root)
#   scripts/image.sh build    make image: engine, base, task image tarball,
#                             make build, docker build  (the default)
#   scripts/image.sh run      make run: build, then run the image as
#                             docs/docker.md says and wait until healthy
# Environment: TEROK_IMAGE (default terok-in-docker:latest),
# TEROK_CONTAINER (terok), TEROK_DOCKER_DATA (the three volumes for `run`,
# default ~/terok-in-docker), TEROK_DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${TEROK_IMAGE:-terok-in-docker:latest}
ROOTFS=/var/cache/terok/rootfs-trixie
TASK_ROOTFS=/var/cache/terok/taskfs-trixie
TASK_TAR=image/build/terok-base.tar.gz
say() { echo "image: $*"; }
die() { echo "image: $*" >&2; exit 1; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# engine: Debian's dockerd, started in the background with a bridge (so
# `-p` port mappings work through docker-proxy) but without touching the
# host's firewall or forwarding (--iptables=false --ip-forward=false):
# other tests on these machines use nftables and routed namespaces.
engine() {
  engine_answers && return 0
  [ "$(id -u)" = 0 ] || die "no Docker engine answers; start one (as root: sudo $0 engine)"
  command -v dockerd >/dev/null || die "dockerd is not installed (apt-get install docker.io, or sudo make deps)"
  if [ -S /var/run/docker.sock ] && ! pgrep -x dockerd >/dev/null; then rm -f /var/run/docker.sock; fi
  if ! pgrep -x dockerd >/dev/null; then
    say "starting dockerd (log: /var/log/terok-dockerd.log)"
    # The subshell's own output goes nowhere too: a shell left waiting for
    # dockerd must not hold a caller's pipe open (a test reading our
    # output would wait for dockerd to end).
    (cd / && setsid nohup dockerd --iptables=false --ip-forward=false >>/var/log/terok-dockerd.log 2>&1 </dev/null &) >/dev/null 2>&1 </dev/null
  fi
  for _ in $(seq 120); do engine_answers && return 0; sleep 0.5; done
  tail -20 /var/log/terok-dockerd.log >&2 || true
  die "dockerd did not answer within 60 s (log above)"
}

# docker build with BuildKit: the CLI's buildx plugin when present, else
# Debian's docker 20.10 client, which has BuildKit built in.
docker_build() {
  if docker buildx version >/dev/null 2>&1; then
    DOCKER_BUILDKIT=1 docker build "$@"
  elif [ -x /usr/bin/docker ]; then
    DOCKER_BUILDKIT=1 /usr/bin/docker build "$@"
  else
    die "docker build needs BuildKit: install the buildx plugin or Debian's docker.io"
  fi
}

# base: the debootstrap cache imported as terok-rootfs:<hash of its marker>
# (imported again only when the rootfs is rebuilt). Prints the image name.
base() {
  bash scripts/base-rootfs.sh "$ROOTFS" >&2
  local tag name
  tag=$(sha256sum "$ROOTFS/.terok-rootfs-complete" | cut -c1-12)
  name=terok-rootfs:$tag
  if ! docker image inspect "$name" >/dev/null 2>&1; then
    say "importing $ROOTFS as $name" >&2
    tar -C "$ROOTFS" --numeric-owner -c . | docker import - "$name" >/dev/null
    # bases of older root filesystems (kept while an image still uses them)
    docker images --format '{{.Repository}}:{{.Tag}}' terok-rootfs | grep -vxF "$name" |
      xargs -r docker rmi >/dev/null 2>&1 || true
  fi
  echo "$name"
}

# task_tarball: the default task image's root filesystem
# (scripts/task-rootfs.sh, the cache `make task-image` shares), packed into
# $TASK_TAR when the cache is newer.
task_tarball() {
  bash scripts/task-rootfs.sh "$TASK_ROOTFS" >&2
  local mark=$TASK_ROOTFS/.terok-rootfs-complete
  # repacked when the cached tree or the way it is packed changes
  local recipe
  recipe=$( { cat "$mark"; declare -f task_tarball; } | sha256sum | cut -c1-16)
  if [ ! -f "$TASK_TAR" ] || [ "$(cat "$TASK_TAR.recipe" 2>/dev/null)" != "$recipe" ]; then
    say "packing $TASK_TAR"
    mkdir -p "$(dirname "$TASK_TAR")"
    # documentation, manual pages and translations are left out: no task reads them
    tar -C "$TASK_ROOTFS" --numeric-owner --exclude=./.terok-rootfs-complete \
      --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*' \
      --exclude='./usr/share/info/*' -c . | gzip >"$TASK_TAR.tmp"
    mv "$TASK_TAR.tmp" "$TASK_TAR"
    echo "$recipe" >"$TASK_TAR.recipe"
  fi
}

build() {
  engine
  local base_image version start=$SECONDS
  base_image=$(base)
  task_tarball
  make --no-print-directory build
  version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
  say "docker build $IMAGE (base $base_image, version $version)"
  local log
  log=$(mktemp /tmp/terok-image-build.XXXXXX)
  if ! docker_build --network host --progress plain \
      --build-arg BASE="$base_image" --build-arg BINARIES=prebuilt --build-arg TASK_IMAGE=task-tarball \
      --build-arg VERSION="$version" -t "$IMAGE" . >"$log" 2>&1; then
    tail -40 "$log" >&2; rm -f "$log"; die "docker build failed (last lines above)"
  fi
  rm -f "$log"
  # the image this build replaced, now untagged
  docker image prune -f --filter label=org.opencontainers.image.title=terok-in-docker >/dev/null 2>&1 || true
  say "built $IMAGE in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# run_args: the docker run options of docs/docker.md's persistent quick
# start. On these VMs --privileged fails ("unable to apply caps"); then the
# equivalent set of options is used instead.
privileged_opts=(--privileged)
fallback_opts=(--cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined
  --security-opt apparmor=unconfined --security-opt systempaths=unconfined
  --device /dev/fuse --device /dev/net/tun)

run() {
  if [ "$(id -u)" != 0 ] && ! engine_answers; then
    echo "make run: no Docker engine answers. Start one (sudo make run does), or run the image yourself:" >&2
    echo "  docker build -t terok-in-docker . && docker run -d --privileged --network host --name terok terok-in-docker" >&2
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then bash scripts/deps.sh >/dev/null; fi
  build
  local name=${TEROK_CONTAINER:-terok} data=${TEROK_DOCKER_DATA:-$HOME/terok-in-docker}
  mkdir -p "$data/config" "$data/share" "$data/containers"
  if docker container inspect "$name" >/dev/null 2>&1; then
    say "replacing the container $name (its state is in $data)"
    docker rm -f "$name" >/dev/null
  fi
  local common=(-d --network host --name "$name" -v "$data/config:/home/podman/.config/terok"
    -v "$data/share:/home/podman/.local/share/terok" -v "$data/containers:/home/podman/.local/share/containers")
  local err
  if ! err=$(docker run "${privileged_opts[@]}" "${common[@]}" "$IMAGE" 2>&1); then
    docker rm -f "$name" >/dev/null 2>&1 || true
    case $err in
      *"unable to apply caps"*)
        say "--privileged is refused on this machine (unable to apply caps); using the equivalent options instead"
        docker run "${fallback_opts[@]}" "${common[@]}" "$IMAGE" >/dev/null ;;
      *) echo "$err" >&2; die "docker run failed" ;;
    esac
  fi
  say "waiting until $name is healthy"
  for _ in $(seq 240); do
    if docker exec "$name" /usr/local/lib/terok/healthcheck >/dev/null 2>&1; then
      docker logs "$name" 2>&1 | sed -n '/^terok-in-docker /,/^$/p'
      say "running: docker logs -f $name; docker exec -it -u podman $name bash; docker stop $name"
      return 0
    fi
    [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || break
    sleep 0.5
  done
  docker logs "$name" 2>&1 | tail -40 >&2
  die "$name did not become healthy within 120 s (its log above)"
}

case ${1:-build} in
  engine) engine ;;
  base) engine; base ;;
  task-tarball) task_tarball ;;
  build) build ;;
  run) run ;;
  *) die "unknown command ${1}; use engine, build or run" ;;
esac
