package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

const (
	testUser  = "tkshield"
	testImage = "localhost/tkshield-busybox:latest"
)

// buildBinary builds terok-shield once per test binary (testkit.Build)
// and copies it into a directory the test user can read (the hook runs
// as that user).
func buildBinary(t *testing.T) (dir, bin string) {
	t.Helper()
	built := testkit.BuildDaemon(t, ".")
	dir, err := os.MkdirTemp("", "tkshield-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "terok-shield")
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

// TestMain removes what testkit.Build compiled.
func TestMain(m *testing.M) { testkit.Main(m) }

func TestHookFailsClosedWithoutDaemon(t *testing.T) {
	testkit.RequireCommand(t, "go")
	dir, bin := buildBinary(t)
	state := `{"ociVersion":"1.0.2","id":"tksnodaemon","status":"creating","pid":1,"bundle":"/x","annotations":{"terok.shield":"on"}}`
	cmd := exec.Command(bin, "hook", "--socket", filepath.Join(dir, "absent.sock"), "createRuntime")
	cmd.Stdin = strings.NewReader(state)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("hook exited 0 with no daemon:\n%s", out)
	}
	if !strings.Contains(string(out), "is the daemon running?") {
		t.Errorf("hook error does not say why: %s", out)
	}
	cmd = exec.Command(bin, "hook", "--socket", filepath.Join(dir, "absent.sock"), "createRuntime")
	cmd.Stdin = strings.NewReader(`{"id": `)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "malformed OCI state") {
		t.Fatalf("malformed state: %v %s", err, out)
	}
}

type podmanEnv struct {
	t      *testing.T
	dir    string
	bin    string
	hooks  string
	sock   string
	uid    string
	home   string
	daemon *exec.Cmd
	gate   int             // host port standing in for the gate: a daemon endpoint
	other  int             // another host port: reachable without the shield, refused with it
	dns    *dnstest.Server // the daemon's upstream resolver (host loopback)
}

func requirePodman(t *testing.T) *podmanEnv {
	t.Helper()
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "podman")
	testkit.RequireCommand(t, "runuser")
	testkit.RequireCommand(t, "go")
	u, err := user.Lookup(testUser)
	testkit.Require(t, err == nil, "test user "+testUser+" (run scripts/setup.d/40-shield.sh)")
	e := &podmanEnv{t: t, uid: u.Uid, home: u.HomeDir}
	out, err := e.podman(context.Background(), "image", "exists", testImage)
	testkit.Require(t, err == nil, "image "+testImage+" for "+testUser+" (run scripts/setup.d/40-shield.sh): "+string(out))
	e.dir, e.bin = buildBinary(t)
	e.hooks = filepath.Join(e.dir, "hooks")
	e.sock = filepath.Join(e.dir, "shield.sock")
	if out, err := exec.Command(e.bin, "install-hooks", "--dir", e.hooks, "--socket", e.sock).CombinedOutput(); err != nil {
		t.Fatalf("install-hooks: %v %s", err, out)
	}
	// Host services the container reaches through slirp4netns at 10.0.2.2.
	e.gate = hostService(t, "hello-from-gate")
	e.other = hostService(t, "hello-from-other")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.dns = dnstest.Start(pc, 60)
	t.Cleanup(e.dns.Close)
	return e
}

func hostService(t *testing.T, greeting string) int {
	return testkit.Greeter(t, "127.0.0.1", greeting)
}

func (e *podmanEnv) podman(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"-u", testUser, "--", "env", "XDG_RUNTIME_DIR=/run/user/" + e.uid, "HOME=" + e.home, "podman"}, args...)
	cmd := exec.CommandContext(ctx, "runuser", full...)
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

func (e *podmanEnv) startDaemon() {
	e.t.Helper()
	var logs testkit.SyncBuffer
	e.daemon = exec.Command(e.bin, "--socket", e.sock, "serve", "--state", filepath.Join(e.dir, "state"),
		"--config", filepath.Join(e.dir, "config"), "--socket-group", testUser, "--socket-mode", "0660",
		"--container-dns", "10.0.2.3", "--endpoint", fmt.Sprintf("tcp:10.0.2.2:%d", e.gate), "--resolver", e.dns.Addr)
	e.daemon.Stdout, e.daemon.Stderr = &logs, &logs
	if err := e.daemon.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(e.stopDaemon)
	c := shieldapi.New(e.sock)
	for i := 0; i < 200; i++ {
		if _, err := c.List(context.Background()); err == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.t.Fatalf("daemon did not come up:\n%s", logs.String())
}

func (e *podmanEnv) stopDaemon() {
	if e.daemon == nil {
		return
	}
	_ = e.daemon.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = e.daemon.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = e.daemon.Process.Kill()
		<-done
	}
	e.daemon = nil
}

// run starts an annotated container that probes the host service and a
// denied address, and returns podman's combined output.
func (e *podmanEnv) run(name string, annotations ...string) ([]byte, error) {
	script := fmt.Sprintf(`echo "gate:$(nc -w 3 10.0.2.2 %d </dev/null)"; o=$(nc -w 3 10.0.2.2 %d </dev/null); echo "other-rc:$?"; echo "other:$o"`, e.gate, e.other)
	return e.runScript(name, script, nil, annotations...)
}

// runScript runs script in an annotated container with extra podman run
// arguments.
func (e *podmanEnv) runScript(name, script string, extra []string, annotations ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--runtime", "runc", "--hooks-dir", e.hooks, "run", "--rm", "--name", name, "--ulimit", "host",
		"--network", "slirp4netns:allow_host_loopback=true"}
	args = append(args, extra...)
	for _, a := range annotations {
		args = append(args, "--annotation", a)
	}
	args = append(args, testImage, "sh", "-c", script)
	return e.podman(ctx, args...)
}

func TestPodmanRootlessHook(t *testing.T) {
	e := requirePodman(t)
	suffix := fmt.Sprint(time.Now().UnixNano() % 1e9)

	t.Run("container does not start when the hook fails", func(t *testing.T) {
		out, err := e.run("tkshield-down-"+suffix, "terok.shield=on")
		if err == nil {
			t.Fatalf("annotated container started with the daemon down:\n%s", out)
		}
		if strings.Contains(string(out), "gate:") {
			t.Fatalf("the container's command ran:\n%s", out)
		}
		if !strings.Contains(string(out), "hook") {
			t.Errorf("podman's error does not name the hook:\n%s", out)
		}
	})

	e.startDaemon()

	t.Run("bad annotation fails the start", func(t *testing.T) {
		out, err := e.run("tkshield-bad-"+suffix, "terok.shield=on", "terok.shield.profiles=no-such-profile")
		if err == nil || !strings.Contains(string(out), "unknown profile") {
			t.Fatalf("want a failed start naming the profile: %v\n%s", err, out)
		}
	})

	t.Run("armed container reaches only its allowlist", func(t *testing.T) {
		start := time.Now()
		out, err := e.run("tkshield-up-"+suffix, "terok.shield=on", "terok.project=demo", "terok.shield.allow=203.0.113.50")
		if err != nil {
			t.Fatalf("podman run: %v\n%s", err, out)
		}
		s := string(out)
		if !strings.Contains(s, "gate:hello-from-gate") {
			t.Errorf("the gate endpoint is unreachable:\n%s", s)
		}
		if strings.Contains(s, "hello-from-other") || !strings.Contains(s, "Connection refused") || !strings.Contains(s, "other-rc:1") {
			t.Errorf("the other host port was not refused:\n%s", s)
		}
		if strings.Contains(s, "timed out") {
			t.Errorf("denied address timed out instead of being refused:\n%s", s)
		}
		t.Logf("podman run with the shield took %v", time.Since(start))
		// The audit log names the refused destination.
		c := shieldapi.New(e.sock)
		var found bool
		for i := 0; i < 40 && !found; i++ {
			ids, _ := filepath.Glob(filepath.Join(e.dir, "state", "audit", "*.jsonl"))
			for _, f := range ids {
				id := strings.TrimSuffix(filepath.Base(f), ".jsonl")
				_ = c.Audit(context.Background(), id, false, func(ev shieldapi.Event) error {
					found = found || (ev.Kind == shieldapi.EventBlocked && ev.Dest == "10.0.2.2" && int(ev.Port) == e.other)
					return nil
				})
			}
			if !found {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if !found {
			t.Errorf("no blocked record for 10.0.2.2:%d in the audit logs", e.other)
		}
	})

	t.Run("the task resolver answers only allowed names", func(t *testing.T) {
		e.dns.Set("svc.example.test", "203.0.113.77")
		e.dns.Set("leak-4242.attacker.test", "203.0.113.78")
		script := `cat /etc/resolv.conf; echo "== allowed"; nslookup svc.example.test; echo "== unlisted"; nslookup leak-4242.attacker.test; ` +
			`echo "== direct"; nslookup leak-4242.attacker.test 10.0.2.3; echo "== done"`
		out, err := e.runScript("tkshield-dns-"+suffix, script, []string{"--dns", shieldapi.ResolverAddr},
			"terok.shield=on", "terok.shield.allow=svc.example.test")
		s := string(out)
		if err != nil || !strings.Contains(s, "== done") {
			t.Fatalf("podman run: %v\n%s", err, s)
		}
		t.Logf("container output:\n%s", s)
		if !strings.Contains(s, "nameserver "+shieldapi.ResolverAddr) || strings.Count(s, "nameserver") != 1 {
			t.Errorf("the container's resolv.conf is not the task resolver alone:\n%s", s)
		}
		section := func(name string) string {
			_, rest, _ := strings.Cut(s, "== "+name)
			part, _, _ := strings.Cut(rest, "== ")
			return part
		}
		if !strings.Contains(section("allowed"), "203.0.113.77") {
			t.Errorf("the allowed name did not resolve in the container:\n%s", s)
		}
		if strings.Contains(section("unlisted"), "203.0.113.78") || strings.Contains(section("direct"), "203.0.113.78") {
			t.Errorf("the unlisted name resolved:\n%s", s)
		}
		if e.dns.Asked("leak-4242.attacker.test") {
			t.Errorf("the unlisted name reached the upstream: %v", e.dns.Queries())
		}
		if !e.dns.Asked("svc.example.test") {
			t.Errorf("the allowed name never reached the upstream: %v", e.dns.Queries())
		}
		// The audit of that container has the answered and the refused lookup.
		var answered, refusedName bool
		files, _ := filepath.Glob(filepath.Join(e.dir, "state", "audit", "*.jsonl"))
		c := shieldapi.New(e.sock)
		for _, f := range files {
			id := strings.TrimSuffix(filepath.Base(f), ".jsonl")
			if err := c.Audit(context.Background(), id, false, func(ev shieldapi.Event) error {
				answered = answered || (ev.Kind == shieldapi.EventLookup && ev.Target == "svc.example.test" && strings.Contains(ev.Detail, "203.0.113.77"))
				refusedName = refusedName || (ev.Kind == shieldapi.EventRefused && ev.Target == "leak-4242.attacker.test")
				return nil
			}); err != nil {
				t.Fatalf("audit %s: %v", id, err)
			}
		}
		if !answered || !refusedName {
			t.Errorf("audit: answered lookup %v, refused lookup %v", answered, refusedName)
		}
	})

	t.Run("the deny annotation reaches the daemon", func(t *testing.T) {
		e.dns.Set("api.denied-provider.test", "203.0.113.79")
		script := `echo "== denied"; nslookup api.denied-provider.test; echo "== done"`
		out, err := e.runScript("tkshield-deny-"+suffix, script, []string{"--dns", shieldapi.ResolverAddr},
			"terok.shield=on", "terok.shield.allow=api.denied-provider.test", "terok.shield.deny=api.denied-provider.test")
		s := string(out)
		if err != nil || !strings.Contains(s, "== done") {
			t.Fatalf("podman run: %v\n%s", err, s)
		}
		if strings.Contains(s, "203.0.113.79") {
			t.Errorf("a name on the task's deny list resolved:\n%s", s)
		}
		var denied bool
		files, _ := filepath.Glob(filepath.Join(e.dir, "state", "audit", "*.jsonl"))
		c := shieldapi.New(e.sock)
		for _, f := range files {
			id := strings.TrimSuffix(filepath.Base(f), ".jsonl")
			_ = c.Audit(context.Background(), id, false, func(ev shieldapi.Event) error {
				denied = denied || (ev.Kind == shieldapi.EventRefused && ev.Target == "api.denied-provider.test" && strings.Contains(ev.Detail, "denied by policy"))
				return nil
			})
		}
		if !denied {
			t.Errorf("no lookup of api.denied-provider.test refused as denied by policy in the audit")
		}
		// A deny list that does not parse fails the start, with or
		// without the shield.
		for _, on := range []string{"on", "open"} {
			out, err := e.run("tkshield-baddeny-"+on+"-"+suffix, "terok.shield="+on, "terok.shield.deny=https://api.denied-provider.test")
			if err == nil || !strings.Contains(string(out), "terok.shield.deny") {
				t.Errorf("terok.shield=%s with a bad deny list: want a failed start naming the annotation: %v\n%s", on, err, out)
			}
		}
	})

	t.Run("a plain container is left alone", func(t *testing.T) {
		// Also the control: without the shield both host ports answer.
		out, err := e.run("tkshield-plain-"+suffix, "terok.other=1")
		if err != nil || !strings.Contains(string(out), "gate:hello-from-gate") || !strings.Contains(string(out), "other:hello-from-other") {
			t.Fatalf("plain container: %v\n%s", err, out)
		}
	})
}
