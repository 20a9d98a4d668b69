package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// image is the tag scripts/image.sh builds.
const image = "terok-in-docker:latest"

// namePrefix keeps this helper's containers, ports and temp dirs apart
// from other tests on the machine.
const namePrefix = "image-e2e-"

func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort(t *testing.T) int { return testkit.FreePort(t) }

// run runs a command with a bound and returns stdout, stderr and the exit
// code (-1 when it could not run or timed out).
func run(t *testing.T, timeout time.Duration, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return testkit.Run(exec.CommandContext(ctx, name, args...))
}

func docker(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return run(t, 3*time.Minute, "docker", args...)
}

// mustDocker runs docker and fails the test unless it exits 0.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := docker(t, args...)
	if code != 0 {
		t.Fatalf("docker %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// buildImage starts a Docker engine when none answers and builds the image
// exactly as `make image` does.
func buildImage(t *testing.T) {
	t.Helper()
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "docker")
	testkit.RequireCommand(t, "dockerd")
	testkit.RequireCommand(t, "debootstrap")
	testkit.RequireCommand(t, "git")
	out, errs, code := run(t, 20*time.Minute, "bash", filepath.Join(repoRoot(t), "scripts", "image.sh"), "build")
	if code != 0 {
		t.Fatalf("scripts/image.sh build: exit %d\n%s%s", code, out, errs)
	}
	t.Log(strings.TrimSpace(out))
}

// container is one docker run of the image.
type container struct {
	name string
}

// privileged is what docs/docker.md says; fallback is the equivalent that
// works where the kernel withholds CAP_SYS_RESOURCE ("unable to apply
// caps"), used only on that error.
var (
	privileged = []string{"--privileged"}
	fallback   = []string{"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
		"--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined",
		"--device", "/dev/fuse", "--device", "/dev/net/tun"}
)

// startContainer runs the image detached with opts (before the image name)
// and args (after it), trying --privileged first. The container is removed
// when the test ends.
func startContainer(t *testing.T, opts []string, args ...string) *container {
	t.Helper()
	c := &container{name: namePrefix + randHex(4)}
	t.Cleanup(func() {
		if t.Failed() {
			out, errs, _ := docker(t, "logs", "--tail", "80", c.name)
			t.Logf("--- docker logs %s (last 80 lines) ---\n%s%s", c.name, out, errs)
		}
		docker(t, "rm", "-f", c.name)
	})
	base := append([]string{"run", "-d", "--name", c.name}, opts...)
	withArgs := func(sec []string) []string {
		a := append(append(append([]string{}, base[:2]...), sec...), base[2:]...)
		return append(append(a, image), args...)
	}
	out, errs, code := docker(t, withArgs(privileged)...)
	if code != 0 && strings.Contains(errs, "unable to apply caps") {
		t.Logf("docker run --privileged fails on this machine (%s); using the equivalent options %v", grepLine(errs, "unable to apply caps"), fallback)
		docker(t, "rm", "-f", c.name)
		out, errs, code = docker(t, withArgs(fallback)...)
	}
	if code != 0 {
		t.Fatalf("docker run: exit %d\n%s%s", code, out, errs)
	}
	return c
}

// grepLine returns the first line of s holding sub.
func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// exec runs a command in the container (as user when not empty).
func (c *container) exec(t *testing.T, user string, args ...string) (string, string, int) {
	t.Helper()
	a := []string{"exec"}
	if user != "" {
		a = append(a, "-u", user)
	}
	return docker(t, append(append(a, c.name), args...)...)
}

func (c *container) mustExec(t *testing.T, user string, args ...string) string {
	t.Helper()
	out, errs, code := c.exec(t, user, args...)
	if code != 0 {
		t.Fatalf("docker exec %s %v: exit %d\n%s%s", c.name, args, code, out, errs)
	}
	return out
}

func (c *container) logs(t *testing.T) string {
	t.Helper()
	out, errs, _ := docker(t, "logs", c.name)
	return out + errs
}

func (c *container) running(t *testing.T) bool {
	t.Helper()
	out, _, _ := docker(t, "inspect", "-f", "{{.State.Running}}", c.name)
	return strings.TrimSpace(out) == "true"
}

// waitFor polls cond (bounded) and fails with what it last saw.
func waitFor(t *testing.T, c *container, what string, bound time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(bound)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		if c != nil && !c.running(t) {
			t.Fatalf("%s: the container stopped while waiting for %s; last seen:\n%s\n--- logs ---\n%s", c.name, what, last, e2ekit.Tail(c.logs(t), 60))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s not reached within %s; last seen:\n%s", what, bound, last)
}

// waitPrograms waits until supervisorctl status shows each program in the
// wanted state.
func (c *container) waitPrograms(t *testing.T, want map[string]string) {
	t.Helper()
	waitFor(t, c, fmt.Sprintf("programs %v", want), 3*time.Minute, func() (bool, string) {
		out, errs, _ := c.exec(t, "", "supervisorctl", "status")
		st := statusOf(out)
		for p, s := range want {
			if st[p] != s {
				return false, out + errs
			}
		}
		return true, ""
	})
}

// statusOf maps each program of supervisorctl status output to its state.
func statusOf(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			m[f[0]] = f[1]
		}
	}
	return m
}

// waitHealthy waits until the image's own health check passes.
func (c *container) waitHealthy(t *testing.T) {
	t.Helper()
	waitFor(t, c, "healthy", 3*time.Minute, func() (bool, string) {
		out, errs, code := c.exec(t, "", "/usr/local/lib/terok/healthcheck")
		return code == 0, out + errs
	})
}

// stop runs docker stop with Docker's default grace time (10 s, then
// SIGKILL) and returns the container's exit code: 0 only when the
// supervisor stopped everything and exited by itself within the grace time.
func (c *container) stop(t *testing.T) int {
	t.Helper()
	mustDocker(t, "stop", c.name)
	out := mustDocker(t, "inspect", "-f", "{{.State.ExitCode}}", c.name)
	var code int
	fmt.Sscan(strings.TrimSpace(out), &code)
	return code
}

// volumes are the three directories of docs/docker.md's persistent setup,
// under a temp dir of the host.
type volumes struct{ dir string }

func newVolumes(t *testing.T) volumes {
	t.Helper()
	dir, err := os.MkdirTemp("", namePrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return volumes{dir}
}

func (v volumes) opts() []string {
	return []string{
		"-v", filepath.Join(v.dir, "config") + ":/home/podman/.config/terok",
		"-v", filepath.Join(v.dir, "share") + ":/home/podman/.local/share/terok",
		"-v", filepath.Join(v.dir, "containers") + ":/home/podman/.local/share/containers",
	}
}
