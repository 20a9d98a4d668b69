package itest

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// pauseUser is the test user whose rootless Podman this test breaks on
// purpose; no other test uses it (scripts/setup.d/20-podman.sh makes it).
const pauseUser = "tkpause"

// TestLostPauseProcessHealed kills every process of a test user's rootless
// Podman but podman-service itself — the pause process, Podman's API
// child, conmon and a running container, as the OOM killer or a careless
// `kill -9` would — after which every Podman call fails with "invalid
// internal status … podman system migrate". podman-service must reset it
// and answer again without help.
func TestLostPauseProcessHealed(t *testing.T) {
	for _, tr := range tiers {
		t.Run(tr.name, func(t *testing.T) { testLostPauseProcessHealed(t, tr) })
	}
}

func testLostPauseProcessHealed(t *testing.T, tr tier) {
	e := newEnvAs(t, tr, pauseUser)
	cfg := filepath.Join(e.base, "ps.toml")
	os.WriteFile(cfg, []byte("probe_interval = \"1s\"\n"), 0o644)
	s := e.start("--config", cfg)
	ctx := ctxT(t, 4*time.Minute)

	const img = "localhost/tkpause-busybox:test"
	tarball := busyboxTar(t, e.base)
	os.Chmod(tarball, 0o644)
	if out, err := e.command(binary(t), "import-image", img, tarball).CombinedOutput(); err != nil {
		t.Fatalf("import-image: %v\n%s", err, out)
	}
	c, err := s.api.CreateContainer(ctx, podmanapi.CreateSpec{Image: img, Command: []string{"/bin/sleep", "300"}, Name: "tkpause-sleeper"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.api.StartContainer(ctx, c.ID); err != nil {
		t.Fatal(err)
	}

	// podman-service keeps its pid through the sandbox's execs.
	killed := killUserExcept(t, e.user, s.cmd.Process.Pid)
	if killed < 3 {
		t.Fatalf("killed only %d processes of %s; expected the pause process, the API child, conmon and the container", killed, e.user)
	}

	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, lerr := s.api.ListContainers(ctx, podmanapi.ListOptions{All: true})
		st, serr := s.status.Status(ctx)
		if lerr == nil && serr == nil && st.APIAnswers && st.PauseResets >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Podman did not answer again without help (list: %v, status: %+v %v)\n%s", lerr, st, serr, s.logs())
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !strings.Contains(s.logs(), "podman system migrate") {
		t.Fatalf("the reset is not in the log:\n%s", s.logs())
	}
	// The healed Podman knows the killed container is gone and runs new
	// ones (the next task).
	ins, err := s.api.InspectContainer(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ins.State.Running {
		t.Fatalf("the killed container still counts as running: %+v", ins.State)
	}
	c2, err := s.api.CreateContainer(ctx, podmanapi.CreateSpec{Image: img, Command: []string{"/bin/sleep", "300"}, Name: "tkpause-next"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.api.StartContainer(ctx, c2.ID); err != nil {
		t.Fatalf("start after the reset: %v\n%s", err, s.logs())
	}
	if ins, err := s.api.InspectContainer(ctx, c2.ID); err != nil || !ins.State.Running {
		t.Fatalf("container not running after the reset: %+v %v", ins.State, err)
	}
}

// killUserExcept sends SIGKILL to every process of name's uid but keep,
// and returns how many it killed.
func killUserExcept(t *testing.T, name string, keep int) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	procs, _ := filepath.Glob("/proc/[0-9]*")
	n := 0
	for _, p := range procs {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || int(st.Uid) != uid {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		if pid == keep {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}
