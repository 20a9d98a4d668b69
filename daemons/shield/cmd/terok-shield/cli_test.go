package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// TestCLI drives the real binary against the real daemon (a subprocess)
// arming a real namespace.
func TestCLI(t *testing.T) {
	nstest.Require(t)
	tp := nstest.New(t, "203.0.113.21", "203.0.113.22")
	tp.Listen(tp.Inet, "203.0.113.21:80")
	tp.Listen(tp.Inet, "203.0.113.22:80")
	dir, bin := buildBinary(t)
	sock := filepath.Join(dir, "shield.sock")
	d := exec.Command(bin, "--socket", sock, "serve", "--state", filepath.Join(dir, "state"), "--config", filepath.Join(dir, "config"),
		"--resolver", "127.0.0.1:9", "--endpoint", "tcp:198.51.100.1:9418")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Process.Signal(os.Interrupt); _ = d.Wait() })
	c := shieldapi.NewClient(sock)
	ctx := context.Background()
	for i := 0; ; i++ {
		if _, err := c.List(ctx); err == nil {
			break
		}
		if i > 200 {
			t.Fatal("daemon did not come up")
		}
		time.Sleep(25 * time.Millisecond)
	}
	id := "tkscli0123456789"
	if _, err := c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Project: "demo", Allow: []string{"203.0.113.21"}}); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"--socket", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	must := func(want string, args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("terok-shield %s: %v\n%s\n(want %q)", strings.Join(args, " "), err, out, want)
		}
		return out
	}
	must("tkscli012345", "status")
	must("mode      UP", "status", "tkscli")
	out := must(`"mode": "up"`, "status", "--json", id)
	var st shieldapi.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Project != "demo" {
		t.Fatalf("status --json: %v %+v", err, st)
	}
	if r := tp.Dial("203.0.113.22:80", 2*time.Second); r.Err == nil {
		t.Fatal("203.0.113.22 reachable before allow")
	}
	must("allowed   203.0.113.22", "allow", id, "203.0.113.22")
	if r := tp.Dial("203.0.113.22:80", 2*time.Second); r.Err != nil {
		t.Fatalf("after allow: %v", r.Err)
	}
	must("until", "allow", "--for", "10m", id, "198.51.100.0/24")
	must("denied    203.0.113.21", "deny", id, "203.0.113.21")
	if r := tp.Dial("203.0.113.21:80", 2*time.Second); r.Err == nil {
		t.Fatal("203.0.113.21 reachable after deny")
	}
	must("ip daddr @deny4 jump refuse", "rules", id)
	must("deny  203.0.113.21", "audit", id)
	must("dev-standard", "profiles")
	must("WARNING   shield is DOWN", "mode", id, "down")
	must("blocked 1 container(s)", "panic")

	// Bad input: non-zero exit and a message naming the problem.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"allow", id, "not a host"}, "invalid target"},
		{[]string{"allow", id}, "usage: terok-shield allow CONTAINER TARGET"},
		{[]string{"deny", "nosuch", "203.0.113.1"}, "unknown container"},
		{[]string{"mode", id, "sideways"}, "want up, down or block"},
		{[]string{"--socket", filepath.Join(dir, "none.sock"), "status"}, "is the daemon running?"},
	} {
		out, err := cli(c.args...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("terok-shield %s: %v\n%s\n(want failure with %q)", strings.Join(c.args, " "), err, out, c.want)
		}
	}
}
