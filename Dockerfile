# terok-in-docker: the whole terok stack in one image (see docs/docker.md).
#
#   docker build -t terok-in-docker .     where a registry is reachable:
#                                         Go builds in golang:*, the runtime
#                                         is debian:trixie (needs BuildKit,
#                                         the default of Docker 23+)
#   make image                            no registry: the base is the
#                                         debootstrap cache imported into
#                                         Docker, the binaries come from
#                                         `make build` (BASE, BINARIES=prebuilt,
#                                         TASK_IMAGE=task-tarball)
# Both give the same layout. Layers are ordered so that a Go change only
# rebuilds the last ones.
ARG BASE=debian:trixie
ARG GO_IMAGE=golang:1.26-trixie
ARG BINARIES=from-source
ARG TASK_IMAGE=task-containerfile

# --- the binaries: built here, or taken from bin/ (make build) ---------------
FROM ${GO_IMAGE} AS from-source
ARG VERSION=dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build --mount=type=cache,target=/go/pkg/mod \
    rm -rf bin && make build VERSION="${VERSION}" CGO_ENABLED=0 && mkdir -p /out && cp bin/* /out/

FROM scratch AS prebuilt
COPY bin/ /out/

FROM ${BINARIES} AS binaries

# --- the default task image: a tarball (make image), else built at first start
FROM scratch AS task-containerfile
COPY image/task-image/ /out/task-image/

FROM task-containerfile AS task-tarball
COPY image/build/terok-base.tar.gz /out/

FROM ${TASK_IMAGE} AS task

# --- the runtime ----------------------------------------------------------------
FROM ${BASE}
# Debian 13 packages; the debootstrap base already has them all.
RUN set -eu; \
    pkgs="podman netavark aardvark-dns passt crun runc uidmap fuse-overlayfs git nftables ca-certificates iproute2 procps busybox"; \
    missing=""; \
    for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done; \
    if [ -n "$missing" ]; then \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
      apt-get clean; rm -rf /var/lib/apt/lists/*; \
    fi
# The user podman (uid 1000) runs rootless Podman and the daemons but the
# shield (root) and the vault (its own system user terok-vault, so that a
# compromise of podman does not reach the secrets).
RUN set -eu; \
    useradd --create-home --uid 1000 --user-group --shell /bin/bash podman; \
    grep -q '^podman:' /etc/subuid || echo 'podman:100000:65536' >>/etc/subuid; \
    grep -q '^podman:' /etc/subgid || echo 'podman:100000:65536' >>/etc/subgid; \
    install -d -o podman -g podman /home/podman/.config /home/podman/.config/terok \
      /home/podman/.local /home/podman/.local/share /home/podman/.local/share/terok \
      /home/podman/.local/share/containers; \
    install -d /etc/terok/supervisor.d /etc/terok/hooks.d /usr/local/lib/terok /usr/share/terok; \
    install -d -m 0700 /var/log/terok; \
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin terok-vault
COPY --from=task /out/ /usr/share/terok/
COPY image/supervisord.conf /etc/terok/supervisord.conf
COPY image/supervisor.d/ /etc/terok/supervisor.d/
COPY image/podman-tasks image/healthcheck /usr/local/lib/terok/
ENV TEROK_RUN_DIR=/run/terok \
    TEROK_CONFIG_DIR=/home/podman/.config/terok \
    TEROK_STATE_DIR=/home/podman/.local/share/terok \
    TEROK_LOG_DIR=/var/log/terok \
    TEROK_HOOKS_DIR=/etc/terok/hooks.d \
    TEROK_GATE_BIND=0.0.0.0 \
    TEROK_VAULT_BIND=0.0.0.0 \
    TEROK_WEB_LISTEN=0.0.0.0:8566 \
    XDG_RUNTIME_DIR=/run/user/1000 \
    PODMAN_IGNORE_CGROUPSV1_WARNING=1
EXPOSE 8566 9418 7860-7880
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/local/lib/terok/healthcheck"]
ENTRYPOINT ["/usr/local/bin/terok-entrypoint"]
COPY --from=binaries /out/ /usr/local/bin/
ARG VERSION=dev
LABEL org.opencontainers.image.title="terok-in-docker" \
      org.opencontainers.image.description="terok: sandboxed AI coding agents — web UI, git gate, egress shield and rootless Podman in one container" \
      org.opencontainers.image.source="https://github.com/terok-ai/terok-in-docker" \
      org.opencontainers.image.version="${VERSION}"
