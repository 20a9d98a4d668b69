package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// nobody is the unprivileged member of the socket's group in these tests,
// as the user podman is in the image.
const nobodyID = 65534

// ctlAs runs a supervisorctl (Python's or ours) as uid:gid against the tree.
func (tr *tree) ctlAs(uid int, bin string, args ...string) (string, int) {
	tr.t.Helper()
	cmd := exec.Command(bin, append([]string{"-s", "unix://" + tr.sock}, args...)...)
	cmd.Dir = tr.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + tr.dir, "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: nobodyID}}
	if uid == 0 {
		cmd.SysProcAttr.Credential.Gid = 0
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	tr.t.Fatalf("%s %v: %v", bin, args, err)
	return "", -1
}

// TestHostileSocketGroupCannotChangeConfig: the socket is open to a group
// (the user podman's, in the image). A member of it may see status and
// logs and start, stop and restart programs, with Python's supervisorctl
// and ours; it may not reread or apply the configuration, add or remove
// groups, shut down or restart the supervisor, signal, clear logs or write
// to stdin — so a program planted in the configuration does not start
// until root applies it. Root keeps every right.
func TestHostileSocketGroupCannotChangeConfig(t *testing.T) {
	testkit.RequireRoot(t)
	py := testkit.RequireCommand(t, "supervisorctl")
	tr := start(t, `
[unix_http_server]
chmod = 0770
chown = root:nogroup

[program:svc]
command = /bin/sh -c 'echo svc-says-hello; exec sleep 1000'
startsecs = 0

[include]
files = DIR/conf.d/*.conf
`)
	os.Chmod(tr.dir, 0o755)
	os.MkdirAll(filepath.Join(tr.dir, "conf.d"), 0o755)
	ours := filepath.Join(tr.dir, "supervisorctl")
	if out, err := exec.Command("go", "build", "-o", ours, "../supervisorctl").CombinedOutput(); err != nil {
		t.Fatalf("build supervisorctl: %v\n%s", err, out)
	}
	tr.waitState("svc", "RUNNING", 10*time.Second)

	// What an attacker in the group would have planted, had it been able
	// to write there (it cannot: conf.d is root's). Root wrote it here.
	os.WriteFile(filepath.Join(tr.dir, "conf.d", "99-planted.conf"), []byte(`[program:planted]
command = /bin/sh -c 'id -u > `+tr.dir+`/planted-ran; exec sleep 1000'
startsecs = 0
`), 0o644)

	for _, c := range []struct{ name, bin string }{{"python", py}, {"ours", ours}} {
		t.Run(c.name+" as a group member: allowed", func(t *testing.T) {
			out, code := tr.ctlAs(nobodyID, c.bin, "status")
			if code != 0 || !strings.Contains(out, "svc") || !strings.Contains(out, "RUNNING") {
				t.Fatalf("status: exit %d\n%s", code, out)
			}
			if strings.Contains(out, "planted") {
				t.Fatalf("status shows the planted program before any reread:\n%s", out)
			}
			for _, args := range [][]string{{"stop", "svc"}, {"start", "svc"}, {"restart", "svc"}, {"pid", "svc"}, {"avail"}, {"maintail"}} {
				if out, code := tr.ctlAs(nobodyID, c.bin, args...); code != 0 {
					t.Errorf("%v: exit %d\n%s", args, code, out)
				}
			}
			out, code = tr.ctlAs(nobodyID, c.bin, "tail", "svc")
			if code != 0 || !strings.Contains(out, "svc-says-hello") {
				t.Errorf("tail svc: exit %d\n%s", code, out)
			}
			tr.waitState("svc", "RUNNING", 10*time.Second)
		})
		t.Run(c.name+" as a group member: refused", func(t *testing.T) {
			for _, args := range [][]string{{"reread"}, {"update"}, {"add", "planted"}, {"remove", "svc"},
				{"signal", "HUP", "svc"}, {"clear", "svc"}, {"shutdown"}, {"reload"}} {
				out, code := tr.ctlAs(nobodyID, c.bin, args...)
				if code == 0 {
					t.Errorf("%v as uid %d: exit 0, want a refusal\n%s", args, nobodyID, out)
				}
				if args[0] == "clear" {
					// Python's client prints FAILED of clear as this alone.
					if out != "svc: ERROR (failed)\n" {
						t.Errorf("clear: %q", out)
					}
					continue
				}
				if !strings.Contains(out, "needs root") || !strings.Contains(out, "uid 65534") || !strings.Contains(out, "docker exec") {
					t.Errorf("%v: the refusal does not say that root is needed and how:\n%s", args, out)
				}
			}
			if got := tr.state("svc"); got != "RUNNING" {
				t.Errorf("svc is %s after the refused calls, want RUNNING", got)
			}
			if _, err := tr.call("supervisor.getProcessInfo", "planted"); faultCode(err) != 10 {
				t.Errorf("the planted program exists after refused calls (getProcessInfo: %v)", err)
			}
			if _, err := os.Stat(filepath.Join(tr.dir, "planted-ran")); err == nil {
				t.Fatalf("the planted program ran")
			}
			if !strings.Contains(tr.output(), `"method":"supervisor.clearProcessLogs","caller":"uid 65534"`) {
				t.Errorf("the supervisor's log does not record the refused clear")
			}
		})
	}
	t.Run("python: the refusals read as Python's client prints them", func(t *testing.T) {
		out, _ := tr.ctlAs(nobodyID, py, "reread")
		if !strings.HasPrefix(out, "ERROR: CANT_REREAD: changing the configuration (reread, update) needs root: uid 65534 may only") {
			t.Errorf("reread:\n%s", out)
		}
		out, _ = tr.ctlAs(nobodyID, py, "signal", "HUP", "svc")
		if !strings.HasPrefix(out, "FAILED: signalling programs needs root") {
			t.Errorf("signal:\n%s", out)
		}
	})
	t.Run("root may apply it", func(t *testing.T) {
		out, code := tr.ctlAs(0, py, "update")
		if code != 0 || !strings.Contains(out, "planted: added process group") {
			t.Fatalf("update as root: exit %d\n%s", code, out)
		}
		tr.waitFor("the planted program to run", 10*time.Second, func() bool {
			b, err := os.ReadFile(filepath.Join(tr.dir, "planted-ran"))
			return err == nil && strings.TrimSpace(string(b)) == "0"
		})
		out, code = tr.ctlAs(0, ours, "signal", "HUP", "planted")
		if code != 0 {
			t.Fatalf("signal as root: exit %d\n%s", code, out)
		}
	})
}
