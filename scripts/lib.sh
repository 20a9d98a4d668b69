# Shared shell helpers for scripts/setup.d steps. Source it; it runs nothing.

# ensure_test_user NAME: an unprivileged user with a home and its own
# 65536-id ranges in /etc/subuid and /etc/subgid (for rootless Podman) that
# overlap no other line. Idempotent.
ensure_test_user() {
  local u=$1 f start home
  id -u "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u"
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    grep -q "^$u:" "$f" && continue
    start=$(awk -F: 'BEGIN{m=100000} NF==3 && $2+$3>m {m=$2+$3} END{print m}' "$f")
    echo "$u:$start:65536" >>"$f"
  done
  home=$(getent passwd "$u" | cut -d: -f6)
  [ -d "$home" ] || install -d -m 0755 -o "$u" -g "$(id -gn "$u")" "$home"
}

# cached_debootstrap NAME DIR INCLUDE WHAT VERSION_PKG [SLIM]: builds, once,
# a Debian 13 (trixie) minbase root filesystem with the packages INCLUDE
# (comma list) in DIR and caches it. A finished tree carries
# DIR/.terok-rootfs-complete (its first line: WHAT, VERSION_PKG's version
# and the build time; then its package list) and is reused while that list
# is unchanged, else rebuilt beside and swapped in; a run cut short leaves
# only DIR.tmp-*, never a half-made DIR. SLIM=1 also drops docs, man pages
# and locales. Needs root, debootstrap and Debian's package mirror
# (TEROK_DEBIAN_MIRROR overrides). NAME prefixes the messages.
cached_debootstrap() {
  local name=$1 dir=$2 include=$3 what=$4 vpkg=$5 slim=${6:-0}
  local mirror=${TEROK_DEBIAN_MIRROR:-http://deb.debian.org/debian} mark=.terok-rootfs-complete tmp old version
  if [ -f "$dir/$mark" ] && grep -qxF "include: $include" "$dir/$mark"; then
    echo "$name: $dir is ready ($(head -1 "$dir/$mark"))"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "$name: needs root (debootstrap); run it with sudo" >&2
    return 1
  fi
  command -v debootstrap >/dev/null || { echo "$name: install debootstrap (apt-get install debootstrap)" >&2; return 1; }
  if [ -e "$dir" ] && [ ! -f "$dir/$mark" ]; then
    echo "$name: $dir exists but is not a finished rootfs (no $mark); move it away first" >&2
    return 1
  fi
  mkdir -p "$(dirname "$dir")"
  tmp=$(mktemp -d "$dir.tmp-XXXXXX")
  # shellcheck disable=SC2064 # the paths are fixed now
  trap "rm -rf --one-file-system '$tmp' '$tmp.log'" EXIT
  echo "$name: debootstrap trixie into $tmp (a minute or two)"
  debootstrap --variant=minbase --include="$include" trixie "$tmp" "$mirror" >"$tmp.log" 2>&1 || {
    echo "$name: debootstrap failed; last lines of $tmp.log:" >&2; tail -20 "$tmp.log" >&2; return 1; }
  chroot "$tmp" apt-get clean
  rm -rf "$tmp"/var/lib/apt/lists/*
  [ "$slim" = 1 ] && rm -rf "$tmp"/var/cache/apt/*.bin "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/* "$tmp"/usr/share/locale/*
  version=$(chroot "$tmp" dpkg-query -W -f '${Version}' "$vpkg")
  printf '%s, %s %s, built %s\ninclude: %s\n' "$what" "$vpkg" "$version" "$(date -u +%FT%TZ)" "$include" >"$tmp/$mark"
  if [ -e "$dir" ]; then   # an older package list: swap the new tree in
    old=$(mktemp -d "$dir.old-XXXXXX")
    mv -T "$dir" "$old/rootfs"
    mv -T "$tmp" "$dir"
    rm -rf --one-file-system "$old"
  else
    mv -T "$tmp" "$dir"
  fi
  rm -f "$tmp.log"
  trap - EXIT
  echo "$name: $dir ready ($vpkg $version)"
}
