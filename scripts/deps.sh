#!/usr/bin/env bash
# Installs and prepares everything the tests need on a fresh Debian machine:
# Debian packages (as root), then every scripts/setup.d/*.sh step in order
# (test users, device modes, services). Each step is idempotent.
# As non-root it only checks, and prints the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the test tiers use. Each setup.d step may add its own.
PACKAGES=(git make gcc podman runc crun uidmap slirp4netns passt fuse-overlayfs
  nftables iproute2 procps busybox-static supervisor python3)
for f in scripts/setup.d/*.packages; do
  [ -e "$f" ] || continue
  while read -r p; do [ -n "${p%%#*}" ] && PACKAGES+=("${p%%#*}"); done <"$f"
done

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "$(id -u)" != 0 ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run as root once:  sudo make deps" >&2
    exit 1
  fi
  echo "deps: packages present; the privileged set-up steps need root (sudo make deps)" >&2
  exit 0
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "deps: $step"
  bash "$step"
done
