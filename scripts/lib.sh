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
