package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// ctl runs Debian's Python supervisorctl against the tree and returns its
// output and exit status.
func (tr *tree) ctl(py string, args ...string) (string, int) {
	tr.t.Helper()
	cmd := exec.Command(py, append([]string{"-c", tr.conf}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tr.t.Fatalf("supervisorctl %v: %v", args, err)
	}
	return string(out), code
}

// ctlFollow runs a following command (tail -f, maintail -f) until its
// output holds want (bounded by a generous limit), then interrupts it as a
// user's Ctrl-C would and requires it to end by itself with status 0.
func (tr *tree) ctlFollow(py, want string, args ...string) string {
	tr.t.Helper()
	cmd := exec.Command(py, append([]string{"-c", tr.conf}, args...)...)
	var out testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tr.t.Fatalf("supervisorctl %v: %v", args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(30 * time.Second)
wait:
	for !strings.Contains(out.String(), want) {
		select {
		case err := <-done:
			tr.t.Fatalf("supervisorctl %v ended (%v) before printing %q:\n%s", args, err, want, out.String())
		case <-deadline:
			break wait // reported below with the output
		case <-time.After(20 * time.Millisecond):
		}
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil {
			tr.t.Fatalf("supervisorctl %v after Ctrl-C: %v, want exit status 0:\n%s", args, err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		tr.t.Fatalf("supervisorctl %v did not end within 30s of Ctrl-C:\n%s", args, out.String())
	}
	if !strings.Contains(out.String(), want) {
		tr.t.Fatalf("supervisorctl %v printed no %q within 30s:\n%s", args, want, out.String())
	}
	return out.String()
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: output lacks %q:\n%s", what, w, got)
		}
	}
}

func TestPythonSupervisorctl(t *testing.T) {
	py := testkit.RequireCommand(t, "supervisorctl")
	tr := start(t, `
[program:alpha]
command = /bin/sh -c 'echo alpha-out; echo alpha-err >&2; exec sleep 1000'
startsecs = 0
priority = 10

[program:beta]
command = /bin/sh -c 'trap "echo got-usr1" USR1; echo beta-env=$BETA; while :; do sleep 0.1; done'
autostart = false
startsecs = 1
priority = 20

[group:grp]
programs = g1,g2

[program:g1]
command = /bin/sleep 1000
startsecs = 0

[program:g2]
command = /bin/sleep 1000
startsecs = 0

[include]
files = conf.d/*.conf
`)
	os.MkdirAll(filepath.Join(tr.dir, "conf.d"), 0o755)
	tr.waitState("alpha", "RUNNING", 5*time.Second)
	tr.waitState("grp:g1", "RUNNING", 5*time.Second)

	t.Run("status", func(t *testing.T) {
		out, code := tr.ctl(py, "status")
		mustContain(t, "status", out, "alpha                            RUNNING   pid ", "beta                             STOPPED   Not started", "grp:g1", "grp:g2")
		if code != 3 {
			t.Fatalf("status with a stopped program exited %d, want 3", code)
		}
		out, code = tr.ctl(py, "status", "grp:*")
		mustContain(t, "status grp:*", out, "grp:g1", "grp:g2")
		if code != 0 || strings.Contains(out, "alpha") {
			t.Fatalf("status grp:* = %d\n%s", code, out)
		}
	})
	t.Run("start", func(t *testing.T) {
		out, code := tr.ctl(py, "start", "beta")
		if out != "beta: started\n" || code != 0 {
			t.Fatalf("start beta = %d %q", code, out)
		}
		out, _ = tr.ctl(py, "start", "alpha")
		mustContain(t, "start running", out, "alpha: ERROR (already started)")
		out, _ = tr.ctl(py, "start", "nosuch")
		mustContain(t, "start unknown", out, "nosuch: ERROR (no such process)")
		if _, code := tr.ctl(py, "status"); code != 0 {
			t.Fatalf("status with everything running exited %d, want 0", code)
		}
	})
	t.Run("pid", func(t *testing.T) {
		out, _ := tr.ctl(py, "pid", "alpha")
		if strings.TrimSpace(out) != strconv.Itoa(tr.info("alpha")["pid"].(int)) {
			t.Fatalf("pid alpha = %q, want %d", out, tr.info("alpha")["pid"])
		}
		out, _ = tr.ctl(py, "pid")
		if strings.TrimSpace(out) != strconv.Itoa(tr.cmd.Process.Pid) {
			t.Fatalf("pid = %q, want the supervisor's %d", out, tr.cmd.Process.Pid)
		}
	})
	t.Run("stop and restart", func(t *testing.T) {
		out, code := tr.ctl(py, "stop", "alpha")
		if out != "alpha: stopped\n" || code != 0 {
			t.Fatalf("stop = %d %q", code, out)
		}
		if s := tr.state("alpha"); s != "STOPPED" {
			t.Fatalf("state after stop = %s", s)
		}
		out, _ = tr.ctl(py, "stop", "alpha")
		mustContain(t, "stop stopped", out, "alpha: ERROR (not running)")
		tr.ctl(py, "start", "alpha")
		old := tr.info("alpha")["pid"].(int)
		out, _ = tr.ctl(py, "restart", "alpha")
		if out != "alpha: stopped\nalpha: started\n" {
			t.Fatalf("restart = %q", out)
		}
		if tr.info("alpha")["pid"].(int) == old {
			t.Fatal("restart kept the old pid")
		}
		out, _ = tr.ctl(py, "stop", "grp:*")
		mustContain(t, "stop group", out, "grp:g1: stopped", "grp:g2: stopped")
		out, _ = tr.ctl(py, "start", "grp:*")
		mustContain(t, "start group", out, "grp:g1: started", "grp:g2: started")
		out, _ = tr.ctl(py, "stop", "all")
		mustContain(t, "stop all", out, "alpha: stopped", "beta: stopped", "grp:g1: stopped", "grp:g2: stopped")
		out, code = tr.ctl(py, "status")
		if code != 3 || strings.Contains(out, "RUNNING") {
			t.Fatalf("status after stop all = %d\n%s", code, out)
		}
		out, _ = tr.ctl(py, "restart", "all")
		mustContain(t, "restart all", out, "alpha: started", "beta: started", "grp:g1: started", "grp:g2: started")
		if out, code := tr.ctl(py, "status"); code != 0 {
			t.Fatalf("status after restart all = %d\n%s", code, out)
		}
	})
	t.Run("signal", func(t *testing.T) {
		out, _ := tr.ctl(py, "signal", "USR1", "beta")
		if out != "beta: signalled\n" {
			t.Fatalf("signal = %q", out)
		}
		tr.waitFor("beta's USR1 trap output", 5*time.Second, func() bool {
			o, _ := tr.ctl(py, "tail", "beta")
			return strings.Contains(o, "got-usr1")
		})
		out, _ = tr.ctl(py, "signal", "NOSUCHSIG", "beta")
		mustContain(t, "bad signal", out, "ERROR (bad signal name)")
	})
	t.Run("tail", func(t *testing.T) {
		out, _ := tr.ctl(py, "tail", "alpha")
		mustContain(t, "tail", out, "alpha-out")
		out, _ = tr.ctl(py, "tail", "alpha", "stderr")
		mustContain(t, "tail stderr", out, "alpha-err")
		out, _ = tr.ctl(py, "tail", "-5", "alpha")
		if len(strings.TrimSuffix(out, "\n")) > 5 {
			t.Fatalf("tail -5 gave %d bytes", len(out))
		}
		tr.ctlFollow(py, "alpha-out", "tail", "-f", "alpha")
	})
	t.Run("maintail", func(t *testing.T) {
		out, _ := tr.ctl(py, "maintail")
		mustContain(t, "maintail", out, "spawned")
		tr.ctlFollow(py, "spawned", "maintail", "-f")
	})
	t.Run("avail", func(t *testing.T) {
		out, _ := tr.ctl(py, "avail")
		mustContain(t, "avail", out, "alpha", "in use", "auto", "beta", "manual", "grp:g1")
	})
	t.Run("clear", func(t *testing.T) {
		out, _ := tr.ctl(py, "clear", "alpha")
		if out != "alpha: cleared\n" {
			t.Fatalf("clear = %q", out)
		}
		out, _ = tr.ctl(py, "tail", "alpha")
		if strings.Contains(out, "alpha-out") {
			t.Fatalf("log not cleared: %q", out)
		}
	})
	t.Run("reread and update", func(t *testing.T) {
		out, _ := tr.ctl(py, "reread")
		mustContain(t, "reread unchanged", out, "No config updates to processes")
		over := "[program:beta]\nenvironment = BETA=overridden\n\n[program:gamma]\ncommand = /bin/sleep 1000\nstartsecs = 0\n"
		if err := os.WriteFile(filepath.Join(tr.dir, "conf.d", "50-mine.conf"), []byte(over), 0o644); err != nil {
			t.Fatal(err)
		}
		alphaPid := tr.info("alpha")["pid"].(int)
		out, _ = tr.ctl(py, "reread")
		mustContain(t, "reread", out, "beta: changed", "gamma: available")
		if strings.Contains(out, "alpha") {
			t.Fatalf("reread reports alpha changed:\n%s", out)
		}
		out, _ = tr.ctl(py, "update")
		mustContain(t, "update", out, "beta: stopped", "beta: updated process group", "gamma: added process group")
		tr.waitState("gamma", "RUNNING", 5*time.Second)
		if tr.info("alpha")["pid"].(int) != alphaPid {
			t.Fatal("update restarted alpha, whose settings did not change")
		}
		// beta has autostart=false: it comes back stopped with the new env.
		tr.ctl(py, "start", "beta")
		tr.waitFor("beta's new environment", 5*time.Second, func() bool {
			o, _ := tr.ctl(py, "tail", "beta")
			return strings.Contains(o, "beta-env=overridden")
		})
		os.Remove(filepath.Join(tr.dir, "conf.d", "50-mine.conf"))
		out, _ = tr.ctl(py, "update")
		mustContain(t, "update removal", out, "gamma: stopped", "gamma: removed process group")
	})
	t.Run("reload", func(t *testing.T) {
		old := tr.info("alpha")["pid"].(int)
		out, _ := tr.ctl(py, "reload")
		mustContain(t, "reload", out, "Restarted supervisord")
		tr.waitFor("alpha running under the re-executed supervisor", 15*time.Second, func() bool {
			v, err := tr.call("supervisor.getProcessInfo", "alpha")
			return err == nil && v.(map[string]any)["statename"] == "RUNNING" && v.(map[string]any)["pid"] != old
		})
		if out, _ := tr.ctl(py, "pid"); strings.TrimSpace(out) != strconv.Itoa(tr.cmd.Process.Pid) {
			t.Fatalf("supervisor pid after reload = %q, want the same %d", out, tr.cmd.Process.Pid)
		}
	})
	t.Run("shutdown", func(t *testing.T) {
		out, _ := tr.ctl(py, "shutdown")
		mustContain(t, "shutdown", out, "Shut down")
		select {
		case err := <-tr.exited:
			tr.exited <- err
			if err != nil {
				t.Fatalf("supervisor exit after shutdown: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("supervisor still running 20 s after shutdown")
		}
	})
}
