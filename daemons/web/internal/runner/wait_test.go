package runner

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// TestWaitOwnsEveryGoroutine: with tasks running (each monitor with its
// log stream, shield follower and arm-time recorder) and one waiting for
// its image, ending the runner's context and Wait leave no goroutine of
// the runner behind.
func TestWaitOwnsEveryGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	status := filepath.Join(t.TempDir(), "task-image.json")
	pm := &fakePodman{net: podmanapi.NetPasta, image: true, exit: make(chan int)}
	ctx, cancel := context.WithCancel(context.Background())
	r, ps := newRunnerCtx(t, ctx, Config{Entry: "/opt/terok-entry", GatePort: 9418, ImageStatusFile: status}, pm, &fakeGate{})
	ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make"}})
	ps.Create(projects.Project{Name: "later", Agent: projects.Agent{Command: "make"}, Image: "localhost/later:1"})
	for range 3 {
		if _, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"}); err != nil {
			t.Fatal(err)
		}
	}
	// A task whose image podman-tasks is still importing waits for it.
	if err := atomicfile.WriteJSON(status, ImageStatus{Image: "localhost/later:1", State: ImageImporting, Since: time.Now()}, 0o644); err != nil {
		t.Fatal(err)
	}
	pm.mu.Lock()
	pm.image = false
	pm.mu.Unlock()
	if w, err := r.Run(context.Background(), webapi.RunRequest{Project: "later"}); err != nil || w.Waiting == "" {
		t.Fatalf("%+v %v", w, err)
	}
	cancel()
	done := make(chan struct{})
	go func() { r.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute): // a bound for a hang
		t.Fatal("Wait did not return after the runner's context ended")
	}
}
