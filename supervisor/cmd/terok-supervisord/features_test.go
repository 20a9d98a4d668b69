package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/xmlrpc"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

func TestUserDropUmaskAndPrefix(t *testing.T) {
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "useradd")
	const name, extra = "tksup-user", "tksup-extra"
	exec.Command("groupadd", "-f", extra).Run()
	if _, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/bash", "-G", extra, name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v\n%s", err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("userdel", "-r", name).Run()
		exec.Command("groupdel", extra).Run()
	})
	u, _ := user.Lookup(name)
	g, _ := user.LookupGroup(extra)
	tr := start(t, `
[program:dropped]
command = /bin/sh -c 'echo "ids=$(id -u):$(id -g):$(id -G)"; echo "env=$HOME:$USER:$LOGNAME:$SHELL"; echo "umask=$(umask)"; exec sleep 1000'
user = tksup-user
umask = 027
startsecs = 0
stdout_logfile = DIR/dropped.log

[program:quiet]
command = /bin/sh -c 'echo quiet-line; exec sleep 1000'
stdout_prefix = false
startsecs = 0
stdout_logfile = DIR/quiet.log
`)
	log := filepath.Join(tr.dir, "dropped.log")
	tr.waitFor("output of the dropped program", 5*time.Second, func() bool { return strings.Contains(readFile(t, log), "umask=") })
	out := readFile(t, log)
	wantIDs := fmt.Sprintf("ids=%s:%s:", u.Uid, u.Gid)
	if !strings.Contains(out, wantIDs) || !strings.Contains(out, " "+g.Gid) && !strings.Contains(out, ":"+g.Gid) {
		t.Fatalf("ids line %q lacks %q or the supplementary group %s", out, wantIDs, g.Gid)
	}
	mustContain(t, "env", out, "env="+u.HomeDir+":"+name+":"+name+":/bin/bash", "umask=0027")
	// The log file and the supervisor's stdout are written by separate
	// copies of the output: wait for the prefixed line too, then check that
	// quiet's line (written before it) was not copied.
	tr.waitFor("quiet's log", 5*time.Second, func() bool { return strings.Contains(readFile(t, filepath.Join(tr.dir, "quiet.log")), "quiet-line") })
	tr.waitFor("the dropped program's prefixed output on the supervisor's stdout", 10*time.Second,
		func() bool { return strings.Contains(tr.output(), "dropped | umask=") })
	if strings.Contains(tr.output(), "quiet-line") {
		t.Fatal("stdout_prefix=false still copied the output to the supervisor's stdout")
	}
}

func TestLogRotation(t *testing.T) {
	tr := start(t, `
[program:chatty]
command = /bin/sh -c 'i=0; while [ $i -lt 400 ]; do echo "line $i 0123456789012345678901234567890123456789"; i=$((i+1)); [ $((i %% 20)) = 0 ] && sleep 0.05; done; exec sleep 1000'
startsecs = 0
stdout_logfile = DIR/chatty.log
stdout_logfile_maxbytes = 4KB
stdout_logfile_backups = 2
`)
	log := filepath.Join(tr.dir, "chatty.log")
	all := func() string { return readFile(t, log) + readFile(t, log+".1") + readFile(t, log+".2") }
	tr.waitFor("all lines written and rotated", 5*time.Second, func() bool {
		return strings.Contains(all(), "line 399") && readFile(t, log+".2") != ""
	})
	if _, err := os.Stat(log + ".3"); err == nil {
		t.Fatal("kept more than stdout_logfile_backups=2 backups")
	}
	// 400 lines of ~50 bytes are ~20 KB; with 4 KB files and two backups
	// the oldest lines must be gone.
	if strings.Contains(all(), "line 0 ") {
		t.Fatal("the oldest lines survived rotation")
	}
}

func TestSIGHUPAppliesOverride(t *testing.T) {
	tr := start(t, `
[program:keep]
command = /bin/sleep 1000
startsecs = 0
[program:change]
command = /bin/sh -c 'echo "mode=$MODE"; exec sleep 1000'
environment = MODE=before
startsecs = 0
stdout_logfile = DIR/change.log
[include]
files = DIR/conf.d/*.conf
`)
	tr.waitState("change", "RUNNING", 5*time.Second)
	keep := tr.info("keep")["pid"].(int)
	os.MkdirAll(filepath.Join(tr.dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(tr.dir, "conf.d", "50-mine.conf"), []byte("[program:change]\nenvironment = MODE=after\n"), 0o644)
	tr.cmd.Process.Signal(syscall.SIGHUP)
	tr.waitFor("restart with the new environment", 10*time.Second, func() bool {
		return strings.Contains(readFile(t, filepath.Join(tr.dir, "change.log")), "mode=after")
	})
	if tr.info("keep")["pid"].(int) != keep {
		t.Fatal("SIGHUP restarted a program whose settings did not change")
	}
	// A broken override is refused and changes nothing.
	os.WriteFile(filepath.Join(tr.dir, "conf.d", "60-broken.conf"), []byte("[program:change]\nuser = tksup-no-such-user\n"), 0o644)
	pid := tr.info("change")["pid"].(int)
	_, err := tr.call("supervisor.reloadConfig")
	if faultCode(err) != 92 {
		t.Fatalf("reloadConfig with a bad file: %v, want fault 92 CANT_REREAD", err)
	}
	tr.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if tr.info("change")["pid"].(int) != pid {
		t.Fatal("a broken config restarted a program")
	}
}

func TestSocketModeOwnerAndInetAuth(t *testing.T) {
	testkit.RequireRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, _ := os.MkdirTemp("", "tksup-")
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "s.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`[supervisord]
childlogdir = %[1]s
identifier = tksup
[unix_http_server]
file = %[1]s/s.sock
chmod = 0660
chown = nobody:nogroup
username = u
password = {SHA}8abec7ef121773d9015f71462b7ee039d4b1675d
[inet_http_server]
port = %[2]s
username = admin
password = s3cret
[program:p]
command = /bin/sleep 1000
startsecs = 0
`, dir, addr)), 0o644)
	cmd := exec.Command(binary, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	good, _ := xmlrpc.NewClient("http://"+addr, "admin", "s3cret")
	bad, _ := xmlrpc.NewClient("http://"+addr, "admin", "wrong")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := good.CallTimeout("supervisor.getState"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("inet server never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var he *xmlrpc.HTTPError
	if _, err := bad.CallTimeout("supervisor.getState"); !errors.As(err, &he) || he.Status != 401 {
		t.Fatalf("wrong password: %v, want HTTP 401", err)
	}
	ugood, _ := xmlrpc.NewClient("unix://"+filepath.Join(dir, "s.sock"), "u", "unixpw")
	ubad, _ := xmlrpc.NewClient("unix://"+filepath.Join(dir, "s.sock"), "u", "{SHA}8abec7ef121773d9015f71462b7ee039d4b1675d")
	if _, err := ugood.CallTimeout("supervisor.getState"); err != nil {
		t.Fatalf("unix socket with the {SHA} password: %v", err)
	}
	if _, err := ubad.CallTimeout("supervisor.getState"); !errors.As(err, &he) || he.Status != 401 {
		t.Fatalf("unix socket with the digest as password: %v, want HTTP 401", err)
	}
	st, err := os.Stat(filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	nobody, _ := user.Lookup("nobody")
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o660 || fmt.Sprint(sys.Uid) != nobody.Uid {
		t.Fatalf("socket mode %v uid %d, want 0660 owned by nobody (%s)", st.Mode().Perm(), sys.Uid, nobody.Uid)
	}
}

func TestRPCFaultsAndLogs(t *testing.T) {
	tr := start(t, `
[program:echoer]
command = /bin/sh -c 'echo 0123456789; while read l; do echo "got:$l"; done'
startsecs = 0
`)
	tr.waitFor("echoer output", 5*time.Second, func() bool {
		v, err := tr.call("supervisor.readProcessStdoutLog", "echoer", 0, 0)
		return err == nil && strings.Contains(v.(string), "0123456789")
	})
	cases := []struct {
		method string
		args   []any
		code   int
	}{
		{"supervisor.nope", nil, 1},
		{"supervisor.getProcessInfo", []any{"missing"}, 10},
		{"supervisor.startProcess", []any{"echoer"}, 60},
		{"supervisor.signalProcess", []any{"echoer", "BOGUS"}, 11},
		{"supervisor.readProcessStdoutLog", []any{"echoer", -1, 5}, 3},
		{"supervisor.readProcessStderrLog", []any{"echoer", 0, 0}, 0}, // AUTO stderr exists
		{"supervisor.removeProcessGroup", []any{"echoer"}, 91},
		{"supervisor.addProcessGroup", []any{"echoer"}, 90},
		{"supervisor.addProcessGroup", []any{"nope"}, 10},
	}
	for _, c := range cases {
		_, err := tr.call(c.method, c.args...)
		if faultCode(err) != c.code {
			t.Errorf("%s%v: %v, want fault %d", c.method, c.args, err, c.code)
		}
	}
	_, err := tr.call("supervisor.getProcessInfo", "missing")
	var f *xmlrpc.Fault
	if !errors.As(err, &f) || f.String != "BAD_NAME: missing" {
		t.Errorf("fault text %v, want BAD_NAME: missing", err)
	}
	v, _ := tr.call("supervisor.readProcessStdoutLog", "echoer", -5, 0)
	if v != "6789\n" {
		t.Errorf("read last 5 bytes = %q", v)
	}
	v, _ = tr.call("supervisor.tailProcessStdoutLog", "echoer", 0, 4)
	if tail := v.([]any); tail[0] != "789\n" || tail[1] != 11 || tail[2] != true {
		t.Errorf("tail = %v, want [789\\n 11 true]", tail)
	}
	if _, err := tr.call("supervisor.sendProcessStdin", "echoer", "hello\n"); err != nil {
		t.Fatal(err)
	}
	tr.waitFor("stdin echoed", 5*time.Second, func() bool {
		v, _ := tr.call("supervisor.readProcessStdoutLog", "echoer", 0, 0)
		return strings.Contains(v.(string), "got:hello")
	})
	mc, err := tr.call("system.multicall", []any{
		map[string]any{"methodName": "supervisor.getAPIVersion", "params": []any{}},
		map[string]any{"methodName": "supervisor.getProcessInfo", "params": []any{"missing"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	res := mc.([]any)
	if res[0].([]any)[0] != "3.0" || res[1].(map[string]any)["faultCode"] != 10 {
		t.Errorf("multicall = %v", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if v, err := tr.rpc.Call(ctx, "supervisor.getState"); err != nil || v.(map[string]any)["statename"] != "RUNNING" {
		t.Errorf("getState = %v %v", v, err)
	}
}

func TestRestartReexecs(t *testing.T) {
	tr := start(t, `
[program:p]
command = /bin/sleep 1000
startsecs = 0
`)
	tr.waitState("p", "RUNNING", 5*time.Second)
	old := tr.info("p")["pid"].(int)
	stale := filepath.Join(tr.dir, "logs", "gone-stdout---tksup-deadbeef.log")
	other := filepath.Join(tr.dir, "logs", "kept-stdout---someone-else-deadbeef.log")
	os.WriteFile(stale, []byte("old run\n"), 0o644)
	os.WriteFile(other, []byte("other identifier\n"), 0o644)
	if _, err := tr.call("supervisor.restart"); err != nil {
		t.Fatal(err)
	}
	tr.waitFor("p restarted by a new supervisor image", 15*time.Second, func() bool {
		v, err := tr.call("supervisor.getProcessInfo", "p")
		if err != nil {
			return false
		}
		in := v.(map[string]any)
		return in["statename"] == "RUNNING" && in["pid"].(int) != old
	})
	if alive(old) {
		t.Fatal("the old program survived the restart")
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("the AUTO log of an earlier run was not cleaned up")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("an AUTO log of another identifier was removed")
	}
	v, _ := tr.call("supervisor.getPID")
	if v != tr.cmd.Process.Pid {
		t.Fatalf("supervisor pid %v after restart, want the same %d (re-exec)", v, tr.cmd.Process.Pid)
	}
}

func TestTypedClient(t *testing.T) {
	tr := start(t, `
[program:svc]
command = /bin/sh -c 'trap "echo hup" HUP; echo ready; while :; do sleep 0.1; done'
startsecs = 0
autostart = false
`)
	c := supervisorapi.New(tr.sock)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx, "svc", true); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "svc", true); !supervisorapi.IsFault(err, supervisorapi.FaultAlreadyStarted) {
		t.Fatalf("second start: %v", err)
	}
	all, err := c.AllProcessInfo(ctx)
	if err != nil || len(all) != 1 || all[0].StateName != "RUNNING" || all[0].PID == 0 || all[0].FullName() != "svc:svc" || all[0].Start.IsZero() {
		t.Fatalf("AllProcessInfo = %+v, %v", all, err)
	}
	tr.waitFor("ready (trap installed)", 5*time.Second, func() bool {
		s, _ := c.ReadStdout(ctx, "svc", 100)
		return strings.Contains(s, "ready")
	})
	if err := c.Signal(ctx, "svc", "HUP"); err != nil {
		t.Fatal(err)
	}
	tr.waitFor("hup in the log", 5*time.Second, func() bool {
		s, _ := c.ReadStdout(ctx, "svc", 100)
		return strings.Contains(s, "ready") && strings.Contains(s, "hup")
	})
	if err := c.Stop(ctx, "svc", true); err != nil {
		t.Fatal(err)
	}
	if in, _ := c.ProcessInfo(ctx, "svc"); in.State != 0 || in.StateName != "STOPPED" {
		t.Fatalf("after stop: %+v", in)
	}
	if _, err := c.ProcessInfo(ctx, "nope"); !supervisorapi.IsFault(err, supervisorapi.FaultBadName) || !errors.Is(err, unixhttp.ErrNotFound) {
		t.Fatalf("unknown name: %v, want BAD_NAME matching unixhttp.ErrNotFound", err)
	}
	if err := c.Stop(ctx, "svc", true); !errors.Is(err, unixhttp.ErrConflict) {
		t.Fatalf("stop of a stopped program: %v, want unixhttp.ErrConflict", err)
	}
	h, err := c.Health(ctx)
	if err != nil || h.Status != "ok" || h.PID != tr.cmd.Process.Pid || h.Name != "terok-supervisord" || h.Details["state"] != "RUNNING" {
		t.Fatalf("Health = %+v, %v; want ok with pid %d", h, err, tr.cmd.Process.Pid)
	}
	// The same answer as JSON on GET /v1/health, like every terok socket,
	// and a JSON error for a route the socket does not have.
	hc := unixhttp.NewClient(tr.sock)
	if hs, err := health.Check(ctx, hc); err != nil || hs.PID != tr.cmd.Process.Pid || hs.Status != "ok" {
		t.Fatalf("GET /v1/health = %+v, %v", hs, err)
	}
	err = hc.Get(ctx, "/v1/nope", nil)
	var ae *unixhttp.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(ae.Message, "no such route: GET /v1/nope") {
		t.Fatalf("unknown route: %v, want a JSON 404 naming the route", err)
	}
	dead := supervisorapi.New(filepath.Join(tr.dir, "nobody.sock"))
	if _, err := dead.Health(ctx); !errors.Is(err, unixhttp.ErrUnavailable) || !strings.Contains(err.Error(), "nobody.sock") {
		t.Fatalf("Health of a dead socket: %v, want unixhttp.ErrUnavailable naming the socket", err)
	}
	if d, err := c.Reread(ctx); err != nil || len(d.Added)+len(d.Changed)+len(d.Removed) != 0 {
		t.Fatalf("Reread = %+v, %v", d, err)
	}
}

// TestTailNeverStarted: the log of a program that never started does not
// exist yet; our supervisorctl says so and why, Python's says "no log
// file" (it cannot know more), both exit 1. (Python's own supervisord
// creates empty log files up front and prints nothing.)
func TestTailNeverStarted(t *testing.T) {
	tr := start(t, `
[program:never]
command = /bin/sleep 1000
autostart = false
`)
	ours := testkit.Build(t, "../supervisorctl")
	out, _, code := testkit.Run(exec.Command(ours, "-c", tr.conf, "tail", "never"))
	logPath := filepath.Join(tr.dir, "logs")
	if code != 1 || !strings.HasPrefix(out, "never: ERROR (no log yet: never has not been started yet, so "+logPath) {
		t.Fatalf("our tail: exit %d, %q; want 1 and the reason", code, out)
	}
	// Python's client, for comparison (strict mode requires it, as the
	// other compatibility tests do).
	py := testkit.RequireCommand(t, "supervisorctl")
	out, code = tr.ctl(py, "tail", "never", "stderr")
	if code != 1 || out != "never: ERROR (no log file)\n" {
		t.Fatalf("Python's tail: exit %d, %q", code, out)
	}
}

// TestSupervisorctlFindsTheTreeByRunDir: with TEROK_RUN_DIR alone our
// supervisorctl reaches the tree, although a config file of Python's
// supervisor (Debian's /etc/supervisor/supervisord.conf, when installed)
// sits on the search path; with -c it reads that file, as Python's does.
func TestSupervisorctlFindsTheTreeByRunDir(t *testing.T) {
	tr := start(t, `
[program:svc]
command = /bin/sleep 1000
startsecs = 0
`)
	tr.waitState("svc", "RUNNING", 10*time.Second)
	ctl := testkit.Build(t, "../supervisorctl")
	cmd := exec.Command(ctl, "status")
	cmd.Dir = t.TempDir() // no supervisord.conf in the working directory
	cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+tr.dir)
	out, errOut, code := testkit.Run(cmd)
	if code != 0 || !strings.HasPrefix(out, "svc ") || !strings.Contains(out, "RUNNING   pid "+strconv.Itoa(tr.info("svc")["pid"].(int))+",") {
		t.Fatalf("supervisorctl status with TEROK_RUN_DIR: exit %d, %q %q", code, out, errOut)
	}
	other := filepath.Join(t.TempDir(), "other.conf")
	os.WriteFile(other, []byte("[supervisorctl]\nserverurl = unix:///nonexistent/tkconv.sock\n"), 0o644)
	cmd = exec.Command(ctl, "-c", other, "status")
	cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+tr.dir)
	out, _, code = testkit.Run(cmd)
	if code != 4 || out != "unix:///nonexistent/tkconv.sock no such file\n" {
		t.Fatalf("-c must win over TEROK_RUN_DIR: exit %d, %q", code, out)
	}
}
