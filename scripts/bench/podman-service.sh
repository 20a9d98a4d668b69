#!/usr/bin/env bash
# Time to a usable Podman API: `podman-service serve` (preflight, settings,
# child, readiness by ping) against plain `podman system service` polled by
# hand, each from a fresh home as the test user tkpodman; then the time
# podman-service needs to bring the API back after its child is killed.
# Needs root, bin/podman-service and scripts/setup.d/20-podman.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench podman-service: needs root (runs Podman as tkpodman)"; exit 1; }
id tkpodman >/dev/null 2>&1 || { echo "bench podman-service: run scripts/setup.d/20-podman.sh first"; exit 1; }
exec python3 - "$PWD/bin/podman-service" <<'PY'
import os, pwd, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, json
BIN = sys.argv[1]
pw = pwd.getpwnam("tkpodman")
RUNS = 3

def ping(sock):
    try:
        s = socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect(sock)
        s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n"); data = s.recv(4096); s.close()
        return data.startswith(b"HTTP/1.") and data.rstrip().endswith(b"OK")
    except OSError:
        return False

def wait_ping(sock, limit=120):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if ping(sock): return
        time.sleep(0.01)
    raise SystemExit("no answer on " + sock)

def env_dir():
    base = tempfile.mkdtemp(prefix="tkpodman-bench-"); os.chmod(base, 0o755)
    for d in ("home", "run"):
        p = os.path.join(base, d); os.mkdir(p, 0o700); os.chown(p, pw.pw_uid, pw.pw_gid)
    env = {"HOME": base + "/home", "XDG_RUNTIME_DIR": base + "/run", "TEROK_RUN_DIR": base + "/run/terok",
           "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "USER": "tkpodman"}
    return base, env

def demote():
    os.setgroups([]); os.setgid(pw.pw_gid); os.setuid(pw.pw_uid); os.setpgid(0, 0)

def cleanup(base):
    pid = os.path.join(base, "run/libpod/tmp/pause.pid")
    if os.path.exists(pid):
        try: os.kill(int(open(pid).read().strip()), signal.SIGKILL)
        except (OSError, ValueError): pass
    shutil.rmtree(base, ignore_errors=True)

def stop(p):
    try: os.killpg(p.pid, signal.SIGTERM)
    except OSError: pass
    try: p.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); p.wait()

def plain():
    base, env = env_dir(); os.makedirs(base + "/run/terok"); os.chown(base + "/run/terok", pw.pw_uid, pw.pw_gid)
    sock = base + "/run/terok/podman.sock"
    t0 = time.monotonic()
    p = subprocess.Popen(["podman", "system", "service", "--time=0", "unix://" + sock], env=env, preexec_fn=demote,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(sock); dt = time.monotonic() - t0
    stop(p); cleanup(base); return dt

def ours(hooks):
    base, env = env_dir(); sock = base + "/run/terok/podman.sock"
    t0 = time.monotonic()
    p = subprocess.Popen([BIN, "serve", "--hooks-dir", hooks], env=env, preexec_fn=demote,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(sock); dt = time.monotonic() - t0
    # Recovery: kill the child, time until the API answers again.
    st = subprocess.run([BIN, "status", "--json"], env=env, preexec_fn=demote, capture_output=True, check=True)
    child = json.loads(st.stdout)["child_pid"]
    t1 = time.monotonic(); os.kill(child, signal.SIGKILL)
    while ping(sock): time.sleep(0.005)
    wait_ping(sock); rec = time.monotonic() - t1
    stop(p); cleanup(base); return dt, rec

hooks = tempfile.mkdtemp(prefix="tkpodman-bench-hooks-"); os.chmod(hooks, 0o755)
a, b, r = [], [], []
for _ in range(RUNS):
    a.append(plain())
    d, rec = ours(hooks); b.append(d); r.append(rec)
shutil.rmtree(hooks)
ma, mb = statistics.median(a), statistics.median(b)
print(f"start to first answered /_ping, fresh home, median of {RUNS}:")
print(f"  podman system service (baseline)  {ma*1000:8.0f} ms")
print(f"  podman-service serve              {mb*1000:8.0f} ms   ratio {mb/ma:.2f}x (preflight + settings + supervision)")
print(f"API back after the child is killed (backoff 0.5 s included): {statistics.median(r)*1000:.0f} ms")
PY
