package runner

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// imageRunner is a runner whose Podman lacks the image, with the status
// file of the image's podman-tasks in a temp dir.
func imageRunner(t *testing.T) (*Runner, *fakePodman, string) {
	t.Helper()
	status := filepath.Join(t.TempDir(), "task-image.json")
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: false, exit: make(chan int, 1)}
	r, ps := newRunnerWith(t, Config{Entry: "/opt/terok-entry", GatePort: 9418, ImageStatusFile: status}, pm, &fakeGate{})
	ps.Create(webapi.Project{Name: "demo", Agent: webapi.Agent{Command: "make"}})
	return r, pm, status
}

func writeStatus(t *testing.T, path, state, detail string) {
	t.Helper()
	if err := atomicfile.WriteJSON(path, ImageStatus{Image: projects.DefaultImage, State: state, Since: time.Now(), Detail: detail}, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitState polls the record until it is in state (bounded).
func waitState(t *testing.T, r *Runner, id, state string) webapi.Task {
	t.Helper()
	var got webapi.Task
	for i := 0; i < 200; i++ {
		got, _ = r.Store().Get(id)
		if got.State == state {
			return got
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("task %s is %s (%s), want %s", id, got.State, got.Reason, state)
	return got
}

func timelineHas(t *testing.T, r *Runner, id, part string) bool {
	t.Helper()
	es, _ := r.Store().Timeline(id)
	for _, e := range es {
		if strings.Contains(e.Detail, part) {
			return true
		}
	}
	return false
}

// TestTaskWaitsForTheImageImport: a task started while podman-tasks
// imports the default image waits (shown on the task and in its
// timeline), then starts once the image is there.
func TestTaskWaitsForTheImageImport(t *testing.T) {
	r, pm, status := imageRunner(t)
	writeStatus(t, status, ImageImporting, "")
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if err != nil {
		t.Fatalf("a task started during the import failed: %v", err)
	}
	if task.State != webapi.StateStarting || !strings.Contains(task.Waiting, "podman-tasks imports it") {
		t.Fatalf("the task does not say it waits: %s %q", task.State, task.Waiting)
	}
	if !timelineHas(t, r, task.ID, "waiting for the task image "+projects.DefaultImage) {
		t.Fatal("the timeline does not show the wait")
	}
	time.Sleep(100 * time.Millisecond) // it keeps waiting while the import runs
	if got, _ := r.Store().Get(task.ID); got.State != webapi.StateStarting || len(pm.specs) != 0 {
		t.Fatalf("the task went on without its image: %s, %d containers", got.State, len(pm.specs))
	}
	pm.mu.Lock()
	pm.image = true
	pm.mu.Unlock()
	writeStatus(t, status, ImageReady, "")
	got := waitState(t, r, task.ID, webapi.StateRunning)
	if got.Waiting != "" {
		t.Fatalf("still waiting once running: %q", got.Waiting)
	}
	pm.exit <- 0
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if done, err := r.WaitEnded(ctx, task.ID); err != nil || done.State != webapi.StateExited {
		t.Fatalf("end: %s %v", done.State, err)
	}
}

// TestImportFailsWhileWaiting: the import fails; the waiting task fails
// with podman-tasks' reason and advice that fits the image (no make).
func TestImportFailsWhileWaiting(t *testing.T) {
	r, _, status := imageRunner(t)
	writeStatus(t, status, ImageImporting, "")
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	writeStatus(t, status, ImageFailed, "podman-service import-image exited 1")
	got := waitState(t, r, task.ID, webapi.StateFailed)
	if !strings.Contains(got.Reason, "podman-tasks could not provide it (podman-service import-image exited 1)") ||
		!strings.Contains(got.Reason, "supervisorctl restart podman-tasks") || strings.Contains(got.Reason, "make task-image") {
		t.Fatalf("reason %q", got.Reason)
	}
}

// TestStopWhileWaitingForTheImage: a waiting task can be stopped; it
// never gets a container.
func TestStopWhileWaitingForTheImage(t *testing.T) {
	r, pm, status := imageRunner(t)
	writeStatus(t, status, ImageChecking, "")
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if err != nil || task.Waiting == "" {
		t.Fatalf("%+v %v", task, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := r.Stop(ctx, task.ID)
	if err != nil || got.State != webapi.StateStopped || got.Waiting != "" {
		t.Fatalf("stop while waiting: %s %q %v", got.State, got.Waiting, err)
	}
	pm.mu.Lock()
	pm.image = true
	pm.mu.Unlock()
	writeStatus(t, status, ImageReady, "")
	time.Sleep(700 * time.Millisecond) // one poll of the waiter
	if got, _ := r.Store().Get(task.ID); got.State != webapi.StateStopped || len(pm.specs) != 0 {
		t.Fatalf("the stopped task started anyway: %s, %d containers", got.State, len(pm.specs))
	}
}

// TestMissingImageAdviceFitsWhereTerokRuns: natively (no status file)
// make task-image; in the image (podman-tasks wrote its status) the
// podman-tasks restart, never make.
func TestMissingImageAdviceFitsWhereTerokRuns(t *testing.T) {
	r, _, status := imageRunner(t)
	_, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if !errors.Is(err, ErrImageMissing) || !strings.Contains(err.Error(), "make task-image builds it") {
		t.Fatalf("natively: %v", err)
	}
	writeStatus(t, status, ImageReady, "") // the image was there at the start, removed since
	_, err = r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if !errors.Is(err, ErrImageMissing) || strings.Contains(err.Error(), "make") || !strings.Contains(err.Error(), "supervisorctl restart podman-tasks") {
		t.Fatalf("in the image: %v", err)
	}
}

// TestTaskWaitsForAnAPIImport: natively, make task-image imports through
// terok-web's API; a task started meanwhile waits for it.
func TestTaskWaitsForAnAPIImport(t *testing.T) {
	r, pm, _ := imageRunner(t)
	done := r.BeginImport("localhost/terok-base:latest")
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if err != nil || !strings.Contains(task.Waiting, "being imported") {
		t.Fatalf("%+v %v", task, err)
	}
	pm.mu.Lock()
	pm.image = true
	pm.mu.Unlock()
	done()
	waitState(t, r, task.ID, webapi.StateRunning)
	pm.exit <- 0
}
