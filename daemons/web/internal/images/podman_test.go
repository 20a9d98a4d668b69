package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit/fakemodel"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/podmantest"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TaskRootfs is the Debian 13 tree scripts/task-rootfs.sh caches (make
// deps builds it); imported, it is localhost/terok-base:latest.
const TaskRootfs = "/var/cache/terok/taskfs-trixie"

// HostCA is the host's CA bundle: these machines reach npm and Debian
// through a TLS-inspecting proxy whose CA is in it.
const HostCA = "/etc/ssl/certs/ca-certificates.crt"

// countingTransport records every request the resolver sends.
type countingTransport struct {
	mu   sync.Mutex
	urls []string
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.urls = append(c.urls, r.Method+" "+r.URL.String())
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *countingTransport) since(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.urls[n:]...)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.urls)
}

// agentsTier picks the Podman TestRealAgents builds with: Debian 13's
// Podman 5 (the one in the Docker image) unless TEROK_TEST_AGENTS_TIER
// names another tier (podman4-host). One tier only: the agents layer is
// the slowest build of the suite, and podman-service's own tests drive
// the build API on both Podmans.
func agentsTier(t *testing.T) podmantest.Tier {
	name := os.Getenv("TEROK_TEST_AGENTS_TIER")
	if name == "" {
		name = "podman5-trixie"
	}
	for _, tr := range podmantest.Tiers {
		if tr.Name == name {
			return tr
		}
	}
	t.Fatalf("TEROK_TEST_AGENTS_TIER=%s: no such tier", name)
	return podmantest.Tier{}
}

// TestRealAgents builds a project's three layers through real rootless
// Podman (as the test user) from localhost/terok-base, with the real
// Claude Code and OpenCode from the npm registry, then runs both agents
// headless against a fake model server on the host's loopback. It is one
// test with ordered steps so the agents layer — the slow part — is built
// once per run and shared by every step.
func TestRealAgents(t *testing.T) {
	_, err := os.Stat(filepath.Join(TaskRootfs, ".terok-rootfs-complete"))
	testkit.Require(t, err == nil, "no task rootfs at "+TaskRootfs+"; run scripts/task-rootfs.sh as root (make deps does)")
	_, err = os.Stat(HostCA)
	testkit.Require(t, err == nil, "no CA bundle at "+HostCA+"; install ca-certificates")
	pm := podmantest.StartTier(t, agentsTier(t))
	t.Logf("Podman tier %s", pm.Tier.Name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	importBase(t, ctx, pm)

	npm, err := NewNPM(DefaultRegistry, HostCA)
	if err != nil {
		t.Fatal(err)
	}
	tr := &countingTransport{next: npm.Client.Transport}
	npm.Client.Transport = tr
	store := recipes.New(t.TempDir())
	b := New(pm.API, store, npm, Config{CABundle: HostCA})
	spec := Spec{Agents: []string{"claude", "opencode"}, DefaultAgent: "claude"}
	if err := spec.Validate(func(n string) error { _, err := store.Get(n); return err }); err != nil {
		t.Fatal(err)
	}
	build := func(snippet string, mode Mode) (Result, *eventLog, error) {
		log := &eventLog{}
		res, err := b.Build(ctx, Request{Project: "demo", Spec: spec, Snippet: snippet, Mode: mode, Progress: log.add})
		return res, log, err
	}

	var first Result
	ok := t.Run("three layers", func(t *testing.T) {
		start := time.Now()
		res, log, err := build("RUN echo snippet-one > /etc/terok-snippet\n", Reuse)
		if err != nil {
			t.Fatalf("%v\n%s", err, pm.Log.String())
		}
		t.Logf("first build (base reused, agents and project built): %s; versions %v", time.Since(start).Round(time.Second), res.Versions)
		if got, want := log.kinds(), "reused base, layer agents, built agents, layer project, built project"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		first = res
		checkLayers(t, ctx, pm.API, res)
		reportSizes(t, ctx, pm.API, res)
	})
	if !ok {
		t.FailNow()
	}

	t.Run("snippet change reuses base and agents", func(t *testing.T) {
		res, log, err := build("RUN echo snippet-two > /etc/terok-snippet\n", Reuse)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := log.kinds(), "reused base, reused agents, layer project, built project"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		// Podman's image list holds one agents layer: the first build's.
		agents, err := pm.API.ImagesByLabel(ctx, LabelLayer+"="+LayerAgents)
		if err != nil || len(agents) != 1 || agents[0].ID != first.Layers[1].ImageID {
			t.Fatalf("agents images %+v %v, want only %s", agents, err, first.Layers[1].ImageID)
		}
		if res.Layers[0].ImageID != first.Layers[0].ImageID || res.Layers[2].ImageID == first.Layers[2].ImageID {
			t.Fatalf("layers %+v vs %+v", res.Layers, first.Layers)
		}
		out := runIn(t, ctx, pm, podmanapi.CreateSpec{Image: res.Image, Command: []string{"cat", "/etc/terok-snippet"}})
		if out != "snippet-two\n" {
			t.Fatalf("the project image holds %q", out)
		}
		first = res
	})

	t.Run("broken snippet keeps the previous image", func(t *testing.T) {
		_, _, err := build("RUN echo fine\nRUN echo about to fail; ls /no-such-dir; exit 9\n", Reuse)
		var be *BuildError
		if !errors.As(err, &be) {
			t.Fatalf("err = %v, want a *BuildError", err)
		}
		if be.Layer != LayerProject || be.Step != 3 || !strings.HasPrefix(be.Text, "RUN echo about to fail") {
			t.Fatalf("failure at %s step %d %q", be.Layer, be.Step, be.Text)
		}
		tail := strings.Join(be.Lines, "\n")
		if !strings.Contains(tail, "about to fail") || !strings.Contains(tail, "/no-such-dir") || !strings.Contains(err.Error(), "exit status 9") {
			t.Fatalf("last lines %q, error %v", be.Lines, err)
		}
		d, err := pm.API.InspectImage(ctx, ProjectRef("demo"))
		if err != nil || d.ID != first.ImageID {
			t.Fatalf("%s is %s (%v), want the previous %s", ProjectRef("demo"), d.ID, err, first.ImageID)
		}
	})

	t.Run("refresh with nothing new downloads nothing", func(t *testing.T) {
		n := tr.count()
		res, log, err := build("RUN echo snippet-two > /etc/terok-snippet\n", RefreshAgents)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := log.kinds(), "reused base, reused agents, reused project"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		asked := tr.since(n)
		if len(asked) != 3 {
			t.Fatalf("the refresh asked the registry %d times, want 3 (npm, claude, opencode): %v", len(asked), asked)
		}
		for _, u := range asked {
			if !strings.HasPrefix(u, "GET "+DefaultRegistry+"/") || strings.Contains(u, "/-/") {
				t.Fatalf("the refresh fetched more than versions: %s", u)
			}
		}
		if res.ImageID != first.ImageID {
			t.Fatal("a refresh with nothing new changed the image")
		}
	})

	t.Run("no CA in any layer", func(t *testing.T) {
		out := runIn(t, ctx, pm, podmanapi.CreateSpec{Image: first.Image, Command: []string{"sh", "-c", "ls -A /run/secrets 2>/dev/null; echo end"}})
		if out != "end\n" {
			t.Fatalf("/run/secrets in the image holds %q", out)
		}
	})

	for _, name := range []string{"claude", "opencode"} {
		t.Run(name+" answers from a fake model", func(t *testing.T) { runAgent(t, ctx, pm, store, first.Image, name) })
	}
}

// importBase imports the cached task rootfs as the default base image.
func importBase(t *testing.T, ctx context.Context, pm *podmantest.Podman) {
	t.Helper()
	cmd := exec.Command("tar", "-C", TaskRootfs, "--numeric-owner", "--exclude=./.terok-rootfs-complete", "-c", ".")
	var tarball bytes.Buffer
	cmd.Stdout = &tarball
	if err := cmd.Run(); err != nil {
		t.Fatalf("tar %s: %v", TaskRootfs, err)
	}
	if _, err := pm.API.ImportImage(ctx, DefaultBase, &tarball); err != nil {
		t.Fatal(err)
	}
}

// checkLayers: each built layer's tag carries its hash, its labels say
// what went in, and the project's image is the last layer.
func checkLayers(t *testing.T, ctx context.Context, api *podmanapi.Client, res Result) {
	t.Helper()
	if len(res.Layers) != 3 {
		t.Fatalf("layers %+v", res.Layers)
	}
	for _, l := range res.Layers[1:] {
		d, err := api.InspectImage(ctx, l.Ref)
		if err != nil || d.ID != l.ImageID {
			t.Fatalf("%s: %+v %v", l.Ref, d, err)
		}
		if !strings.HasSuffix(l.Ref, ":"+l.Hash[:tagLen]) || d.Labels[LabelHash] != l.Hash || d.Labels[LabelLayer] != l.Name {
			t.Fatalf("%s: labels %v, hash %s", l.Ref, d.Labels, l.Hash)
		}
	}
	agents, _ := api.InspectImage(ctx, res.Layers[1].Ref)
	want := fmt.Sprintf("claude@%s opencode@%s", res.Versions["claude"], res.Versions["opencode"])
	if agents.Labels[LabelAgents] != want || agents.Labels[LabelParent] != res.Layers[0].ImageID {
		t.Fatalf("agents labels %v, want agents %q on %s", agents.Labels, want, res.Layers[0].ImageID)
	}
	// The recipes' telemetry settings are in the image's environment.
	env := strings.Join(agents.Config.Env, "\n")
	for _, kv := range []string{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "OPENCODE_DISABLE_AUTOUPDATE=1"} {
		if !strings.Contains(env, kv) {
			t.Fatalf("image environment lacks %s:\n%s", kv, env)
		}
	}
	proj, err := api.InspectImage(ctx, ProjectRef("demo"))
	if err != nil || proj.ID != res.ImageID || proj.ID != res.Layers[2].ImageID {
		t.Fatalf("%s: %+v %v", ProjectRef("demo"), proj, err)
	}
}

// reportSizes logs each step's layer size of the agents layer (for the
// docs' table).
func reportSizes(t *testing.T, ctx context.Context, api *podmanapi.Client, res Result) {
	h, err := api.ImageHistory(ctx, res.Layers[1].ImageID)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, l := range h {
		if strings.Contains(l.CreatedBy, "ADD file:") || l.Size == 0 {
			continue
		}
		total += l.Size
		by := l.CreatedBy
		if i := strings.Index(by, "npm install --global"); i >= 0 {
			by = by[i:]
		}
		t.Logf("agents layer step %6.1f MB  %.90s", float64(l.Size)/1e6, by)
	}
	t.Logf("agents layer total %.1f MB on the base", float64(total)/1e6)
}

// runIn runs a container (no network unless spec says) and returns its
// output; a container still running after 3 minutes fails the test.
func runIn(t *testing.T, ctx context.Context, pm *podmantest.Podman, spec podmanapi.CreateSpec) string {
	t.Helper()
	if spec.NetNS == nil {
		spec.NetNS = &podmanapi.Namespace{Mode: "none"}
	}
	cr, err := pm.API.CreateContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.API.RemoveContainer(context.Background(), cr.ID, podmanapi.RemoveOptions{Force: true})
	if err := pm.API.StartContainer(ctx, cr.ID); err != nil {
		t.Fatalf("start: %v\n%s", err, pm.Log.String())
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	code, werr := pm.API.WaitContainer(wctx, cr.ID)
	var out bytes.Buffer
	pm.API.ContainerLogs(ctx, cr.ID, podmanapi.LogOptions{}, &out, &out)
	if werr != nil || code != 0 {
		t.Fatalf("%v exited %d (%v):\n%s", spec.Command, code, werr, out.String())
	}
	return out.String()
}

// runAgent runs the agent's headless command line from its recipe with
// its provider's base URL pointed at a fake model server on the host's
// loopback and checks the
// answer came back through the agent and the fake saw its request.
func runAgent(t *testing.T, ctx context.Context, pm *podmantest.Podman, store recipes.Store, image, name string) {
	r, err := store.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	const answer = "FAKE-MODEL-ANSWER-7319"
	fake, err := fakemodel.Start("127.0.0.1:0", answer)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	var prov recipes.Provider
	for _, p := range r.Vault.Providers {
		if p.Name == "anthropic" {
			prov = p
		}
	}
	if prov.BaseURL.Env == "" {
		t.Fatalf("%s has no anthropic provider with a base-URL variable", name)
	}
	key := "sk-ant-terok-test-" + name
	// The host's loopback as the container sees it: slirp4netns (Podman
	// 4.3) at 10.0.2.2 when allowed; pasta (Podman 5) at an address it is
	// told to map there.
	host, netns, opts := "10.0.2.2", "slirp4netns", map[string][]string{"slirp4netns": {"allow_host_loopback=true"}}
	if pm.Tier.Network == "pasta" {
		host, netns, opts = "169.254.1.2", "pasta", map[string][]string{"pasta": {"--map-host-loopback", "169.254.1.2"}}
	}
	out := runIn(t, ctx, pm, podmanapi.CreateSpec{
		Image:          image,
		Command:        r.HeadlessArgv("Say hello."),
		WorkDir:        "/root",
		Env:            map[string]string{prov.BaseURL.Env: prov.BaseURL.URL(fmt.Sprintf("http://%s:%d", host, fake.Port())), prov.KeyEnv[0]: key},
		NetNS:          &podmanapi.Namespace{Mode: netns},
		NetworkOptions: opts,
	})
	if !strings.Contains(out, answer) {
		t.Fatalf("%s's output lacks the fake model's answer:\n%s", name, out)
	}
	msgs := fake.Messages()
	if len(msgs) == 0 {
		t.Fatalf("the fake saw no Messages request, only %+v", fake.Requests())
	}
	for _, m := range msgs {
		if m.Header.Get("x-api-key") != key {
			t.Fatalf("request with key %q, want %q", m.Header.Get("x-api-key"), key)
		}
	}
	t.Logf("%s: %d requests to the fake; output %q", name, len(fake.Requests()), strings.TrimSpace(out))
}

// TestAllShippedAgents (opt-in: TEROK_TEST_ALL_AGENTS=1; it downloads
// every shipped agent, over 1 GB) builds one agents layer with every
// shipped recipe, logs each agent's share of the layer, runs each
// agent's binary, and points each at a fake server through its recipe's
// base-URL setting: the fake must see the agent's request (only the
// Anthropic-speaking agents get an answer they understand).
func TestAllShippedAgents(t *testing.T) {
	if os.Getenv("TEROK_TEST_ALL_AGENTS") != "1" {
		t.Skip("opt-in: TEROK_TEST_ALL_AGENTS=1 (downloads every shipped agent)")
	}
	pm := podmantest.StartTier(t, agentsTier(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	importBase(t, ctx, pm)
	npm, err := NewNPM(DefaultRegistry, HostCA)
	if err != nil {
		t.Fatal(err)
	}
	store := recipes.New(t.TempDir())
	names := recipes.ShippedNames()
	b := New(pm.API, store, npm, Config{CABundle: HostCA})
	start := time.Now()
	res, err := b.Build(ctx, Request{Project: "all", Spec: Spec{Agents: names}})
	if err != nil {
		t.Fatalf("%v\n%s", err, pm.Log.String())
	}
	t.Logf("all agents built in %s: %v", time.Since(start).Round(time.Second), res.Versions)
	reportSizes(t, ctx, pm.API, res)
	for _, name := range names {
		r, _ := store.Get(name)
		out := runIn(t, ctx, pm, podmanapi.CreateSpec{Image: res.Image, Command: []string{r.Binary, "--version"}})
		t.Logf("%s --version: %s", name, strings.TrimSpace(out))
		fake, err := fakemodel.Start("127.0.0.1:0", "FAKE-ANSWER")
		if err != nil {
			t.Fatal(err)
		}
		p := r.Vault.Providers[0]
		host, netns, opts := "10.0.2.2", "slirp4netns", map[string][]string{"slirp4netns": {"allow_host_loopback=true"}}
		if pm.Tier.Network == "pasta" {
			host, netns, opts = "169.254.1.2", "pasta", map[string][]string{"pasta": {"--map-host-loopback", "169.254.1.2"}}
		}
		url := p.BaseURL.URL(fmt.Sprintf("http://%s:%d", host, fake.Port()))
		env := map[string]string{p.KeyEnv[0]: "test-key-" + name}
		cmd := r.HeadlessArgv("Say hello.")
		if p.BaseURL.Env != "" {
			env[p.BaseURL.Env] = url
		} else {
			// A config key: the test writes the user's config file.
			file := strings.Replace(p.BaseURL.File, "~", "/root", 1)
			script := fmt.Sprintf(`mkdir -p %s && printf '%%s = "%%s"\n' %s %s > %s && exec "$@"`, filepath.Dir(file), p.BaseURL.Config, url, file)
			cmd = append([]string{"sh", "-c", script, "sh"}, cmd...)
		}
		cr, err := pm.API.CreateContainer(ctx, podmanapi.CreateSpec{Image: res.Image, Command: append([]string{"timeout", "60"}, cmd...), Env: env, WorkDir: "/root",
			NetNS: &podmanapi.Namespace{Mode: netns}, NetworkOptions: opts})
		if err != nil {
			t.Fatal(err)
		}
		pm.API.StartContainer(ctx, cr.ID)
		code, _ := pm.API.WaitContainer(ctx, cr.ID)
		var o bytes.Buffer
		pm.API.ContainerLogs(ctx, cr.ID, podmanapi.LogOptions{}, &o, &o)
		pm.API.RemoveContainer(ctx, cr.ID, podmanapi.RemoveOptions{Force: true})
		var paths []string
		for _, rq := range fake.Requests() {
			paths = append(paths, rq.Method+" "+rq.Path)
		}
		fake.Close()
		t.Logf("%s against the fake: exit %d, requests %v\n%s", name, code, paths, lastLines(o.String(), 6))
		if len(paths) == 0 {
			t.Errorf("%s: the fake saw no request through %s", name, url)
		}
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
