package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// taskHardening are the container settings terok-web gives every task
// (daemons/web/internal/runner: TaskCapabilities, UnprivilegedPortStart),
// as podman run flags.
var taskHardening = []string{"--cap-drop", "ALL", "--cap-add", "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,SETGID,SETUID",
	"--sysctl", "net.ipv4.ip_unprivileged_port_start=1024"}

// TestHostileUnshieldedTaskPodman: a real rootless container whose project
// runs without the shield (terok.shield=open), with slirp4netns'
// allow_host_loopback as terok-web gives it, reaches the gate's port on
// the host's loopback and an address outside the machine, and nothing
// else of the host's loopback. Without the daemon it does not start.
func TestHostileUnshieldedTaskPodman(t *testing.T) {
	e := requirePodman(t)
	out := testkit.OutsideHost(t, "hello-from-outside")
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)
	script := fmt.Sprintf(`echo "gate:$(nc -w 3 10.0.2.2 %d </dev/null)"; o=$(nc -w 3 10.0.2.2 %d </dev/null); echo "other-rc:$?"; echo "other:$o"; `+
		`echo "outside:$(nc -w 3 %s %s </dev/null)"`, e.gate, e.other, strings.Split(out, ":")[0], strings.Split(out, ":")[1])

	t.Run("no daemon, no start", func(t *testing.T) {
		o, err := e.runScript("tkshield-opendown-"+suffix, script, taskHardening, "terok.shield=open")
		if err == nil || strings.Contains(string(o), "gate:") {
			t.Fatalf("a task without the shield started with the daemon down:\n%s", o)
		}
	})
	e.startDaemon()
	o, err := e.runScript("tkshield-open-"+suffix, script, taskHardening, "terok.shield=open", "terok.project=loose")
	s := string(o)
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, s)
	}
	t.Logf("container output:\n%s", s)
	if !strings.Contains(s, "gate:hello-from-gate") {
		t.Errorf("the gate (an endpoint) is unreachable:\n%s", s)
	}
	if !strings.Contains(s, "outside:hello-from-outside") {
		t.Errorf("the outside address is unreachable:\n%s", s)
	}
	if strings.Contains(s, "hello-from-other") || !strings.Contains(s, "other-rc:1") {
		t.Errorf("another listener on the host's loopback answered:\n%s", s)
	}
}

// TestHostileTaskAcrossShieldRestart: a real rootless task container with
// terok-web's hardening, shielded, while the shield daemon is stopped,
// tries to take its resolver's address (127.0.0.53:53) and cannot. The
// daemon comes back, re-opens the resolver in the task's namespace (as
// root, unaffected by the task's port limit) and the task resolves again.
func TestHostileTaskAcrossShieldRestart(t *testing.T) {
	e := requirePodman(t)
	probe := testkit.Build(t, "github.com/terok-ai/terok-in-docker/daemons/kit/testkit/bindprobe")
	b, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	probeDir := filepath.Join(e.dir, "probe")
	if err := os.MkdirAll(probeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(probeDir, "bindprobe"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	e.dns.Set("svc.example.test", "203.0.113.77")
	e.startDaemon()
	name := "tkshield-restart-" + fmt.Sprint(time.Now().UnixNano()%1e9)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"--runtime", "runc", "--hooks-dir", e.hooks, "run", "-d", "--name", name, "--ulimit", "host",
		"--network", "slirp4netns:allow_host_loopback=true", "--dns", shieldapi.ResolverAddr, "-v", probeDir + ":/probe:ro"}
	args = append(append(args, taskHardening...), "--annotation", "terok.shield=on", "--annotation", "terok.shield.allow=svc.example.test",
		testImage, "sleep", "170")
	o, err := e.podman(ctx, args...)
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, o)
	}
	id := strings.TrimSpace(string(o))
	t.Cleanup(func() { _, _ = e.podman(context.Background(), "rm", "-f", "-t", "0", name) })
	exec := func(cmd ...string) string {
		o, err := e.podman(ctx, append([]string{"exec", name}, cmd...)...)
		if err != nil {
			t.Fatalf("podman exec %v: %v\n%s", cmd, err, o)
		}
		return string(o)
	}
	if s := exec("busybox", "nslookup", "svc.example.test"); !strings.Contains(s, "203.0.113.77") {
		t.Fatalf("lookup before the restart:\n%s", s)
	}

	e.stopDaemon()
	s := exec("/probe/bindprobe", "udp:127.0.0.53:53", "tcp:127.0.0.53:53", "udp:0.0.0.0:53")
	t.Logf("the task's attempt while the shield is down:\n%s", s)
	for _, a := range []string{"udp 127.0.0.53:53", "tcp 127.0.0.53:53", "udp 0.0.0.0:53"} {
		if !strings.Contains(s, a+" refused: ") {
			t.Errorf("the task bound %s while the shield was down", a)
		}
	}

	e.startDaemon()
	st, err := shieldapi.New(e.sock).Status(ctx, id)
	if err != nil {
		t.Fatalf("status after the restart: %v", err)
	}
	if st.Mode != shieldapi.ModeUp || st.Reason != "" || st.Resolver != shieldapi.ResolverAddr {
		t.Fatalf("after the restart: %+v", st)
	}
	if s := exec("busybox", "nslookup", "svc.example.test"); !strings.Contains(s, "203.0.113.77") {
		t.Fatalf("lookup after the restart:\n%s", s)
	}
}
