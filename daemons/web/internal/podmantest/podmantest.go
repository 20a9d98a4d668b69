// Package podmantest runs real rootless Podman for terok-web's
// integration tests (attach, images, nsdial, runner, webproxy): a
// podman-service as the test user tkpodman (made by make deps) in a home
// and runtime directory of its own, on the host's Podman or Debian 13's
// in a sandbox (testkit.Sandbox, as podman-service's own tests), and a
// busybox image to run. A test without root, podman, busybox or the user
// skips (fails under TEROK_TEST_STRICT=1). Only tests import it.
package podmantest

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// The tests run real rootless Podman (Debian 12's 4.3 on the host) as the
// test user tkpodman through podman-service, each in its own home and
// runtime directory named tkwebmodes-*.
const testUser = "tkpodman"

// Podman is one running podman-service and its Podman API.
type Podman struct {
	Tier Tier
	API  *podmanapi.Client
	Base string // a temporary directory the test user can read
	Log  *testkit.SyncBuffer
}

// Tier is a Podman to test against.
type Tier struct {
	Name    string
	Major   string // the Podman version's major prefix, e.g. "4."
	Network string // the rootless network mode to publish ports with
	// Sandbox: Debian 13's Podman 5 inside the cached trixie root
	// filesystem (scripts/base-rootfs.sh), entered with a private mount
	// namespace and pivot_root; the host's network namespace is kept.
	Sandbox bool
}

// Tiers are Debian 12's Podman 4.3 on the host (slirp4netns) and Debian
// 13's Podman 5 (pasta, as in the image).
var Tiers = []Tier{
	{Name: "podman4-host", Major: "4.", Network: "slirp4netns"},
	{Name: "podman5-trixie", Major: "5.", Network: "pasta", Sandbox: true},
}

// RootfsTrixie is where scripts/base-rootfs.sh caches Debian 13.
const RootfsTrixie = "/var/cache/terok/rootfs-trixie"

// Start runs Debian 12's Podman (Tiers[0]); see StartTier.
func Start(t *testing.T) *Podman { return StartTier(t, Tiers[0]) }

// StartTier runs podman-service as tkpodman in tier tr until the test
// ends, and returns once Podman's API answers. The caller's TestMain
// should be testkit.Main (it removes the built binary).
func StartTier(t *testing.T, tr Tier) *Podman {
	t.Helper()
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "podman")
	testkit.RequireCommand(t, "busybox")
	if tr.Sandbox {
		_, err := os.Stat(filepath.Join(RootfsTrixie, ".terok-rootfs-complete"))
		testkit.Require(t, err == nil, "no Debian 13 rootfs at "+RootfsTrixie+"; run scripts/base-rootfs.sh as root (make deps does)")
		testkit.RequireCommand(t, "unshare")
	}
	u, err := user.Lookup(testUser)
	testkit.Require(t, err == nil, "test user "+testUser+" is missing; run scripts/setup.d/20-podman.sh as root (make deps)")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	bin := testkit.Build(t, "github.com/terok-ai/terok-in-docker/daemons/podman-service/cmd/podman-service")
	os.Chmod(filepath.Dir(bin), 0o755)
	base, err := os.MkdirTemp("", "tkwebmodes-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	home, runtime, hooks := filepath.Join(base, "home"), filepath.Join(base, "run"), filepath.Join(base, "hooks")
	for _, d := range []string{home, runtime, hooks} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, uid, gid)
	}
	runDir := filepath.Join(runtime, "terok")
	environ := []string{"HOME=" + home, "USER=" + testUser, "LOGNAME=" + testUser,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "XDG_RUNTIME_DIR=" + runtime, "TEROK_RUN_DIR=" + runDir}
	var cmd *exec.Cmd
	if tr.Sandbox {
		sb := testkit.Sandbox{Rootfs: RootfsTrixie, Base: base, BinDir: filepath.Dir(bin), User: testUser, UID: uid, GID: gid}
		cmd = sb.Command(append(environ, "PODMAN_IGNORE_CGROUPSV1_WARNING=1"), bin, "serve", "--hooks-dir", hooks)
	} else {
		cmd = exec.Command(bin, "serve", "--hooks-dir", hooks)
		cmd.Env = environ
		cmd.Dir = home
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	}
	p := &Podman{Tier: tr, API: podmanapi.New(filepath.Join(runDir, "podman.sock")), Base: base, Log: &testkit.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if b, err := os.ReadFile(filepath.Join(runtime, "libpod", "tmp", "pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		os.RemoveAll(base)
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := p.API.Ping(ctx)
		cancel()
		if err == nil {
			p.checkVersion(t)
			return p
		}
		select {
		case err := <-done:
			t.Fatalf("podman-service exited early: %v\n%s", err, p.Log.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Podman's API did not answer within 90s: %v\n%s", err, p.Log.String())
		}
	}
}

// Credential is the test user's (the owner of the Podman's user
// namespace), for running a process as terok-web would run.
func Credential(t *testing.T) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup(testUser)
	testkit.Require(t, err == nil, "test user "+testUser+" is missing; run scripts/setup.d/20-podman.sh as root (make deps)")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// checkVersion fails the test when the tier runs another Podman than it
// names.
func (p *Podman) checkVersion(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The ping's header, not the version query (which Podman answers by
	// running the package manager: slow on a busy machine).
	ping, err := p.API.Ping(ctx)
	if err != nil || !strings.HasPrefix(ping.LibpodAPIVersion, p.Tier.Major) {
		t.Fatalf("tier %s: Podman %q (%v), want %s*", p.Tier.Name, ping.LibpodAPIVersion, err, p.Tier.Major)
	}
}

// ImageName is the busybox image Image imports.
const ImageName = "localhost/tkwebmodes-busybox:test"

// Image imports the busybox image (once per Podman) and returns its name.
func (p *Podman) Image(t *testing.T, ctx context.Context) string {
	t.Helper()
	if ok, _ := p.API.ImageExists(ctx, ImageName); ok {
		return ImageName
	}
	if _, err := p.API.ImportImage(ctx, ImageName, bytes.NewReader(BusyboxTar(t))); err != nil {
		t.Fatal(err)
	}
	return ImageName
}

// Run creates and starts a container from spec (Image defaults to the
// busybox image, network to none) and removes it when the test ends.
func (p *Podman) Run(t *testing.T, ctx context.Context, spec podmanapi.CreateSpec) string {
	t.Helper()
	if spec.Image == "" {
		spec.Image = p.Image(t, ctx)
	}
	if spec.NetNS == nil {
		spec.NetNS = &podmanapi.Namespace{Mode: "none"}
	}
	cr, err := p.API.CreateContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = p.API.RemoveContainer(ctx, cr.ID, podmanapi.RemoveOptions{Force: true})
	})
	if err := p.API.StartContainer(ctx, cr.ID); err != nil {
		t.Fatalf("start: %v\n%s", err, p.Log.String())
	}
	return cr.ID
}

// BusyboxTar is a root filesystem of the static busybox and the applets
// the tests use (sh, sleep, stty, cat, echo, httpd, nc, mkdir, ps, grep).
func BusyboxTar(t *testing.T) []byte {
	t.Helper()
	return testkit.BusyboxRootfs(t, []string{"www/"}, []string{"sh", "sleep", "stty", "cat", "echo", "httpd", "nc", "mkdir", "ps", "grep"})
}

// Collector gathers what a reader sends until it ends.
type Collector struct {
	mu   sync.Mutex
	b    bytes.Buffer
	err  error
	done chan struct{}
}

// Collect reads r in the background until it ends.
func Collect(r io.Reader) *Collector {
	c := &Collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			c.mu.Lock()
			c.b.Write(buf[:n])
			if err != nil {
				c.err = err
			}
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// String returns what arrived so far.
func (c *Collector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// WaitFor waits (bounded, 60s) until s has arrived.
func (c *Collector) WaitFor(t *testing.T, s string) {
	t.Helper()
	if !c.WaitBounded(s, 60*time.Second) {
		t.Fatalf("no %q within 60s; got %q", s, c.String())
	}
}

// WaitBounded waits up to d for s and reports whether it arrived.
func (c *Collector) WaitBounded(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(c.String(), s) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return strings.Contains(c.String(), s)
}

// WaitEnd waits (bounded, 60s) for the end and returns the read error.
func (c *Collector) WaitEnd(t *testing.T) error {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("stream did not end within 60s; got %q", c.String())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
