package images

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// TestStatus: a project's image is missing before its first build,
// current after it, and stale (naming what changed and the command that
// builds it) once its snippet, recipe, agents or base change; a project
// without a build: section runs its base.
func TestStatus(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	spec := Spec{Agents: []string{"tool"}}
	target := Target{Project: "demo", Spec: spec, Snippet: "RUN echo one\n"}
	status := func(tg Target) webapi.ImageStatus {
		t.Helper()
		st, err := r.b.Status(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	if st := status(Target{Project: "plain"}); st.State != webapi.ImageNone || st.Image != DefaultBase {
		t.Fatalf("no build section: %+v", st)
	}
	st := status(target)
	if st.State != webapi.ImageMissing || st.Image != ProjectRef("demo") || !strings.Contains(st.Reason, "terok project build demo") {
		t.Fatalf("before the first build: %+v", st)
	}
	res, _, err := r.build("demo", spec, target.Snippet, Reuse)
	if err != nil {
		t.Fatal(err)
	}
	st = status(target)
	if st.State != webapi.ImageCurrent || st.ImageID != res.ImageID || st.Versions["tool"] != "1.2.3" {
		t.Fatalf("after the build: %+v (built %s)", st, res.ImageID)
	}

	for _, tc := range []struct {
		name   string
		change func() (Target, func())
		why    string
	}{
		{"snippet", func() (Target, func()) {
			tg := target
			tg.Snippet = "RUN echo two\n"
			return tg, func() {}
		}, "the snippet changed"},
		{"snippet removed", func() (Target, func()) {
			tg := target
			tg.Snippet = ""
			return tg, func() {}
		}, "the snippet was removed"},
		{"recipe file", func() (Target, func()) {
			old := r.rec["tool"]
			r.rec["tool"] = mustRecipe(t, "tool", strings.Replace(testRecipe, "a test agent", "a test agent, edited", 1))
			return target, func() { r.rec["tool"] = old }
		}, "recipes"},
		{"agents emptied", func() (Target, func()) {
			tg := target
			tg.Spec = Spec{}
			tg.Snippet = "RUN echo one\n"
			return tg, func() {}
		}, "build.agents changed"},
		{"host CA turned off", func() (Target, func()) {
			tg := target
			tg.Spec = Spec{Agents: []string{"tool"}, HostCA: CAOff}
			return tg, func() {}
		}, "recipes or the base image changed"},
		{"base replaced", func() (Target, func()) {
			r.pm.mu.Lock()
			old := r.pm.images["baseid"]
			delete(r.pm.images, "baseid")
			r.pm.images["baseid2"] = &podmanapi.Image{ID: "baseid2", RepoTags: []string{DefaultBase}}
			r.pm.mu.Unlock()
			return target, func() {
				r.pm.mu.Lock()
				delete(r.pm.images, "baseid2")
				r.pm.images["baseid"] = old
				r.pm.mu.Unlock()
			}
		}, "the base image changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg, undo := tc.change()
			defer undo()
			st := status(tg)
			if st.State != webapi.ImageStale || !strings.Contains(st.Reason, tc.why) || !strings.Contains(st.Reason, "terok project build demo builds it again") {
				t.Fatalf("%+v, want stale naming %q", st, tc.why)
			}
		})
	}
	if st := status(target); st.State != webapi.ImageCurrent {
		t.Fatalf("back as built: %+v", st)
	}
	// A rebuild after the change makes it current again.
	tg := target
	tg.Snippet = "RUN echo two\n"
	if _, _, err := r.build("demo", spec, tg.Snippet, Reuse); err != nil {
		t.Fatal(err)
	}
	if st := status(tg); st.State != webapi.ImageCurrent {
		t.Fatalf("after the rebuild: %+v", st)
	}
}

// TestStatusSnippetOnly: a project layer on the base alone is stale once
// the base changes, current otherwise.
func TestStatusSnippetOnly(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tg := Target{Project: "demo", Spec: Spec{Snippet: "RUN true\n"}, Snippet: "RUN true\n"}
	if _, _, err := r.build("demo", tg.Spec, tg.Snippet, Reuse); err != nil {
		t.Fatal(err)
	}
	if st, err := r.b.Status(ctx, tg); err != nil || st.State != webapi.ImageCurrent {
		t.Fatalf("%+v %v", st, err)
	}
	r.pm.mu.Lock()
	r.pm.images["baseid"].RepoTags = nil
	r.pm.images["baseid2"] = &podmanapi.Image{ID: "baseid2", RepoTags: []string{DefaultBase}}
	r.pm.mu.Unlock()
	if st, err := r.b.Status(ctx, tg); err != nil || st.State != webapi.ImageStale || !strings.Contains(st.Reason, "base image changed") {
		t.Fatalf("%+v %v", st, err)
	}
}

// TestServiceBuild: the service refuses a target with nothing to build,
// marks a project as building while its build runs, and gives a failing
// step the kind ErrBuildFailed (422).
func TestServiceBuild(t *testing.T) {
	r := newRig(t)
	s := NewService(&storeFake{}, t.TempDir())
	ctx := context.Background()
	if _, err := s.Build(ctx, Target{Project: "demo"}, Reuse, nil); err == nil {
		t.Fatal("no builder: built")
	}
	var mu sync.Mutex
	var published []string
	s.WithBuilder(context.Background(), r.b).PublishTo(func(e webapi.Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Type == webapi.EventBuild && e.Build.Project == "demo" {
			published = append(published, e.Build.Kind)
		}
	})
	if _, err := s.Build(ctx, Target{Project: "demo"}, Reuse, nil); err == nil || !strings.Contains(err.Error(), "no build: section") {
		t.Fatalf("nothing to build: %v", err)
	}
	tg := Target{Project: "demo", Spec: Spec{Snippet: "RUN true"}, Snippet: "RUN true\n"}
	started, release := make(chan struct{}), make(chan struct{})
	r.pm.hold = func([]string) { close(started); <-release }
	done := make(chan error, 1)
	go func() { _, err := s.Build(ctx, tg, Reuse, nil); done <- err }()
	<-started
	if st, err := s.Status(ctx, tg); err != nil || !st.Building || st.State != webapi.ImageMissing {
		t.Fatalf("while building: %+v %v", st, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.pm.hold = nil
	if st, err := s.Status(ctx, tg); err != nil || st.Building || st.State != webapi.ImageCurrent {
		t.Fatalf("after: %+v %v", st, err)
	}
	// Every page follows the build on the events hub: its steps and its
	// end, never its output lines.
	mu.Lock()
	got := strings.Join(published, ",")
	mu.Unlock()
	if got != "reused,layer,step,step-done,step,step-done,step,step-done,built,done" {
		t.Fatalf("published %s", got)
	}
	bad := Target{Project: "demo", Spec: Spec{Snippet: "x"}, Snippet: "RUN echo; exit 3\n"}
	_, err := s.Build(ctx, bad, Reuse, nil)
	if !errorsIs(err, ErrBuildFailed) || !strings.Contains(err.Error(), "still names the previous image") {
		t.Fatalf("failing step: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if last := published[len(published)-1]; last != webapi.BuildError {
		t.Fatalf("a failed build published %v", published)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// TestStatusUnknownAgent: an agent without a recipe is named with the
// field and the command that lists the agents, never blamed on Podman.
func TestStatusUnknownAgent(t *testing.T) {
	r := newRig(t)
	s := NewService(&storeFake{}, t.TempDir()).WithBuilder(context.Background(), r.b)
	if _, _, err := r.build("demo", Spec{Agents: []string{"tool"}}, "", Reuse); err != nil {
		t.Fatal(err)
	}
	_, err := s.Status(context.Background(), Target{Project: "demo", Spec: Spec{Agents: []string{"nosuch"}}})
	if !errors.Is(err, recipes.ErrUnknown) || !strings.Contains(err.Error(), "build.agents") || strings.Contains(err.Error(), "podman") {
		t.Fatalf("unknown agent: %v", err)
	}
}
