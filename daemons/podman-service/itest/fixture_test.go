package itest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/serviceapi"
)

const testUser = "tkpodman"

// binary builds podman-service once (kit/testkit) and opens its directory
// to tkpodman.
func binary(t *testing.T) string {
	t.Helper()
	p := testkit.Build(t, "../cmd/podman-service")
	if err := os.Chmod(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// tier is a Podman to test against: Debian 12's on the host, or Debian
// 13's inside the cached trixie root filesystem (scripts/base-rootfs.sh),
// entered with a private mount namespace and pivot_root (a chroot would
// forbid the user namespaces rootless Podman needs).
type tier struct {
	name    string
	major   string // expected Podman major version prefix
	network string // the rootless network mode to ask for
	sandbox bool
}

// RootfsTrixie is where scripts/base-rootfs.sh caches Debian 13.
const RootfsTrixie = "/var/cache/terok/rootfs-trixie"

var tiers = []tier{
	{name: "podman4-host", major: "4.", network: "slirp4netns"},
	{name: "podman5-trixie", major: "5.", network: "pasta", sandbox: true},
}

// env is one isolated tkpodman environment: its own HOME (so containers.conf,
// storage.conf and image storage are made fresh), runtime dir and hooks dir.
type env struct {
	t        *testing.T
	tier     tier
	user     string
	uid, gid int
	base     string
	home     string
	runtime  string
	runDir   string
	hooks    string
}

func newEnv(t *testing.T, tr tier) *env {
	t.Helper()
	return newEnvAs(t, tr, testUser)
}

// newEnvAs is newEnv for another test user: tests that break the user's
// rootless Podman on purpose (its pause process) use one of their own, so
// that the tests sharing tkpodman in parallel are not touched.
func newEnvAs(t *testing.T, tr tier, testUser string) *env {
	t.Helper()
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "podman")
	if tr.sandbox {
		_, err := os.Stat(filepath.Join(RootfsTrixie, ".terok-rootfs-complete"))
		testkit.Require(t, err == nil, "no Debian 13 rootfs at "+RootfsTrixie+"; run scripts/base-rootfs.sh as root (make deps does)")
		testkit.RequireCommand(t, "unshare")
	}
	u, err := user.Lookup(testUser)
	testkit.Require(t, err == nil, "test user "+testUser+" is missing; run scripts/setup.d/20-podman.sh as root (make deps)")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	base, err := os.MkdirTemp("", testUser+"-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	e := &env{t: t, tier: tr, user: testUser, uid: uid, gid: gid, base: base,
		home: filepath.Join(base, "home"), runtime: filepath.Join(base, "run"), hooks: filepath.Join(base, "hooks")}
	e.runDir = filepath.Join(e.runtime, "terok")
	for _, d := range []string{e.home, e.runtime, e.hooks} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, uid, gid)
	}
	os.Chmod(e.hooks, 0o755)
	t.Cleanup(e.cleanup)
	return e
}

func (e *env) environ() []string {
	return []string{
		"HOME=" + e.home, "USER=" + e.user, "LOGNAME=" + e.user,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"XDG_RUNTIME_DIR=" + e.runtime, "TEROK_RUN_DIR=" + e.runDir,
		"TEROK_LOG_LEVEL=debug",
	}
}

// command runs name as the environment's test user.
func (e *env) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(e.uid), Gid: uint32(e.gid), Groups: []uint32{}}}
	return cmd
}

func (e *env) cleanup() {
	// Rootless Podman leaves a pause process per runtime dir; it is ours.
	if b, err := os.ReadFile(filepath.Join(e.runtime, "libpod", "tmp", "pause.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Root removes the image layers owned by sub-ids too.
	os.RemoveAll(e.base)
}

// serveCommand runs podman-service with args as the test user, in the tier's
// Podman.
func (e *env) serveCommand(args ...string) *exec.Cmd {
	bin := binary(e.t)
	if !e.tier.sandbox {
		return e.command(bin, args...)
	}
	sb := testkit.Sandbox{Rootfs: RootfsTrixie, Base: e.base, BinDir: filepath.Dir(bin), User: e.user, UID: e.uid, GID: e.gid}
	return sb.Command(append(e.environ(), "PODMAN_IGNORE_CGROUPSV1_WARNING=1"), append([]string{bin}, args...)...)
}

// service is one running `podman-service serve`.
type service struct {
	cmd    *exec.Cmd
	log    *testkit.SyncBuffer
	done   chan error
	api    *podmanapi.Client
	status *serviceapi.Client
}

func (s *service) logs() string { return s.log.String() }

// start runs serve as the test user and waits until its health says Podman's
// API answers.
func (e *env) start(extra ...string) *service {
	e.t.Helper()
	args := append([]string{"serve", "--hooks-dir", e.hooks}, extra...)
	cmd := e.serveCommand(args...)
	s := &service{cmd: cmd, log: &testkit.SyncBuffer{}, done: make(chan error, 1),
		api:    podmanapi.New(filepath.Join(e.runDir, "podman.sock")),
		status: serviceapi.New(filepath.Join(e.runDir, "podman-service.sock"))}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	e.t.Cleanup(func() { s.stop(e.t) })
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		h, err := s.status.Health(ctx)
		cancel()
		if err == nil && h.Details["api_answers"] == true {
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			e.t.Fatalf("podman-service exited early: %v\n%s", err, s.logs())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			diag := e.diagnoseHung()
			e.t.Fatalf("podman-service not healthy within 90s: %v\n%s\n%s", err, s.logs(), diag)
		}
	}
}

// diagnoseHung tells where a Podman that stopped answering waits: the
// test user's processes with their kernel wait channel, and the Go stacks
// of this environment's podman processes (SIGQUIT makes Go print them to
// stderr, which podman-service logs).
func (e *env) diagnoseHung() string {
	ps, _ := exec.Command("ps", "-u", e.user, "-o", "pid,stat,wchan:28,etime,args", "--cols", "260").CombinedOutput()
	out, _ := exec.Command("pgrep", "-f", "unix://"+filepath.Join(e.runDir, "podman.sock")).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stack", pid)); err == nil {
				ps = append(ps, fmt.Sprintf("--- kernel stack of %d ---\n%s", pid, b)...)
			}
			_ = syscall.Kill(pid, syscall.SIGQUIT)
		}
	}
	time.Sleep(2 * time.Second) // bounded: the stacks reach the log
	return "--- the test user's processes ---\n" + string(ps)
}

// stop sends SIGTERM and waits (bounded) for a clean exit.
func (s *service) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("podman-service did not exit cleanly on SIGTERM: %v\n%s", err, s.logs())
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("podman-service ignored SIGTERM for 30s\n%s", s.logs())
	}
}

// busyboxTar writes a tarball of a busybox root filesystem: the static
// busybox binary and a symlink per applet the tests use.
func busyboxTar(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "busybox-rootfs.tar")
	data := testkit.BusyboxRootfs(t, []string{"data/", "vol/"}, []string{"sh", "echo", "cat", "ls", "sleep", "true", "false", "env", "nc", "grep"})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
