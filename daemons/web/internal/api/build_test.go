package api

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// buildPodman is Podman's build seam for the API's tests: an image
// store, and a build that reads the Containerfile from the context,
// streams a STEP line per instruction, fails a step holding "exit 3" and
// labels the image from its LABEL line.
type buildPodman struct {
	mu     sync.Mutex
	images map[string]*podmanapi.ImageDetails // by id
	n      int
}

var labelRE = regexp.MustCompile(`([a-z.]+)="((?:[^"\\]|\\.)*)"`)

func (p *buildPodman) find(name string) *podmanapi.ImageDetails {
	if im, ok := p.images[name]; ok {
		return im
	}
	for _, im := range p.images {
		for _, t := range im.RepoTags {
			if t == name {
				return im
			}
		}
	}
	return nil
}

func (p *buildPodman) InspectImage(ctx context.Context, name string) (podmanapi.ImageDetails, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if im := p.find(name); im != nil {
		return *im, nil
	}
	return podmanapi.ImageDetails{}, fmt.Errorf("image %s: %w", name, podmanapi.ErrNotFound)
}

func (p *buildPodman) ImagesByLabel(ctx context.Context, labels ...string) ([]podmanapi.Image, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []podmanapi.Image
	for _, im := range p.images {
		ok := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			ok = ok && im.Labels[k] == v
		}
		if ok {
			out = append(out, podmanapi.Image{ID: im.ID, RepoTags: im.RepoTags, Labels: im.Labels})
		}
	}
	return out, nil
}

func (p *buildPodman) TagImage(ctx context.Context, name, ref string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.images {
		var keep []string
		for _, t := range o.RepoTags {
			if t != ref {
				keep = append(keep, t)
			}
		}
		o.RepoTags = keep
	}
	im := p.find(name)
	im.RepoTags = append(im.RepoTags, ref)
	return nil
}

func (p *buildPodman) Build(ctx context.Context, r io.Reader, o podmanapi.BuildOptions, each func(podmanapi.BuildLine) error) (podmanapi.BuildResult, error) {
	tr := tar.NewReader(r)
	cf := ""
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Name == "Containerfile" {
			b, _ := io.ReadAll(tr)
			cf = string(b)
		}
	}
	lines := strings.Split(strings.TrimSpace(cf), "\n")
	labels := map[string]string{}
	for i, l := range lines {
		each(podmanapi.BuildLine{Stream: fmt.Sprintf("STEP %d/%d: %s\n", i+1, len(lines), l)})
		if strings.Contains(l, "exit 3") {
			each(podmanapi.BuildLine{Stream: "about to fail\n"})
			return podmanapi.BuildResult{}, &podmanapi.BuildError{Message: "building at STEP: exit status 3"}
		}
		if rest, ok := strings.CutPrefix(l, "LABEL "); ok {
			for _, m := range labelRE.FindAllStringSubmatch(rest, -1) {
				labels[m[1]] = strings.ReplaceAll(m[2], `\"`, `"`)
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	id := fmt.Sprintf("%064d", p.n)
	p.images[id] = &podmanapi.ImageDetails{ID: id, RepoTags: o.Tags, Labels: labels}
	return podmanapi.BuildResult{ImageID: id}, nil
}

// buildFixture is the API's fixture with a builder over buildPodman and
// recipes under a temporary config directory.
func buildFixture(t *testing.T) (*fixture, string) {
	f := newFixture(t)
	bp := &buildPodman{images: map[string]*podmanapi.ImageDetails{"baseid": {ID: "baseid", RepoTags: []string{images.DefaultBase}}}}
	dir := t.TempDir()
	store := recipes.New(dir)
	f.api.d.Images.WithBuilder(context.Background(), images.New(bp, store, nil, images.Config{}))
	f.api.d.Recipes = store
	return f, dir
}

func buildEvents(t *testing.T, body string) []webapi.BuildEvent {
	t.Helper()
	var out []webapi.BuildEvent
	dec := json.NewDecoder(strings.NewReader(body))
	for dec.More() {
		var ev webapi.BuildEvent
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%v in %s", err, body)
		}
		out = append(out, ev)
	}
	return out
}

// TestBuildRoutes: a project's image is missing until built; the build
// streams its steps and ends with done and the result; the image is
// current then; a failing step ends the stream with error and its last
// lines, the image unchanged. Refused before any stream: an unknown
// project, a bad mode, a project with nothing to build.
func TestBuildRoutes(t *testing.T) {
	f, _ := buildFixture(t)
	f.must(req{method: "POST", path: Prefix + "/projects", body: `{"name": "demo", "agent": {"command": "make"}, "build": {"snippet": "RUN echo hi"}}`}, 201)
	f.project2("plain")
	var st webapi.ImageStatus
	json.Unmarshal([]byte(f.must(req{method: "GET", path: Prefix + "/projects/demo/image"}, 200)), &st)
	if st.State != webapi.ImageMissing || st.Image != images.ProjectRef("demo") || !strings.Contains(st.Reason, "terok project build demo") {
		t.Fatalf("before: %+v", st)
	}
	evs := buildEvents(t, f.must(req{method: "POST", path: Prefix + "/projects/demo/build"}, 200))
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "reused,layer,step,step-done,step,step-done,step,step-done,built,done" {
		t.Fatalf("events %s", got)
	}
	last := evs[len(evs)-1]
	if last.Result == nil || last.Result.Image != images.ProjectRef("demo") || len(last.Result.Layers) != 2 || evs[2].Text != "FROM baseid" {
		t.Fatalf("done %+v; step %+v", last.Result, evs[2])
	}
	json.Unmarshal([]byte(f.must(req{method: "GET", path: Prefix + "/projects/demo/image"}, 200)), &st)
	if st.State != webapi.ImageCurrent || st.ImageID != last.Result.ImageID {
		t.Fatalf("after: %+v", st)
	}

	f.must(req{method: "PUT", path: Prefix + "/projects/demo", body: `{"name": "demo", "agent": {"command": "make"}, "build": {"snippet": "RUN echo about; exit 3"}}`}, 200)
	json.Unmarshal([]byte(f.must(req{method: "GET", path: Prefix + "/projects/demo/image"}, 200)), &st)
	if st.State != webapi.ImageStale || !strings.Contains(st.Reason, "the snippet changed") {
		t.Fatalf("after the edit: %+v", st)
	}
	evs = buildEvents(t, f.must(req{method: "POST", path: Prefix + "/projects/demo/build?mode=full"}, 200))
	fin := evs[len(evs)-1]
	if fin.Kind != webapi.BuildError || !strings.Contains(fin.Error, "failed at step 2/3") || !strings.Contains(fin.Error, "about to fail") ||
		!strings.Contains(fin.Error, "still names the previous image") {
		t.Fatalf("failure %+v", fin)
	}
	if evs[len(evs)-2].Kind != "failed" || len(evs[len(evs)-2].Lines) == 0 {
		t.Fatalf("failed event %+v", evs[len(evs)-2])
	}

	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/projects/nosuch/build", 404, "no such project"},
		{"/projects/demo/build?mode=fast", 400, "use reuse (the default), refresh-agents or full"},
		{"/projects/plain/build", 400, "no build: section"},
	} {
		if msg := errorOf(t, f.must(req{method: "POST", path: Prefix + tc.path}, tc.status)); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %q, want %q", tc.path, msg, tc.want)
		}
	}
	json.Unmarshal([]byte(f.must(req{method: "GET", path: Prefix + "/projects/plain/image"}, 200)), &st)
	if st.State != webapi.ImageNone || st.Image != images.DefaultBase {
		t.Fatalf("plain: %+v", st)
	}
}

// TestAgentsRoute lists the shipped recipes and the user's, a user file
// that replaces a shipped one marked, a broken one with file:line.
func TestAgentsRoute(t *testing.T) {
	f, dir := buildFixture(t)
	os.MkdirAll(filepath.Join(dir, "agents"), 0o755)
	b, _ := recipes.Shipped("claude")
	os.WriteFile(filepath.Join(dir, "agents", "claude.yml"), b.Raw, 0o644)
	os.WriteFile(filepath.Join(dir, "agents", "broken.yml"), []byte("description: x\nbinry: y\n"), 0o644)
	var as []webapi.AgentRecipe
	json.Unmarshal([]byte(f.must(req{method: "GET", path: Prefix + "/agents"}, 200)), &as)
	by := map[string]webapi.AgentRecipe{}
	for _, a := range as {
		by[a.Name] = a
	}
	if c := by["claude"]; !c.Shadows || c.Source != filepath.Join(dir, "agents", "claude.yml") || c.Package != "@anthropic-ai/claude-code" ||
		strings.Join(c.Providers, ",") != "anthropic" || c.Egress[0] != "api.anthropic.com" {
		t.Fatalf("claude %+v", c)
	}
	if o := by["opencode"]; o.Source != recipes.SourceShipped || o.Error != "" {
		t.Fatalf("opencode %+v", o)
	}
	if br := by["broken"]; !strings.Contains(br.Error, "broken.yml:2") || !strings.Contains(br.Error, "binry") {
		t.Fatalf("broken %+v", br)
	}
}

func (f *fixture) project2(name string) {
	f.t.Helper()
	f.must(req{method: "POST", path: Prefix + "/projects", body: `{"name": "` + name + `", "agent": {"command": "make"}}`}, 201)
}

// TestAttachOpensTheAgent: a terminal of an interactive agent task runs
// the agent's interactive command; ?cmd= still runs what it names, and a
// task without an agent gets its login shell.
func TestAttachOpensTheAgent(t *testing.T) {
	f := newFixture(t)
	mk := func(agent, command string) string {
		rec, err := f.store.Create(tasksRecord(agent, command))
		if err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	target := func(id, query string) []string {
		t.Helper()
		r := httptest.NewRequest("GET", Prefix+"/tasks/"+id+"/attach"+query, nil)
		r.SetPathValue("id", id)
		w := httptest.NewRecorder()
		tg, ok := f.api.attachTarget(w, r)
		if !ok {
			t.Fatalf("attach %s: %d %s", id, w.Code, w.Body)
		}
		return tg.Cmd
	}
	agent := mk("claude", "claude --dangerously-skip-permissions")
	if got := strings.Join(target(agent, ""), " "); got != "sh -c claude --dangerously-skip-permissions" {
		t.Fatalf("agent task's terminal runs %q", got)
	}
	if got := strings.Join(target(agent, "?cmd=bash"), " "); got != "sh -c bash" {
		t.Fatalf("?cmd=bash runs %q", got)
	}
	if got := target(mk("", "make"), ""); got != nil {
		t.Fatalf("a task without an agent runs %q, want its login shell", got)
	}
}

func tasksRecord(agent, command string) tasks.Record {
	return tasks.Record{Project: "demo", Mode: webapi.ModeInteractive, State: webapi.StateRunning, Container: "c-1", Agent: agent, Command: command}
}
