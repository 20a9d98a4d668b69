package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func TestEndingRule(t *testing.T) {
	stopAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	stops := map[string]TreeStop{"m.json": {Time: stopAt, By: "docker stop (podman-tasks)", Containers: []string{"c-stopped", "c-early"}}}
	exited := func(id string, code int, finished time.Time) podmanapi.Container {
		return podmanapi.Container{ID: id, State: podmanapi.ContainerState{Status: "exited", ExitCode: code,
			StartedAt: stopAt.Add(-time.Hour), FinishedAt: finished}}
	}
	for _, tc := range []struct {
		name     string
		ct       podmanapi.Container
		found    bool
		waitCode int
		userStop bool
		state    string
		code     int
		detail   string // a part of the timeline's detail
		reason   string // a part of the task's reason
	}{
		{"exit 0", exited("c1", 0, stopAt), true, 0, false, webapi.StateExited, 0, "", ""},
		{"Podman's code wins over wait's", exited("c1", 143, stopAt), true, 0, false, webapi.StateExited, 143, "", ""},
		{"stopped by the user", exited("c1", 143, stopAt), true, 143, true, webapi.StateStopped, 143, "on request", ""},
		{"stopped by the tree", exited("c-stopped", 143, stopAt.Add(time.Second)), true, 0, false, webapi.StateStopped, 143, "stopped by docker stop (podman-tasks) (exit 143)", ""},
		{"killed by the tree", exited("c-stopped", 137, stopAt.Add(3*time.Second)), true, 0, false, webapi.StateStopped, 137, "docker stop", ""},
		{"ended on its own before the tree stopped", exited("c-early", 1, stopAt.Add(-time.Minute)), true, 0, false, webapi.StateExited, 1, "", ""},
		{"another container at the same stop", exited("c-other", 143, stopAt.Add(time.Second)), true, 0, false, webapi.StateExited, 143, "", ""},
		{"out of memory", podmanapi.Container{ID: "c1", State: podmanapi.ContainerState{ExitCode: 137, OOMKilled: true, StartedAt: stopAt}}, true, 137, false, webapi.StateExited, 137, "memory", "limits.memory"},
		{"never ran", podmanapi.Container{ID: "c1", State: podmanapi.ContainerState{ExitCode: 127, Error: "executable file not found"}}, true, 127, false, webapi.StateFailed, 127, "could not run", "executable file not found"},
		{"inspect failed: wait's code", podmanapi.Container{}, false, 3, false, webapi.StateExited, 3, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ending(tc.ct, tc.found, tc.waitCode, tc.userStop, stops)
			if e.State != tc.state || e.ExitCode == nil || *e.ExitCode != tc.code {
				t.Fatalf("%s with exit %v, want %s with exit %d (%+v)", e.State, e.ExitCode, tc.state, tc.code, e)
			}
			if tc.detail == "" && e.Detail != "" || !strings.Contains(e.Detail, tc.detail) {
				t.Fatalf("detail %q, want %q", e.Detail, tc.detail)
			}
			if tc.reason == "" && e.Reason != "" || !strings.Contains(e.Reason, tc.reason) {
				t.Fatalf("reason %q, want %q", e.Reason, tc.reason)
			}
		})
	}
}

// TestReconcileRecordsRealExit: two tasks ended while terok-web was down
// (docker stop, then docker start), Podman's wait answering 0 for both:
// the one the tree's shutdown stopped is recorded stopped with the exit
// code Podman's inspect reports, the other exited with its code; the
// marker is removed once both are recorded.
func TestReconcileRecordsRealExit(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true, waitCode: 0, inspect: map[string]podmanapi.Container{
		"c-tree": {ID: "c-tree", State: podmanapi.ContainerState{Status: "exited", ExitCode: 143, StartedAt: now.Add(-time.Minute), FinishedAt: now}},
		"c-own":  {ID: "c-own", State: podmanapi.ContainerState{Status: "exited", ExitCode: 2, StartedAt: now.Add(-time.Minute), FinishedAt: now.Add(-30 * time.Second)}},
	}}
	r, _ := newRunnerWith(t, Config{Entry: "/opt/terok-entry", GatePort: 9418, TreeStopDir: dir}, pm, &fakeGate{})
	st := r.Store()
	byTree, _ := st.Create(webapi.Task{Project: "demo", State: webapi.StateRunning, Container: "c-tree"})
	own, _ := st.Create(webapi.Task{Project: "demo", State: webapi.StateRunning, Container: "c-own"})
	pm.list = []podmanapi.ContainerSummary{
		{ID: "c-tree", State: "exited", Labels: map[string]string{LabelTask: byTree.ID}},
		{ID: "c-own", State: "exited", Labels: map[string]string{LabelTask: own.ID}},
	}
	marker := filepath.Join(dir, "1.json")
	if err := atomicfile.WriteJSON(marker, TreeStop{Time: now.Add(-time.Second), By: "docker stop (podman-tasks)", Containers: []string{"c-tree", "c-own"}}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := r.WaitEnded(ctx, byTree.ID)
	if err != nil || got.State != webapi.StateStopped || got.ExitCode == nil || *got.ExitCode != 143 {
		t.Fatalf("the task docker stop stopped: %s exit %v %v, want stopped with 143", got.State, got.ExitCode, err)
	}
	// The state is recorded just before its timeline entry: poll (bounded).
	said := false
	var es []webapi.Entry
	for i := 0; i < 100 && !said; i++ {
		es, _ = st.Timeline(byTree.ID)
		for _, e := range es {
			said = said || e.State == webapi.StateStopped && strings.Contains(e.Detail, "stopped by docker stop (podman-tasks)")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !said {
		t.Fatalf("the timeline does not say why: %+v", es)
	}
	got, err = r.WaitEnded(ctx, own.ID)
	if err != nil || got.State != webapi.StateExited || got.ExitCode == nil || *got.ExitCode != 2 {
		t.Fatalf("the task that ended on its own: %s exit %v %v, want exited with 2", got.State, got.ExitCode, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the marker went before the next reconcile: %v", err)
	}
	// The next start: both are recorded, the marker has served.
	if err := r.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the used marker is still there: %v", err)
	}
}

// TestStopRecordsStopped: terok task stop while terok-web follows the
// task records it stopped with the code of the container.
func TestStopRecordsStopped(t *testing.T) {
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true, exit: make(chan int, 1)}
	r, ps := newRunner(t, pm, &fakeGate{})
	ps.Create(webapi.Project{Name: "demo", Agent: webapi.Agent{Command: "sleep 300"}})
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	pm.mu.Lock()
	pm.inspect = map[string]podmanapi.Container{task.Container: {ID: task.Container, State: podmanapi.ContainerState{Status: "exited", ExitCode: 143, StartedAt: time.Now()}}}
	pm.mu.Unlock()
	pm.exit <- 143
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := r.Stop(ctx, task.ID)
	if err != nil || got.State != webapi.StateStopped || got.ExitCode == nil || *got.ExitCode != 143 {
		t.Fatalf("after stop: %s exit %v %v", got.State, got.ExitCode, err)
	}
}
