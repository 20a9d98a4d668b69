package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
)

const testRecipe = `name: tool
description: a test agent
package: {npm: "@example/tool", version: "^1.2.0"}
binary: tool
install:
  debian: {packages: [ripgrep], run: ["echo debian extra"]}
files:
  - {path: /etc/tool/settings.json, content: "{\"telemetry\": false}\n"}
run: {headless: [tool, -p, "{prompt}"], interactive: [tool]}
env: {TOOL_TELEMETRY: "off", TOOL_NOTE: "say \"hi\" for $5"}
vault: {providers: [{name: example, api: api.example.com, base_url: {env: TOOL_BASE_URL}, key_env: [TOOL_KEY], logins: [api-key]}]}
`

type rig struct {
	t   *testing.T
	pm  *fakePodman
	res *fakeResolver
	rec mapRecipes
	b   *Builder
	ca  string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, pm: newFake(DefaultBase), ca: ca,
		res: &fakeResolver{versions: map[string]string{"npm": "10.9.9", "@example/tool": "1.2.3", "@anthropic-ai/claude-code": "2.1.337"}},
		rec: mapRecipes{"tool": mustRecipe(t, "tool", testRecipe)}}
	r.b = New(r.pm, r.rec, r.res, Config{CABundle: ca})
	return r
}

func (r *rig) build(project string, spec Spec, snippet string, mode Mode) (Result, *eventLog, error) {
	r.t.Helper()
	log := &eventLog{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.b.Build(ctx, Request{Project: project, Spec: spec, Snippet: snippet, Mode: mode, Progress: log.add})
	return res, log, err
}

// TestLayersAndReuse: the first build makes the agents and project
// layers; the same build again reuses both without building or asking
// the registry; a changed snippet rebuilds only the project layer; the
// project's image follows each success.
func TestLayersAndReuse(t *testing.T) {
	r := newRig(t)
	spec := Spec{Agents: []string{"tool"}}
	res, log, err := r.build("demo", spec, "RUN echo one\n", Reuse)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := log.kinds(), "reused base, layer agents, built agents, layer project, built project"; got != want {
		t.Fatalf("events %q\nwant %q", got, want)
	}
	if r.pm.buildCount() != 2 || res.Versions["tool"] != "1.2.3" || res.Image != ProjectRef("demo") || r.pm.idOf(ProjectRef("demo")) != res.ImageID {
		t.Fatalf("result %+v, %d builds", res, r.pm.buildCount())
	}
	agents := res.Layers[1]
	if !strings.HasPrefix(agents.Ref, AgentsRepo+":") || !strings.HasSuffix(agents.Ref, ":"+agents.Hash[:tagLen]) {
		t.Fatalf("agents ref %s hash %s", agents.Ref, agents.Hash)
	}
	asked := r.res.count()

	res2, log2, err := r.build("demo", spec, "RUN echo one\n", Reuse)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := log2.kinds(), "reused base, reused agents, reused project"; got != want {
		t.Fatalf("second build events %q, want %q", got, want)
	}
	if r.pm.buildCount() != 2 || r.res.count() != asked || res2.ImageID != res.ImageID {
		t.Fatalf("second build built %d, asked the registry %d more times", r.pm.buildCount()-2, r.res.count()-asked)
	}

	res3, log3, err := r.build("demo", spec, "RUN echo two\n", Reuse)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := log3.kinds(), "reused base, reused agents, layer project, built project"; got != want {
		t.Fatalf("snippet change events %q, want %q", got, want)
	}
	if res3.Layers[1].ImageID != agents.ImageID || res3.Layers[2].Hash == res.Layers[2].Hash || r.pm.idOf(ProjectRef("demo")) != res3.ImageID {
		t.Fatalf("snippet change: %+v", res3)
	}
	if !strings.HasPrefix(r.pm.lastBuild().containerfile, "FROM "+agents.ImageID+"\nRUN echo two\nLABEL ") {
		t.Fatalf("project containerfile:\n%s", r.pm.lastBuild().containerfile)
	}
}

// TestAgentsContainerfile pins what the agents layer runs (golden file;
// TEROK_UPDATE_GOLDEN=1 rewrites it) and what its context holds.
func TestAgentsContainerfile(t *testing.T) {
	r := newRig(t)
	if _, _, err := r.build("demo", Spec{Agents: []string{"tool"}}, "", Reuse); err != nil {
		t.Fatal(err)
	}
	b := r.pm.lastBuild()
	got := hashLabel.ReplaceAllString(b.containerfile, `${1}"HASH"`)
	golden := filepath.Join("testdata", "agents.containerfile")
	if os.Getenv("TEROK_UPDATE_GOLDEN") == "1" {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("agents Containerfile differs from %s:\n%s", golden, got)
	}
	if b.files[SecretID] == "" || b.files["files/tool/0"] != "{\"telemetry\": false}\n" {
		t.Fatalf("context files %v", keys(b.files))
	}
	if len(b.opts.Secrets) != 1 || b.opts.Secrets[0].ID != SecretID || b.opts.Secrets[0].Src != SecretID || b.opts.NoCache {
		t.Fatalf("options %+v", b.opts)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCAOff: host_ca: off sends no secret, and no step mounts one.
func TestCAOff(t *testing.T) {
	r := newRig(t)
	if _, _, err := r.build("demo", Spec{Agents: []string{"tool"}, HostCA: CAOff}, "RUN true", Reuse); err != nil {
		t.Fatal(err)
	}
	for _, b := range r.pm.builds {
		if _, ok := b.files[SecretID]; ok || len(b.opts.Secrets) > 0 || strings.Contains(b.containerfile, "type=secret") || strings.Contains(b.containerfile, SecretPath) {
			t.Fatalf("a build with host_ca off got the CA:\n%s", b.containerfile)
		}
	}
	// The CA bundle missing is an error naming the setting, unless off.
	r.b.cfg.CABundle = filepath.Join(t.TempDir(), "missing.crt")
	if _, _, err := r.build("other", Spec{Agents: []string{"tool"}}, "", Reuse); err == nil || !strings.Contains(err.Error(), "TEROK_HOST_CA") {
		t.Fatalf("missing CA bundle: %v", err)
	}
}

// TestFailureKeepsImage: a failing snippet step reports the layer, the
// step and its last output lines; the project's image stays the previous
// good one.
func TestFailureKeepsImage(t *testing.T) {
	r := newRig(t)
	spec := Spec{Agents: []string{"tool"}}
	good, _, err := r.build("demo", spec, "RUN echo fine", Reuse)
	if err != nil {
		t.Fatal(err)
	}
	_, log, err := r.build("demo", spec, "RUN echo fine\nRUN sh -c 'exit 3'\nRUN echo never", Reuse)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *BuildError", err)
	}
	if be.Layer != LayerProject || be.Step != 3 || be.Steps != 5 || be.Text != "RUN sh -c 'exit 3'" {
		t.Fatalf("failure at %s step %d/%d %q", be.Layer, be.Step, be.Steps, be.Text)
	}
	if len(be.Lines) != TailLines || be.Lines[TailLines-2] != "output line 30" || be.Lines[TailLines-1] != "last words" {
		t.Fatalf("last lines %q", be.Lines)
	}
	msg := err.Error()
	for _, want := range []string{"the project layer failed at step 3/5 (RUN sh -c 'exit 3')", "exit status 3", "output line 30", ProjectRef("demo") + " still names the previous image"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("message lacks %q:\n%s", want, msg)
		}
	}
	if r.pm.idOf(ProjectRef("demo")) != good.ImageID {
		t.Fatal("the failed build moved the project's image")
	}
	if !strings.Contains(strings.Join(log.lines, "\n"), "failed project") {
		t.Fatalf("no failed event: %v", log.lines)
	}
	// The failed build's leftovers (a dangling image inheriting the agents
	// layer's labels) are never taken for a layer: the good snippet and a
	// refresh reuse what they built.
	for _, mode := range []Mode{Reuse, RefreshAgents} {
		again, log, err := r.build("demo", spec, "RUN echo fine", mode)
		if err != nil || again.ImageID != good.ImageID || log.kinds() != "reused base, reused agents, reused project" {
			t.Fatalf("mode %d after the failure: %v, %s", mode, err, log.kinds())
		}
	}
}

// TestRefreshAgents: a refresh asks the registry; the same versions
// reuse the agents layer (nothing built), a new version rebuilds it; a
// plain build afterwards reuses the newest without asking.
func TestRefreshAgents(t *testing.T) {
	r := newRig(t)
	spec := Spec{Agents: []string{"tool"}}
	first, _, err := r.build("demo", spec, "", Reuse)
	if err != nil {
		t.Fatal(err)
	}
	n, asked := r.pm.buildCount(), r.res.count()
	_, log, err := r.build("demo", spec, "", RefreshAgents)
	if err != nil {
		t.Fatal(err)
	}
	if r.pm.buildCount() != n || r.res.count() != asked+2 || log.kinds() != "reused base, reused agents" {
		t.Fatalf("refresh with nothing new: %d builds, %d questions, events %s", r.pm.buildCount()-n, r.res.count()-asked, log.kinds())
	}
	r.res.versions["@example/tool"] = "1.3.0"
	res, _, err := r.build("demo", spec, "", RefreshAgents)
	if err != nil {
		t.Fatal(err)
	}
	if res.Versions["tool"] != "1.3.0" || res.ImageID == first.ImageID || !strings.Contains(r.pm.lastBuild().containerfile, "@example/tool@1.3.0") {
		t.Fatalf("refresh with a new version: %+v", res)
	}
	asked = r.res.count()
	again, log, err := r.build("demo", spec, "", Reuse)
	if err != nil {
		t.Fatal(err)
	}
	if again.ImageID != res.ImageID || r.res.count() != asked || again.Versions["tool"] != "1.3.0" || log.kinds() != "reused base, reused agents" {
		t.Fatalf("plain build after refresh: %+v (asked %d)", again, r.res.count()-asked)
	}
}

// TestFull builds every layer without cache even when nothing changed.
func TestFull(t *testing.T) {
	r := newRig(t)
	spec := Spec{Agents: []string{"tool"}}
	if _, _, err := r.build("demo", spec, "RUN true", Reuse); err != nil {
		t.Fatal(err)
	}
	n := r.pm.buildCount()
	if _, _, err := r.build("demo", spec, "RUN true", Full); err != nil {
		t.Fatal(err)
	}
	if r.pm.buildCount() != n+2 {
		t.Fatalf("full build ran %d builds, want 2", r.pm.buildCount()-n)
	}
	for _, b := range r.pm.builds[n:] {
		if !b.opts.NoCache {
			t.Fatal("full build used the cache")
		}
	}
}

// TestUserRecipeChangesHash: editing a recipe file changes the agents
// layer's hash, so it is rebuilt even with the same versions.
func TestUserRecipeChangesHash(t *testing.T) {
	r := newRig(t)
	spec := Spec{Agents: []string{"tool"}}
	a, _, err := r.build("demo", spec, "", Reuse)
	if err != nil {
		t.Fatal(err)
	}
	r.rec["tool"] = mustRecipe(t, "tool", strings.Replace(testRecipe, "a test agent", "a test agent, edited", 1))
	b, _, err := r.build("demo", spec, "", Reuse)
	if err != nil {
		t.Fatal(err)
	}
	if a.Layers[1].Hash == b.Layers[1].Hash || a.ImageID == b.ImageID {
		t.Fatal("an edited recipe kept the agents layer")
	}
}

// TestNoBase names the missing base image and how to make it.
func TestNoBase(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	_, err := r.b.Build(ctx, Request{Project: "demo", Base: "localhost/nope:1", Spec: Spec{Agents: []string{"tool"}}})
	if !errors.Is(err, ErrNoBase) || !strings.Contains(err.Error(), "localhost/nope:1") || !strings.Contains(err.Error(), "make task-image") {
		t.Fatalf("err = %v", err)
	}
}

// TestSerialisedPerProject: a second build of one project waits for the
// first; another project builds at the same time.
func TestSerialisedPerProject(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	running := map[string]int{}
	started := make(chan string, 10)
	release := make(chan struct{})
	r.pm.hold = func(tags []string) {
		mu.Lock()
		running[tags[0]]++
		mu.Unlock()
		started <- tags[0]
		<-release
	}
	errs := make(chan error, 3)
	go func() { _, _, err := r.build("one", Spec{}, "RUN echo a", Reuse); errs <- err }()
	go func() { _, _, err := r.build("two", Spec{}, "RUN echo b", Reuse); errs <- err }()
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case tag := <-started:
			got[strings.Split(tag, ":")[0]] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("builds of two projects did not run at once: %v", got)
		}
	}
	// A second build of project one must not start while the first runs.
	go func() { _, _, err := r.build("one", Spec{}, "RUN echo c", Reuse); errs <- err }()
	select {
	case tag := <-started:
		t.Fatalf("a second build of one project started while the first ran: %s", tag)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	known := func(n string) error {
		if n == "claude" || n == "codex" {
			return nil
		}
		return recipes.ErrUnknown
	}
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Agents: []string{"claude"}}, ""},
		{Spec{Agents: []string{"claude", "claude"}}, "build.agents: claude is listed twice"},
		{Spec{Agents: []string{"nope"}}, "build.agents: unknown agent"},
		{Spec{Agents: []string{"claude"}, DefaultAgent: "codex"}, `build.default_agent: "codex" is not in build.agents`},
		{Spec{Snippet: "RUN a", SnippetFile: "x"}, "both snippet and snippet_file"},
		{Spec{SnippetFile: "../x"}, "build.snippet_file"},
		{Spec{SnippetFile: "/etc/x"}, "build.snippet_file"},
		{Spec{Snippet: "RUN a\n from debian\n"}, "build.snippet: line 2: FROM is not allowed"},
		{Spec{HostCA: "maybe"}, "build.host_ca"},
	}
	for _, tc := range tests {
		err := tc.spec.Validate(known)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: err = %v, want %q", tc.spec, err, tc.want)
		}
	}
	if (Spec{Agents: []string{"claude"}}).Default() != "claude" || (Spec{Agents: []string{"a", "b"}}).Default() != "" {
		t.Fatal("Default")
	}
}

var hashLabel = regexp.MustCompile(`(terok\.(?:hash|selection)=)"[0-9a-f]{64}"`)

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTaskCA(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, bundle, "-----BEGIN CERTIFICATE-----\n")
	if m, env, err := TaskCA(bundle, Spec{}); m != nil || env != nil || err != nil {
		t.Fatal("the default (build) gave a task the CA")
	}
	if m, _, _ := TaskCA(bundle, Spec{HostCA: CAOff}); m != nil {
		t.Fatal("off gave a task the CA")
	}
	m, env, err := TaskCA(bundle, Spec{HostCA: CATasks})
	if err != nil || m.Source != bundle || m.Destination != TaskCAPath || strings.Join(m.Options, ",") != "rbind,ro" || env["NODE_EXTRA_CA_CERTS"] != TaskCAPath || env["SSL_CERT_FILE"] != TaskCAPath {
		t.Fatalf("%+v %v %v", m, env, err)
	}
	if _, _, err := TaskCA(filepath.Join(t.TempDir(), "missing"), Spec{HostCA: CATasks}); err == nil || !strings.Contains(err.Error(), EnvHostCA) {
		t.Fatalf("missing bundle: %v", err)
	}
	env2 := map[string]string{EnvHostCA: "off"}
	if CABundleFromEnv(func(k string) string { return env2[k] }) != "" {
		t.Fatal("off")
	}
	env2[EnvHostCA] = bundle
	if CABundleFromEnv(func(k string) string { return env2[k] }) != bundle {
		t.Fatal("path")
	}
}
