package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// tree is one `make run` (scripts/run.sh) started for a test: the real
// binaries under terok-supervisord, as root with the unprivileged daemons
// running as the e2e user.
type tree struct {
	root, dev, run, gateAddr, adminToken, webAddr string
	vaultAddr                                     string
	// ca is trusted by the tree's vault for upstreams (its test-only
	// TEROK_VAULT_TEST_CA_FILE): a fake provider on loopback uses it.
	ca     *testkit.CA
	cmd    *exec.Cmd
	out    *bytes.Buffer
	exited chan error
	// runEnv is run.sh's environment (restart starts it again with it);
	// stopped is set once stop has run.
	runEnv  []string
	stopped bool
}

const e2eUser = "tke2e"

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

func freePort(t *testing.T) int { return testkit.FreePort(t) }

func startTree(t *testing.T, extraEnv ...string) *tree {
	t.Helper()
	return startTreeOn(t, "127.0.0.1", extraEnv...)
}

// startTreeOn starts a tree whose terok-web listens on webHost (its task
// UIs too): a loopback address other than 127.0.0.1 leaves 127.0.0.1's
// ports 7860-7880 to a reverse proxy in front.
func startTreeOn(t *testing.T, webHost string, extraEnv ...string) *tree {
	t.Helper()
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "podman")
	_, err := exec.Command("id", e2eUser).Output()
	testkit.Require(t, err == nil, "user "+e2eUser+" is missing; run make deps (scripts/setup.d/60-e2e.sh)")
	root := repoRoot(t)
	for _, b := range []string{"terok-supervisord", "supervisorctl", "terok", "terok-gate", "terok-shield", "podman-service", "terok-vault", "terok-web"} {
		_, err := os.Stat(filepath.Join(root, "bin", b))
		testkit.Require(t, err == nil, "bin/"+b+" is not built; run make build first")
	}
	// The e2e user must traverse into the dev dir: not t.TempDir (0700 parents).
	dev, err := os.MkdirTemp("", "tke2e-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dev, 0o755)
	t.Cleanup(func() { os.RemoveAll(dev) })
	tokenBytes := make([]byte, 16)
	rand.Read(tokenBytes)
	tr := &tree{root: root, dev: dev, run: filepath.Join(dev, "run"),
		gateAddr:   fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		webAddr:    fmt.Sprintf("%s:%d", webHost, freePort(t)),
		vaultAddr:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		adminToken: "e2e-admin-" + hex.EncodeToString(tokenBytes),
		out:        &bytes.Buffer{}, exited: make(chan error, 1)}
	ca, err := testkit.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	tr.ca = ca
	caFile := filepath.Join(dev, "vault-test-ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "run.sh"))
	// Inherited TEROK_* settings must not leak in: the run script derives
	// every directory from TEROK_DEV_DIR.
	cmd.Env = append(withoutTerok(os.Environ()), "TEROK_DEV_DIR="+dev, "TEROK_USER="+e2eUser,
		"TEROK_GATE_LISTEN="+tr.gateAddr, "TEROK_GATE_ADMIN_TOKEN="+tr.adminToken,
		"TEROK_WEB_LISTEN="+tr.webAddr, "TEROK_VAULT_LISTEN="+tr.vaultAddr, "TEROK_VAULT_TEST_CA_FILE="+caFile)
	cmd.Env = append(cmd.Env, extraEnv...)
	tr.runEnv = cmd.Env
	cmd.Stdout, cmd.Stderr = tr.out, tr.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr.cmd = cmd
	go func() { tr.exited <- cmd.Wait() }()
	t.Cleanup(func() { tr.stop(t) })
	return tr
}

// withoutTerok drops every TEROK_* variable from env.
func withoutTerok(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "TEROK_") {
			out = append(out, kv)
		}
	}
	return out
}

// stop sends SIGTERM to the supervisor and requires a clean exit with no
// program left behind.
func (tr *tree) stop(t *testing.T) {
	if tr.stopped {
		return
	}
	tr.stopped = true
	if t.Failed() {
		tr.logTails(t)
	}
	select {
	case err := <-tr.exited:
		t.Errorf("the tree exited early: %v\n%s", err, tr.out.String())
		return
	default:
	}
	tr.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-tr.exited:
		if err != nil {
			t.Errorf("terok-supervisord exited with %v after SIGTERM\n%s", err, e2ekit.Tail(tr.out.String(), 40))
		}
	case <-time.After(60 * time.Second):
		syscall.Kill(-tr.cmd.Process.Pid, syscall.SIGKILL)
		t.Errorf("terok-supervisord did not exit within 60 s of SIGTERM")
	}
	// No daemon of this tree may survive it.
	out, _ := exec.Command("pgrep", "-f", tr.dev).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("processes survived the tree: %s", s)
		exec.Command("pkill", "-KILL", "-f", tr.dev).Run()
	}
}

// logTails logs the end of each program's log of a failed test's tree
// (CI keeps only the test's output; the tree's directory goes with it).
func (tr *tree) logTails(t *testing.T) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(tr.dev, "log", "*.log"))
	for _, f := range logs {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		t.Logf("--- the tree's %s (its end) ---\n%s", filepath.Base(f), e2ekit.Tail(string(b), 25))
	}
}

func (tr *tree) env() []string {
	return append(os.Environ(), "TEROK_RUN_DIR="+tr.run)
}

// bin runs one of our binaries against the tree and returns its output and
// exit code.
func (tr *tree) bin(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(tr.root, "bin", name), args...)
	cmd.Env = tr.env()
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out), code
}

// waitRunning waits (bounded) until supervisorctl status lists every
// program as RUNNING (its exit status is 0 for STARTING too, as Python's).
func (tr *tree) waitRunning(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var out string
	var code int
	for time.Now().Before(deadline) {
		select {
		case err := <-tr.exited:
			t.Fatalf("the tree exited: %v\n%s", err, e2ekit.Tail(tr.out.String(), 60))
		default:
		}
		out, code = tr.bin(t, "supervisorctl", "-s", "unix://"+tr.run+"/supervisor.sock", "status")
		if code == 0 && allRunning(out) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("not every program became RUNNING within 90 s:\n%s\n--- tree output ---\n%s", out, e2ekit.Tail(tr.out.String(), 80))
}

func allRunning(status string) bool {
	lines := strings.Split(strings.TrimSpace(status), "\n")
	for _, l := range lines {
		if f := strings.Fields(l); len(f) < 2 || f[1] != "RUNNING" {
			return false
		}
	}
	return len(lines) == 5
}

func TestNativeTree(t *testing.T) {
	tr := startTree(t)
	tr.waitRunning(t)
	sock := "unix://" + tr.run + "/supervisor.sock"

	t.Run("python supervisorctl", func(t *testing.T) {
		py := testkit.RequireCommand(t, "/usr/bin/supervisorctl")
		out, err := exec.Command(py, "-s", sock, "status").CombinedOutput()
		if err != nil {
			t.Fatalf("python supervisorctl status: %v\n%s", err, out)
		}
		// Each program's own line says RUNNING, not just any line.
		state := map[string]string{}
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) >= 2 {
				state[f[0]] = f[1]
			}
		}
		for _, p := range []string{"terok-shield", "podman-service", "terok-gate", "terok-vault", "terok-web"} {
			if state[p] != "RUNNING" {
				t.Fatalf("python supervisorctl: %s is %q, want RUNNING:\n%s", p, state[p], out)
			}
		}
	})

	t.Run("health", func(t *testing.T) {
		out, code := tr.bin(t, "terok", "health")
		if code != 0 {
			t.Fatalf("terok health exit %d:\n%s", code, out)
		}
	})

	t.Run("prefixed output", func(t *testing.T) {
		// Every daemon's lines reach the supervisor's stdout with its name.
		for _, p := range []string{"terok-shield | ", "terok-web | ", "terok-gate | ", "terok-vault | "} {
			if !strings.Contains(tr.out.String(), p) {
				t.Errorf("no %q line on the supervisor's stdout", p)
			}
		}
	})

	t.Run("gate", func(t *testing.T) { testGate(t, tr) })
	t.Run("vault", func(t *testing.T) { testVault(t, tr) })
	t.Run("shielded container", func(t *testing.T) { testShieldedContainer(t, tr) })
}

func testGate(t *testing.T, tr *tree) {
	if out, code := tr.bin(t, "terok-gate", "repo", "create", "demo"); code != 0 {
		t.Fatalf("repo create: %d %s", code, out)
	}
	work := t.TempDir()
	url := fmt.Sprintf("http://%s@%s/demo.git", tr.adminToken, tr.gateAddr)
	e2ekit.Git(t, work, "clone", "-q", url, "w")
	w := filepath.Join(work, "w")
	os.WriteFile(filepath.Join(w, "README"), []byte("hello\n"), 0o644)
	e2ekit.Git(t, w, "add", "README")
	e2ekit.Git(t, w, "commit", "-qm", "first")
	e2ekit.Git(t, w, "push", "-q", "origin", "HEAD")

	tok, code := tr.bin(t, "terok-gate", "token", "mint", "--project", "demo", "--task", "t1")
	if code != 0 {
		t.Fatalf("token mint: %d %s", code, tok)
	}
	tok = strings.TrimSpace(tok)
	e2ekit.Git(t, work, "clone", "-q", fmt.Sprintf("http://%s@%s/demo.git", tok, tr.gateAddr), "task")
	if b, err := os.ReadFile(filepath.Join(work, "task", "README")); err != nil || string(b) != "hello\n" {
		t.Fatalf("task clone lacks the pushed commit: %q %v", b, err)
	}
}

// busyboxTar is a root filesystem with static busybox and its applets.
func busyboxTar(t *testing.T) *bytes.Buffer {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	testkit.Require(t, err == nil, "busybox-static is not installed (/bin/busybox)")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "sys/", "dev/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))})
	tw.Write(bb)
	for _, a := range []string{"sh", "sleep", "nc", "echo", "cat"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	tw.Close()
	return &buf
}

// testShieldedContainer follows the task flow's container half through the
// tree: Podman's API (run by podman-service, hooks_dir set) creates an
// annotated container, the OCI hook asks the shield daemon to arm it, and a
// container whose shield cannot be armed never starts.
func testShieldedContainer(t *testing.T, tr *tree) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	api := podmanapi.New(filepath.Join(tr.run, "podman.sock"))
	shield := shieldapi.New(filepath.Join(tr.run, "shield.sock"))
	const img = "localhost/tke2e-busybox:latest"
	if _, err := api.ImportImage(ctx, img, busyboxTar(t)); err != nil {
		t.Fatalf("import image: %v", err)
	}
	spec := func(name string, ann map[string]string) podmanapi.CreateSpec {
		return podmanapi.CreateSpec{Name: name, Image: img, Command: []string{"sleep", "120"},
			Annotations: ann}
	}
	remove := func(id string) { api.RemoveContainer(context.Background(), id, podmanapi.RemoveOptions{Force: true}) }

	// Fail closed: an unknown profile must keep the container from starting.
	bad, err := api.CreateContainer(ctx, spec("tke2e-bad", map[string]string{
		shieldapi.AnnotationShield: "on", shieldapi.AnnotationProfiles: "no-such-profile"}))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer remove(bad.ID)
	if err := api.StartContainer(ctx, bad.ID); err == nil {
		t.Fatal("a container whose shield could not be armed started")
	}

	good, err := api.CreateContainer(ctx, spec("tke2e-good", map[string]string{
		shieldapi.AnnotationShield: "on", shieldapi.AnnotationProject: "demo",
		shieldapi.AnnotationAllow: "198.51.100.7"}))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer remove(good.ID)
	if err := api.StartContainer(ctx, good.ID); err != nil {
		t.Fatalf("start of a shielded container: %v", err)
	}
	st, err := shield.Status(ctx, good.ID)
	if err != nil {
		t.Fatalf("shield status of the started container: %v", err)
	}
	if st.Mode != shieldapi.ModeUp || st.Project != "demo" || st.Ranges4 == 0 {
		t.Fatalf("container armed wrongly: %+v", st)
	}
	rules, err := shield.Rules(ctx, good.ID)
	if err != nil || !strings.Contains(rules.Text, "198.51.100.7") {
		t.Fatalf("live rules lack the allowed address: %v %+v", err, rules)
	}
	if err := api.StopContainer(ctx, good.ID, 2); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// The daemon forgets a stopped container by itself (poststop or reaper).
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_, err := shield.Status(ctx, good.ID)
		if errors.Is(err, unixhttp.ErrNotFound) {
			return // forgotten: the daemon answered that it does not know it
		}
		if err != nil {
			t.Fatalf("shield status of the stopped container: %v (want not found from a running daemon)", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatal("the shield still lists the stopped container after 20 s")
}
