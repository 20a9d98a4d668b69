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

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
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
	// The operator's deny list for every task, in root's config.json.
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config", "config.json"), []byte(`{"deny_names":["api.other-provider.test"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := exec.Command(bin, "--socket", sock, "serve", "--state", filepath.Join(dir, "state"), "--config", filepath.Join(dir, "config"),
		"--resolver", "127.0.0.1:9", "--endpoint", "tcp:198.51.100.1:9418")
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Process.Signal(os.Interrupt); _ = d.Wait() })
	c := shieldapi.New(sock)
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
	if _, err := c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Project: "demo", Allow: []string{"203.0.113.21"},
		Deny: []string{"API.Example-Provider.test", "203.0.113.23"}}); err != nil {
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
	must("deny list api.example-provider.test,203.0.113.23 (this task's", "status", id)
	must("deny all  api.other-provider.test (deny_names in config.json", "status", id)
	out := must(`"mode": "up"`, "status", "--json", id)
	var st shieldapi.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Project != "demo" ||
		strings.Join(st.DenyList, " ") != "api.example-provider.test 203.0.113.23" || strings.Join(st.DenyGlobal, " ") != "api.other-provider.test" {
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

	// Defect 7: an empty list (here: no profiles) says so, no row without a value.
	out = must("profiles  (none)", "status", id)
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "static" || strings.TrimSpace(l) == "profiles" {
			t.Errorf("status prints a row with no value: %q\n%s", l, out)
		}
	}

	// Flags go after the command too (kit/cli house rules).
	if out, code := run(bin, "status", "--socket", sock, "--json"); code != 0 || !strings.Contains(out, id) {
		t.Errorf("status --socket after the command: exit %d\n%s", code, out)
	}
	if out, code := run(bin, "deny", id, "203.0.113.22", "--socket", sock); code != 0 || !strings.Contains(out, "denied    203.0.113.22") {
		t.Errorf("flag after the positional arguments: exit %d\n%s", code, out)
	}

	// Bad input: the documented exit code and a message naming the problem.
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"allow", id, "not a host"}, "invalid target", 1},
		{[]string{"allow", id, "api.example-provider.test"}, "denied by policy", 1},
		{[]string{"allow", id, "api.other-provider.test"}, "deny list withholds it (api.other-provider.test", 1},
		{[]string{"allow", id, "203.0.113.23"}, "deny list withholds it (203.0.113.23", 1},
		{[]string{"allow", id}, "missing argument: needs CONTAINER TARGET; see 'terok-shield allow --help'", 2},
		{[]string{"status", id, "extra"}, `unexpected argument "extra"`, 2},
		{[]string{"panic", "now"}, `unexpected argument "now" (this command takes none)`, 2},
		{[]string{"bogus"}, `unknown command "bogus" (commands: allow, audit, deny, hook, install-hooks, mode, panic, profiles, rules, serve, status)`, 2},
		{[]string{"status", "--nope"}, "flag provided but not defined: -nope", 2},
		{[]string{"deny", "nosuch", "203.0.113.1"}, "unknown container", 4},
		{[]string{"allow", "nosuch", "example.org"}, "unknown container", 4},
		{[]string{"mode", id, "sideways"}, "want up, down, block or open", 1},
		{[]string{"--socket", filepath.Join(dir, "none.sock"), "status"}, "is the daemon running?", 3},
		{[]string{"status", "--socket", filepath.Join(dir, "none.sock")}, "is the daemon running?", 3},
	} {
		args := c.args
		if !strings.Contains(strings.Join(args, " "), "--socket") {
			args = append([]string{"--socket", sock}, args...)
		}
		out, code := run(bin, args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("terok-shield %s: exit %d (want %d)\n%s\n(want %q)", strings.Join(args, " "), code, c.code, out, c.want)
		}
	}
}

// run runs the binary and returns its combined output and exit code.
func run(bin string, args ...string) (string, int) {
	stdout, stderr, code := testkit.Run(exec.Command(bin, args...))
	return stdout + stderr, code
}

// TestServeFlags: the daemon's flags after "serve" (the socket included),
// and --help shows the documented defaults (defect 6: --log-group 7318).
func TestServeFlags(t *testing.T) {
	nstest.Require(t)
	dir, bin := buildBinary(t)
	out, code := run(bin, "serve", "--help")
	if code != 0 || !strings.Contains(out, "--log-group value") || !strings.Contains(out, "(default: 7318)") {
		t.Errorf("serve --help: exit %d, want the log group default 7318:\n%s", code, out)
	}
	sock := filepath.Join(dir, "after.sock")
	d := exec.Command(bin, "serve", "--socket", sock, "--state", filepath.Join(dir, "state"), "--config", filepath.Join(dir, "config"),
		"--resolver", "127.0.0.1:9")
	var logs testkit.SyncBuffer
	d.Stdout, d.Stderr = &logs, &logs
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Process.Signal(os.Interrupt); _ = d.Wait() })
	c := shieldapi.New(sock)
	for i := 0; ; i++ {
		h, err := c.Health(context.Background())
		if err == nil {
			if h.Name != "terok-shield" || h.Status != "ok" {
				t.Fatalf("health: %+v", h)
			}
			break
		}
		if i > 400 {
			t.Fatalf("daemon with --socket after serve did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	// An unknown route answers JSON like every other error.
	resp, err := unixhttp.NewClient(sock).HTTP().Get("http://unix/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body unixhttp.ErrorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 404 || body.Error == "" {
		t.Fatalf("unknown route: status %d, body %+v, %v", resp.StatusCode, body, err)
	}
}
