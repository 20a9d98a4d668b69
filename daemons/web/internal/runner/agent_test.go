package runner

import (
	"context"
	"errors"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/agentsettings"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

const toolRecipe = `name: tool
description: a test agent
package: {npm: "@example/tool", version: "^1.2.0"}
binary: tool
run: {headless: [tool, --yes, "it's", -p, "{prompt}"], interactive: [tool, --tui]}
env: {TOOL_TELEMETRY: "off", TOOL_MODEL: "small"}
egress: [updates.example.com]
vault: {providers: [{name: example, api: api.example.com, base_url: {env: TOOL_BASE_URL}, key_env: [TOOL_KEY], logins: [api-key]}]}
`

type recipeMap map[string]recipes.Recipe

func (m recipeMap) Get(name string) (recipes.Recipe, error) {
	r, ok := m[name]
	if !ok {
		return r, recipes.ErrUnknown
	}
	return r, nil
}

func toolRecipes(t *testing.T) recipeMap {
	t.Helper()
	r, err := recipes.Parse("tool.yml", "tool", []byte(toolRecipe))
	if err != nil {
		t.Fatal(err)
	}
	return recipeMap{"tool": r}
}

// fakeBuilds stands in for images.Service: a status per call, and a
// build that makes the image current.
type fakeBuilds struct {
	mu      sync.Mutex
	state   string
	id      string
	builds  int
	targets []images.Target
}

func (f *fakeBuilds) Status(ctx context.Context, t images.Target) (webapi.ImageStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = append(f.targets, t)
	st := webapi.ImageStatus{Project: t.Project, Image: images.ProjectRef(t.Project), State: f.state, ImageID: f.id}
	switch f.state {
	case webapi.ImageStale:
		st.Reason = st.Image + " is stale: the snippet changed since it was built: terok project build " + t.Project + " builds it again"
	case webapi.ImageMissing:
		st.Reason = st.Image + " is not built yet: terok project build " + t.Project + " builds it"
	}
	return st, nil
}

func (f *fakeBuilds) Build(ctx context.Context, t images.Target, mode images.Mode, progress func(images.Event)) (images.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds++
	f.state, f.id = webapi.ImageCurrent, "sha256:built2"
	return images.Result{Image: images.ProjectRef(t.Project), ImageID: f.id}, nil
}

func agentRunner(t *testing.T, b *fakeBuilds, cfg Config) (*Runner, *projects.Store, *fakePodman) {
	t.Helper()
	pm := &fakePodman{net: podmanapi.NetPasta, image: true, exit: make(chan int, 4)}
	cfg.Entry, cfg.GatePort = "/opt/terok-entry", 9418
	r, ps := newRunnerWith(t, cfg, pm, &fakeGate{})
	r.builds, r.recipes = b, toolRecipes(t)
	return r, ps, pm
}

func TestAgentCommand(t *testing.T) {
	rc := toolRecipes(t)["tool"]
	if got, want := AgentCommand(rc, webapi.ModeHeadless), `tool --yes 'it'\''s' -p "$TEROK_PROMPT"`; got != want {
		t.Fatalf("headless %s, want %s", got, want)
	}
	if got, want := AgentCommand(rc, webapi.ModeInteractive), `tool --tui`; got != want {
		t.Fatalf("interactive %s, want %s", got, want)
	}
	// The shipped recipes' commands, as a task runs them.
	claude, err := recipes.Shipped("claude")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := AgentCommand(claude, webapi.ModeHeadless), `claude --dangerously-skip-permissions -p "$TEROK_PROMPT"`; got != want {
		t.Fatalf("claude %s, want %s", got, want)
	}
	for _, s := range []string{"a b", "$(id)", "`x`", "a;b", "", "x'y"} {
		if q := shellQuote(s); !strings.HasPrefix(q, "'") {
			t.Errorf("%q not quoted: %s", s, q)
		}
	}
}

// TestAgentTask: a task of an agent runs the project's built image with
// the recipe's command (the prompt from $TEROK_PROMPT), the recipe's
// environment under the project's own, and the recipe's hosts added to
// its shield allowlist.
func TestAgentTask(t *testing.T) {
	b := &fakeBuilds{state: webapi.ImageCurrent, id: "sha256:built1"}
	r, ps, pm := agentRunner(t, b, Config{})
	ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Env: map[string]string{"TOOL_MODEL": "big"}},
		Shield: projects.Shield{Allow: []string{"a.example"}}, Build: projects.Build{Agents: []string{"tool"}}})
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo", Prompt: "fix it; rm -rf /"})
	if err != nil {
		t.Fatal(err)
	}
	if task.Agent != "tool" || task.Image != images.ProjectRef("demo") || task.ImageID != "sha256:built1" ||
		task.Command != `tool --yes 'it'\''s' -p "$TEROK_PROMPT"` {
		t.Fatalf("record %+v", task)
	}
	s := pm.specs[0]
	if s.Image != images.ProjectRef("demo") || s.Env["TEROK_AGENT_COMMAND"] != task.Command || s.Env["TEROK_PROMPT"] != "fix it; rm -rf /" {
		t.Fatalf("spec image %s env %v", s.Image, s.Env)
	}
	if s.Env["TOOL_TELEMETRY"] != "off" || s.Env["TOOL_MODEL"] != "big" || s.Env["TEROK_AGENT"] != "tool" {
		t.Fatalf("env %v: want the recipe's telemetry off and the project's TOOL_MODEL", s.Env)
	}
	if got := s.Annotations[shieldapi.AnnotationAllow]; got != "a.example,api.example.com,updates.example.com" {
		t.Fatalf("allowlist %q", got)
	}
	if len(s.Mounts) != 1 {
		t.Fatalf("mounts %+v: no CA asked for", s.Mounts)
	}
	pm.exit <- 0
	// The project's image is rebuilt: the task says its image is older.
	b.mu.Lock()
	b.id = "sha256:built9"
	b.mu.Unlock()
	got, _ := r.store.Get(task.ID)
	if w := r.ImageStale(context.Background(), got); !strings.Contains(w, "rebuilt since this task started") {
		t.Fatalf("stale %q", w)
	}
	b.mu.Lock()
	b.id = "sha256:built1"
	b.mu.Unlock()
	if w := r.ImageStale(context.Background(), got); w != "" {
		t.Fatalf("current image said stale: %q", w)
	}
}

// TestAgentTaskRefusals: a missing or stale image is refused naming the
// command that builds it, before any record or container; --build builds
// first; an agent outside build.agents, an agent with a command, an
// agent of a project without agents are
// refused with the fix.
func TestAgentTaskRefusals(t *testing.T) {
	b := &fakeBuilds{state: webapi.ImageStale, id: "sha256:old"}
	r, ps, pm := agentRunner(t, b, Config{})
	ps.Create(projects.Project{Name: "demo", Build: projects.Build{Agents: []string{"tool"}, Snippet: "RUN true"}})
	ps.Create(projects.Project{Name: "plain", Agent: projects.Agent{Command: "make"}})
	ctx := context.Background()
	_, err := r.Run(ctx, webapi.RunRequest{Project: "demo", Prompt: "x"})
	if !errors.Is(err, ErrImageStale) || !strings.Contains(err.Error(), "terok project build demo") || !strings.Contains(err.Error(), "--build") {
		t.Fatalf("stale: %v", err)
	}
	b.state = webapi.ImageMissing
	if _, err = r.Run(ctx, webapi.RunRequest{Project: "demo"}); !errors.Is(err, ErrImageMissing) || !strings.Contains(err.Error(), "not built yet") {
		t.Fatalf("missing: %v", err)
	}
	if ts, _ := r.List("demo"); len(ts) != 0 || len(pm.specs) != 0 {
		t.Fatalf("refused starts left %d records, %d containers", len(ts), len(pm.specs))
	}
	task, err := r.Run(ctx, webapi.RunRequest{Project: "demo", Prompt: "x", Build: true})
	if err != nil || b.builds != 1 || task.ImageID != "sha256:built2" {
		t.Fatalf("--build: %+v %v (%d builds)", task, err, b.builds)
	}
	for _, tc := range []struct {
		req  webapi.RunRequest
		want string
	}{
		{webapi.RunRequest{Project: "demo", Agent: "other"}, "agent other is not in project demo's image (build.agents: tool)"},
		{webapi.RunRequest{Project: "demo", Agent: "tool", Command: "make"}, "not both"},
		{webapi.RunRequest{Project: "plain", Agent: "tool"}, "add build.agents: [tool]"},
	} {
		_, err := r.Run(ctx, tc.req)
		if !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.req, err, tc.want)
		}
	}
}

// TestTaskCA: with build.host_ca: tasks a task gets the host's bundle
// read-only and the variables pointing tools at it; a bundle that is not
// there fails the start naming TEROK_HOST_CA.
func TestTaskCA(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
	b := &fakeBuilds{state: webapi.ImageCurrent, id: "sha256:built1"}
	r, ps, pm := agentRunner(t, b, Config{CABundle: ca})
	ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make"}, Build: projects.Build{Snippet: "RUN true", HostCA: images.CATasks}})
	if _, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"}); err != nil {
		t.Fatal(err)
	}
	s := pm.specs[0]
	var m *podmanapi.Mount
	for i := range s.Mounts {
		if s.Mounts[i].Destination == images.TaskCAPath {
			m = &s.Mounts[i]
		}
	}
	if m == nil || m.Source != ca || !strings.Contains(strings.Join(m.Options, ","), "ro") {
		t.Fatalf("mounts %+v", s.Mounts)
	}
	if s.Env["NODE_EXTRA_CA_CERTS"] != images.TaskCAPath || s.Env["SSL_CERT_FILE"] != images.TaskCAPath {
		t.Fatalf("env %v", s.Env)
	}
	pm.exit <- 0
	os.Remove(ca)
	_, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if err == nil || !strings.Contains(err.Error(), "TEROK_HOST_CA") {
		t.Fatalf("missing bundle: %v", err)
	}
}

// TestAgentTaskVault: the providers of a task's agent get phantoms when
// the vault holds a key for them, pointed at the broker the way the
// recipe says (its base URL variable, its key variables), and the
// provider's host is denied; without a key, or with the vault down, the
// task starts without (the agent uses agent.env) and the project's own
// agent.providers stay required.
func TestAgentTaskVault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vault  *fakeVault
		minted bool
		note   string
	}{
		{"a global key", &fakeVault{keys: []vaultapi.Secret{{Provider: "example"}}}, true, "phantom(s) minted"},
		{"the project's key", &fakeVault{keys: []vaultapi.Secret{{Provider: "example", Project: "demo"}}}, true, "phantom(s) minted"},
		{"another project's key", &fakeVault{keys: []vaultapi.Secret{{Provider: "example", Project: "other"}}}, false, ""},
		{"a key with a problem", &fakeVault{keys: []vaultapi.Secret{{Provider: "example", Problem: "expired"}}}, false, ""},
		{"no key", &fakeVault{}, false, ""},
		{"vault down", &fakeVault{down: true}, false, "terok-vault did not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBuilds{state: webapi.ImageCurrent, id: "sha256:built1"}
			r, ps, pm := agentRunner(t, b, Config{VaultPort: 9419})
			r.vault = tc.vault
			ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Env: map[string]string{"TOOL_KEY": "sk-real-in-agent-env"}},
				Build: projects.Build{Agents: []string{"tool"}}})
			task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo", Prompt: "p"})
			if err != nil {
				t.Fatal(err)
			}
			s := pm.specs[0]
			if tc.minted {
				if s.Env["TOOL_KEY"] != phantomToken+"example" || s.Env["TOOL_BASE_URL"] != "http://host.containers.internal:9419/example" {
					t.Fatalf("env %v: want the phantom in TOOL_KEY and the broker in TOOL_BASE_URL", s.Env)
				}
				if s.Annotations[shieldapi.AnnotationDeny] != "api.example.com" {
					t.Fatalf("deny %q", s.Annotations[shieldapi.AnnotationDeny])
				}
			} else {
				if s.Env["TOOL_KEY"] != "sk-real-in-agent-env" || s.Env["TOOL_BASE_URL"] != "" || s.Annotations[shieldapi.AnnotationDeny] != "" {
					t.Fatalf("env %v deny %q: want agent.env's key, no broker, no deny", s.Env, s.Annotations[shieldapi.AnnotationDeny])
				}
			}
			if tc.note != "" {
				if tl := timelineText(t, r, task.ID); !strings.Contains(tl, tc.note) {
					t.Fatalf("timeline lacks %q:\n%s", tc.note, tl)
				}
			}
		})
	}
}

// TestAgentTaskVaultConfigFile: an agent whose recipe keeps the base URL
// in its config file (the shipped Codex: openai_base_url in
// ~/.codex/config.toml, "{url}/v1") gets the setting for terok-entry to
// write, pointing at the broker with the phantom's path, and the phantom
// in its key variables; without a phantom it gets no setting.
func TestAgentTaskVaultConfigFile(t *testing.T) {
	codex, err := recipes.Shipped("codex")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		vault  *fakeVault
		minted bool
	}{
		{"a key in the vault", &fakeVault{keys: []vaultapi.Secret{{Provider: "openai"}}}, true},
		{"no key", &fakeVault{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBuilds{state: webapi.ImageCurrent, id: "sha256:built1"}
			r, ps, pm := agentRunner(t, b, Config{VaultPort: 9419})
			r.recipes, r.vault = recipeMap{"codex": codex}, tc.vault
			ps.Create(projects.Project{Name: "demo", Build: projects.Build{Agents: []string{"codex"}}})
			task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo", Prompt: "p"})
			if err != nil {
				t.Fatal(err)
			}
			s := pm.specs[0]
			if !tc.minted {
				if v, set := s.Env[agentsettings.Env]; set {
					t.Fatalf("%s = %q without a phantom", agentsettings.Env, v)
				}
				return
			}
			got, err := agentsettings.Decode(s.Env[agentsettings.Env])
			if err != nil {
				t.Fatalf("%s = %q: %v", agentsettings.Env, s.Env[agentsettings.Env], err)
			}
			want := []agentsettings.Setting{{File: "~/.codex/config.toml", Key: "openai_base_url", Value: "http://host.containers.internal:9419/openai/v1"}}
			if !slices.Equal(got, want) {
				t.Fatalf("settings %+v, want %+v", got, want)
			}
			for _, k := range []string{"OPENAI_API_KEY", "CODEX_API_KEY"} {
				if s.Env[k] != phantomToken+"openai" {
					t.Errorf("%s = %q, want the phantom", k, s.Env[k])
				}
			}
			if s.Annotations[shieldapi.AnnotationDeny] != "api.openai.com" {
				t.Errorf("deny %q", s.Annotations[shieldapi.AnnotationDeny])
			}
			if tl := timelineText(t, r, task.ID); !strings.Contains(tl, "sets openai_base_url in ~/.codex/config.toml to the broker") {
				t.Errorf("timeline lacks the setting:\n%s", tl)
			}
		})
	}
}
