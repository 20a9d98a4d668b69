package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/keylock"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/podmantest"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// TestBuiltImageTaskOnRealPodman: a project with a build: section (a
// snippet on a busybox base) is built through terok-web's image service
// by real rootless Podman — Debian 12's 4.3 and Debian 13's 5, as the
// test user; before the build a
// task start is refused naming terok project build, after it the
// runner's container spec for the task runs the built image (the
// snippet's file is there); a changed snippet makes the image stale (a
// start refused again) and, once rebuilt, the earlier task says its
// image is older than the project's.
func TestBuiltImageTaskOnRealPodman(t *testing.T) {
	for _, tier := range podmantest.Tiers {
		t.Run(tier.Name, func(t *testing.T) { builtImageTask(t, podmantest.StartTier(t, tier)) })
	}
}

func builtImageTask(t *testing.T, pm *podmantest.Podman) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base := pm.Image(t, ctx)
	svc := images.NewService(pm.API, t.TempDir()).WithBuilder(ctx, images.New(pm.API, toolRecipes(t), nil, images.Config{}))
	st, _ := tasks.Open(t.TempDir())
	ps := projects.New(t.TempDir())
	locks := &keylock.Locks{}
	r := New(ctx, Config{GatePort: 9418, Entry: "/bin/true"}, Deps{Log: zerolog.Nop(), Store: st, Podman: pm.API, Hub: events.New(),
		Projects: projects.NewService(ps, &fakeGate{}, st, locks), Locks: locks, Builds: svc, Recipes: toolRecipes(t)})
	snippet := func(s string) projects.Project {
		p := projects.Project{Name: "demo", Image: base, Agent: projects.Agent{Command: "cat /etc/terok-built"},
			Build: projects.Build{Snippet: s}}
		if _, err := ps.Save(p); err != nil {
			t.Fatal(err)
		}
		return projects.Effective(p, projects.Defaults{})
	}
	plan := func(p projects.Project) (agentPlan, error) {
		return r.plan(ctx, webapi.RunRequest{Project: "demo"}, webapi.ModeHeadless, p, ps.File("demo"))
	}
	build := func(p projects.Project) images.Result {
		t.Helper()
		tg, err := ps.Target(p)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		res, err := svc.Build(ctx, tg, images.Reuse, func(e images.Event) {
			if e.Kind == images.EventStep {
				steps = append(steps, e.Text)
			}
		})
		if err != nil {
			t.Fatalf("build: %v\n%s", err, pm.Log.String())
		}
		t.Logf("built %s: steps %q", res.ImageID, steps)
		return res
	}

	p := snippet("RUN echo built-one > /etc/terok-built")
	if _, err := plan(p); !errors.Is(err, ErrImageMissing) || !strings.Contains(err.Error(), "terok project build demo") {
		t.Fatalf("before the build: %v", err)
	}
	first := build(p)
	pl, err := plan(p)
	if err != nil || pl.image != images.ProjectRef("demo") || pl.imageID != first.ImageID {
		t.Fatalf("after the build: %+v %v", pl, err)
	}
	task := tasks.Record{ID: "agent1", Name: "tkagent-demo", Project: "demo", Mode: webapi.ModeHeadless, Command: pl.command, Image: pl.image, ImageID: pl.imageID}
	spec, err := r.spec(task, p, "http://gate.invalid/demo.git", &podmanapi.Namespace{Mode: "none"}, nil, 0, credentials{})
	if err != nil {
		t.Fatal(err)
	}
	// The runner's spec as it is, but for the entry (not mounted here)
	// and the shield (not running here): the task's own command runs.
	delete(spec.Annotations, "terok.shield")
	spec.Mounts, spec.Volumes, spec.DNSServers, spec.WorkDir = nil, nil, nil, "/"
	spec.Entrypoint = []string{"/bin/sh", "-c", spec.Env["TEROK_AGENT_COMMAND"]}
	id := pm.Run(t, ctx, spec)
	if code, err := pm.API.WaitContainer(ctx, id); err != nil || code != 0 {
		t.Fatalf("task container: exit %d, %v", code, err)
	}
	var out bytes.Buffer
	pm.API.ContainerLogs(ctx, id, podmanapi.LogOptions{}, &out, &out)
	if out.String() != "built-one\n" {
		t.Fatalf("the task ran %q, want the built image's file", out.String())
	}

	p = snippet("RUN echo built-two > /etc/terok-built")
	if _, err := plan(p); !errors.Is(err, ErrImageStale) || !strings.Contains(err.Error(), "the snippet changed") {
		t.Fatalf("after the edit: %v", err)
	}
	second := build(p)
	if second.ImageID == first.ImageID {
		t.Fatal("the rebuild kept the image")
	}
	if w := r.ImageStale(ctx, task); !strings.Contains(w, "rebuilt since this task started") {
		t.Fatalf("the earlier task's image: %q", w)
	}
	// The failed build's image stays out of use: the project keeps the last good one.
	p = snippet("RUN echo about to fail; exit 3")
	tg, _ := ps.Target(p)
	if _, err := svc.Build(ctx, tg, images.Reuse, nil); !errors.Is(err, images.ErrBuildFailed) || !strings.Contains(err.Error(), "about to fail") {
		t.Fatalf("failing build: %v", err)
	}
	if d, err := pm.API.InspectImage(ctx, images.ProjectRef("demo")); err != nil || d.ID != second.ImageID {
		t.Fatalf("%s is %s (%v), want %s", images.ProjectRef("demo"), d.ID, err, second.ImageID)
	}
}
