package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// rootProcs lists the command lines of the container's long-lived
// processes that run as uid 0, sorted. Left out: this ps, the image's
// HEALTHCHECK (Docker runs it as root every few seconds), and exited
// processes not yet waited for.
func (c *container) rootProcs(t *testing.T) []string {
	t.Helper()
	out := c.mustExec(t, "", "ps", "-eo", "uid=,args=")
	var procs []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "0" || f[1] == "ps" {
			continue
		}
		args := strings.Join(f[1:], " ")
		if strings.Contains(args, "healthcheck") || strings.HasPrefix(args, "supervisorctl status") ||
			strings.HasPrefix(args, "terok health") || strings.HasPrefix(args, "awk ") {
			continue
		}
		if strings.HasSuffix(args, "<defunct>") || args == "[terok]" {
			// An exited process its parent has not waited for yet (the
			// health check's terok between its exit and the shell's
			// wait), or that terok while it exits (its command line
			// already gone, ps shows the name in brackets): it runs
			// nothing.
			continue
		}
		procs = append(procs, args)
	}
	sort.Strings(procs)
	return procs
}

// TestHostilePodmanUser takes the place of an agent that escaped its task
// to the user podman (position (c) of docs/security.md) and tries to
// become root the ways the image used to allow: replacing the override
// file root reads, asking the supervisor to reread, add or remove
// programs, planting files where root daemons read. Every one is refused
// and no new process runs as root; what podman is meant to do (status,
// restart, tail) keeps working. It also checks the volume layout root's
// daemons rely on, and that a start refuses a system/ directory podman
// made.
func TestHostilePodmanUser(t *testing.T) {
	buildImage(t)
	vols := newVolumes(t)
	// An old volume: the shield's state where images before the system/
	// layout kept it, as the user podman's.
	old := filepath.Join(vols.dir, "share", "shield")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(old, "e2e-marker"), []byte("from the old place\n"), 0o644)
	for _, p := range []string{filepath.Join(vols.dir, "share"), old, filepath.Join(old, "e2e-marker")} {
		os.Chown(p, 1000, 1000)
	}
	gatePort, webPort := freePort(t), freePort(t)
	opts := append(vols.opts(), "--network", "host",
		"-e", fmt.Sprintf("TEROK_GATE_BIND=127.0.0.1:%d", gatePort),
		"-e", fmt.Sprintf("TEROK_WEB_LISTEN=127.0.0.1:%d", webPort))
	c := startContainer(t, opts)
	c.waitHealthy(t)
	c.waitPrograms(t, map[string]string{"terok-shield": "RUNNING", "terok-gate": "RUNNING", "terok-web": "RUNNING"})

	const (
		cfg   = "/home/podman/.config/terok"
		state = "/home/podman/.local/share/terok"
	)
	t.Run("layout", func(t *testing.T) {
		want := map[string]string{
			"/run/terok":                        "root:podman 1775",
			"/run/terok/supervisor-env.conf":    "root:root 644",
			"/run/terok/supervisor.sock":        "root:podman 770",
			"/var/log/terok":                    "root:root 700",
			"/var/log/terok/terok-gate.log":     "root:root 600",
			cfg:                                 "podman:podman 755",
			cfg + "/system":                     "root:root 755",
			cfg + "/system/shield":              "root:root 700",
			state + "/system":                   "root:root 755",
			state + "/system/shield":            "root:root 700",
			state + "/system/shield/e2e-marker": "root:root 644",
		}
		for p, w := range want {
			out, errs, code := c.exec(t, "", "stat", "-c", "%U:%G %a", p)
			if got := strings.TrimSpace(out); code != 0 || got != w {
				t.Errorf("%s: %q (exit %d %s), want %q", p, got, code, errs, w)
			}
		}
		if _, _, code := c.exec(t, "", "test", "-e", state+"/shield"); code == 0 {
			t.Errorf("the old shield directory %s/shield is still there", state)
		}
		if l := c.logs(t); !strings.Contains(l, "moved "+state+"/shield to "+state+"/system/shield") {
			t.Errorf("the move of the old shield directory is not in docker logs:\n%s", grepLines(l, "terok-entrypoint"))
		}
	})

	before := c.rootProcs(t)
	t.Run("replace or plant what root reads", func(t *testing.T) {
		// (double quotes inside: the shell commands below single-quote it)
		planted := `[program:evil]\ncommand = /bin/sh -c "id -u > /tmp/evil-ran; exec sleep 1000"\n`
		for _, sh := range []string{
			// the reproduction of issue 15: replace the override file
			"printf '" + planted + "' > /run/terok/supervisor-env.conf",
			"printf '" + planted + "' > /tmp/x.conf && mv -f /tmp/x.conf /run/terok/supervisor-env.conf",
			"rm -f /run/terok/supervisor-env.conf",
			"ln -sf /tmp/x.conf /run/terok/supervisor-env.conf",
			"printf '" + planted + "' > /etc/terok/supervisor.d/99-evil.conf",
			"rm -f /run/terok/supervisor.sock /run/terok/shield.sock",
			"touch " + cfg + "/system/evil",
			"touch " + cfg + "/system/shield/config.json",
			"touch " + state + "/system/shield/containers/evil.json",
			"mkdir " + state + "/system/vault",
			"ln -s /etc/shadow /var/log/terok/evil.log",
			"chmod 0777 /run/terok",
		} {
			out, errs, code := c.exec(t, "podman", "sh", "-c", sh)
			if code == 0 {
				t.Errorf("as podman, %q succeeded:\n%s%s", sh, out, errs)
			}
		}
		if out := c.mustExec(t, "", "cat", "/run/terok/supervisor-env.conf"); strings.Contains(out, "evil") {
			t.Fatalf("supervisor-env.conf was replaced:\n%s", out)
		}
	})
	t.Run("change the supervisor's configuration", func(t *testing.T) {
		for _, args := range [][]string{{"reread"}, {"update"}, {"add", "evil"}, {"remove", "terok-shield"},
			{"signal", "KILL", "terok-shield"}, {"clear", "terok-gate"}, {"reload"}, {"shutdown"}} {
			out, errs, code := c.exec(t, "podman", append([]string{"supervisorctl"}, args...)...)
			if code == 0 {
				t.Errorf("as podman, supervisorctl %v: exit 0\n%s%s", args, out, errs)
			}
			if args[0] != "clear" && !strings.Contains(out+errs, "needs root") {
				t.Errorf("supervisorctl %v: the refusal does not say root is needed:\n%s%s", args, out, errs)
			}
		}
		if !c.running(t) {
			t.Fatal("the container stopped")
		}
		if _, _, code := c.exec(t, "", "test", "-e", "/tmp/evil-ran"); code == 0 {
			t.Fatal("the planted program ran")
		}
		if after := c.rootProcs(t); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Fatalf("processes running as root changed:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
		}
	})
	t.Run("what podman may do", func(t *testing.T) {
		c.mustExec(t, "podman", "supervisorctl", "status")
		if out := c.mustExec(t, "podman", "supervisorctl", "restart", "terok-gate"); !strings.Contains(out, "terok-gate: started") {
			t.Errorf("restart terok-gate as podman:\n%s", out)
		}
		c.waitPrograms(t, map[string]string{"terok-gate": "RUNNING"})
		if out := c.mustExec(t, "podman", "supervisorctl", "tail", "terok-gate"); !strings.Contains(out, "terok-gate serving") {
			t.Errorf("tail terok-gate as podman lacks the start line:\n%s", out)
		}
		// root keeps every right
		if out := c.mustExec(t, "", "supervisorctl", "reread"); !strings.Contains(out, "No config updates") {
			t.Errorf("reread as root:\n%s", out)
		}
	})
	t.Run("a system/ made by podman stops the next start", func(t *testing.T) {
		c.mustExec(t, "podman", "sh", "-c", "mv "+cfg+"/system "+cfg+"/system.moved && mkdir -p "+cfg+"/system/shield && echo '{}' > "+cfg+"/system/shield/config.json")
		if code := c.stop(t); code != 0 {
			t.Fatalf("docker stop: exit %d", code)
		}
		mustDocker(t, "start", c.name)
		code := strings.TrimSpace(mustDocker(t, "wait", c.name))
		logs := c.logs(t)
		if code == "0" || !strings.Contains(logs, cfg+"/system belongs to uid 1000, not root") {
			t.Fatalf("start with podman's system/: exit %s; want a refusal naming it\n%s", code, e2ekit.Tail(logs, 20))
		}
	})
}
