#!/usr/bin/python3
"""terok-supervisord against Python supervisord 4.2 on the same 4-program
config, in one run: exec -> all RUNNING, supervisor RSS, and the wall time of
`supervisorctl status` (Python's client vs ours). Prints each pair and its
ratio. Usage: bench.py OUR_SUPERVISORD [OUR_SUPERVISORCTL]"""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

PROGRAMS = 4
ROUNDS = 5


def config(d, startsecs):
    lines = ["[supervisord]", "logfile = %(here)s/supervisord.log", "pidfile = %(here)s/supervisord.pid",
             "childlogdir = %(here)s", "nodaemon = true", "",
             "[unix_http_server]", "file = %(here)s/s.sock", "chmod = 0700", "",
             "[rpcinterface:supervisor]",
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
             "[supervisorctl]", "serverurl = unix://%(here)s/s.sock", ""]
    for i in range(PROGRAMS):
        lines += ["[program:p%d]" % i, "command = /bin/sleep 1000", "startsecs = %d" % startsecs,
                  "priority = %d" % (10 * (i + 1)), ""]
    path = os.path.join(d, "supervisord.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def proxy(sock):
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, "unix://" + sock))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_one(argv, d, startsecs):
    """Starts a supervisor, returns (seconds to all RUNNING, pid, popen)."""
    conf = config(d, startsecs)
    sock = os.path.join(d, "s.sock")
    t0 = time.monotonic()
    p = subprocess.Popen(argv + ["-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = t0 + 30
    while time.monotonic() < deadline:
        try:
            infos = proxy(sock).supervisor.getAllProcessInfo()
            if len(infos) == PROGRAMS and all(i["statename"] == "RUNNING" for i in infos):
                return time.monotonic() - t0, p, conf
        except Exception:
            pass
        time.sleep(0.002)
    stop(p)
    raise SystemExit("%s: not all RUNNING within 30 s" % argv[0])


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def status_ms(ctl, conf):
    """Median wall time of `ctl status`; every call must succeed (exit 0:
    all RUNNING), so a client that fails fast is not timed as fast."""
    times = []
    for _ in range(ROUNDS * 2):
        t0 = time.monotonic()
        r = subprocess.run([ctl, "-c", conf, "status"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        times.append(time.monotonic() - t0)
        if r.returncode != 0:
            raise SystemExit("%s status exited %d:\n%s" % (ctl, r.returncode, r.stdout.decode(errors="replace")))
    return statistics.median(times) * 1000


def pair(what, py, ours, unit, lower_is_better=True):
    if ours is None:
        print("%-46s python %9.1f %-3s  ours: not built" % (what, py, unit))
        return
    ratio = py / ours if lower_is_better else ours / py
    print("%-46s python %9.1f %-3s  ours %9.1f %-3s  ratio %6.1fx" % (what, py, unit, ours, unit, ratio))


def main():
    ours = os.path.abspath(sys.argv[1])
    our_ctl = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 and os.access(sys.argv[2], os.X_OK) else None
    python = [shutil.which("supervisord") or "/usr/bin/supervisord", "-n"]
    py_ctl = shutil.which("supervisorctl") or "/usr/bin/supervisorctl"
    results = {}
    for name, argv in (("python", python), ("ours", [ours])):
        for startsecs in (0, 1):
            times, rss = [], []
            status = None
            for r in range(ROUNDS):
                d = tempfile.mkdtemp(prefix="tksup-bench-")
                try:
                    t, p, conf = run_one(argv, d, startsecs)
                    times.append(t)
                    if startsecs == 0 and r == 0:
                        time.sleep(0.5)
                        rss.append(rss_kb(p.pid))
                        ctl = py_ctl if name == "python" else our_ctl
                        status = status_ms(ctl, conf) if ctl else None
                        results[(name, "pyctl")] = status_ms(py_ctl, conf)
                    stop(p)
                finally:
                    shutil.rmtree(d, ignore_errors=True)
            results[(name, startsecs)] = statistics.median(times) * 1000
            if rss:
                results[(name, "rss")] = rss[0] / 1024
                results[(name, "status")] = status
    print("config: %d programs (/bin/sleep 1000), median of %d starts" % (PROGRAMS, ROUNDS))
    pair("exec -> all RUNNING, startsecs=0", results[("python", 0)], results[("ours", 0)], "ms")
    pair("exec -> all RUNNING, startsecs=1", results[("python", 1)], results[("ours", 1)], "ms")
    pair("supervisor RSS (target ours < 15 MB)", results[("python", "rss")], results[("ours", "rss")], "MB")
    pair("status wall time, own client (target < 20 ms)", results[("python", "status")], results[("ours", "status")], "ms")
    pair("status wall time, Python client on both", results[("python", "pyctl")], results[("ours", "pyctl")], "ms")


if __name__ == "__main__":
    main()
