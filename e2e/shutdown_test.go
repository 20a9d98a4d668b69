package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
	"github.com/terok-ai/terok-in-docker/e2e/e2ekit"
)

// restart stops the tree (make run-native's Ctrl-C) and runs scripts/run.sh
// again on the same directories, as a user starting it again would. It
// returns what the stopped run printed.
func (tr *tree) restart(t *testing.T) string {
	t.Helper()
	tr.stop(t)
	before := tr.out.String()
	cmd := exec.Command("bash", filepath.Join(tr.root, "scripts", "run.sh"))
	cmd.Env = tr.runEnv
	tr.out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = tr.out, tr.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr.cmd, tr.exited, tr.stopped = cmd, make(chan error, 1), false
	go func() { tr.exited <- cmd.Wait() }()
	return before
}

// TestNativeShutdownStopsTasks: make run-native's shutdown stops a running
// task (as docker stop does in the image) and leaves the marker; when the
// tree runs again, the task is recorded stopped with the exit code Podman
// reports, and its timeline says who stopped it.
func TestNativeShutdownStopsTasks(t *testing.T) {
	tr := startTree(t)
	tr.waitRunning(t)
	importTaskImage(t, tr)
	tr.mustTerok(t, "project", "add", "shut", "--cmd", "echo started; sleep 300")
	id := strings.TrimSpace(tr.mustTerok(t, "task", "run", "shut"))
	waitFor(t, "the task's first line", 2*time.Minute, func() bool {
		out, _ := tr.terok(t, "task", "logs", id)
		return strings.Contains(out, "started")
	})
	if out := tr.restart(t); !strings.Contains(out, "make run-native: stopping 1 task container(s)") {
		t.Fatalf("make run-native's shutdown did not stop the task:\n%s", e2ekit.Tail(out, 30))
	}
	tr.waitRunning(t)
	var got webapi.Task
	waitFor(t, "the task recorded after the restart", 2*time.Minute, func() bool {
		got = tr.taskJSON(t, id)
		return webapi.Ended(got.State)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ct, err := podmanapi.New(filepath.Join(tr.run, "podman.sock")).InspectContainer(ctx, got.Container)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != webapi.StateStopped || got.ExitCode == nil || *got.ExitCode != ct.State.ExitCode || (ct.State.ExitCode != 143 && ct.State.ExitCode != 137) {
		t.Fatalf("after make run-native's shutdown: %s with exit %v; Podman reports %d; want stopped with Podman's 143 or 137", got.State, got.ExitCode, ct.State.ExitCode)
	}
	timeline := tr.mustTerok(t, "task", "timeline", id)
	if want := fmt.Sprintf("stopped (exit %d): stopped by make run-native's shutdown", ct.State.ExitCode); !strings.Contains(timeline, want) {
		t.Fatalf("the timeline lacks %q:\n%s", want, timeline)
	}
}
