package runner

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// fakeVault stands in for terok-vault's admin API.
type fakeVault struct {
	mu       sync.Mutex
	down     bool
	unknown  bool // mint answers 404 (no secret for the provider)
	minted   []string
	revoked  []string
	phantoms []vaultapi.Phantom // what Phantoms lists
	keys     []vaultapi.Secret  // what ListSecrets lists
}

func (v *fakeVault) ListSecrets(ctx context.Context, project string) ([]vaultapi.Secret, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.down {
		return nil, vaultDown
	}
	return v.keys, nil
}

var vaultDown = &unixhttp.DialError{Socket: "/run/terok/vault.sock", Err: errors.New("connection refused")}

const phantomToken = "sk-ant-api03-PHANTOMPHANTOMAA"

func (v *fakeVault) MintPhantoms(ctx context.Context, project, task string, providers []string) ([]vaultapi.Phantom, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.down {
		return nil, vaultDown
	}
	if v.unknown {
		return nil, &unixhttp.APIError{Status: 404, Message: "no credential stored for provider anthropic (neither for project demo nor global)"}
	}
	var out []vaultapi.Phantom
	for _, p := range providers {
		v.minted = append(v.minted, task+"/"+p)
		ph := vaultapi.Phantom{ID: "ph-" + p, Project: project, Task: task, Provider: p, PathPrefix: "/" + p, Token: phantomToken + p}
		switch p {
		case "anthropic":
			ph.Upstream = "https://api.anthropic.com"
			ph.Env = []vaultapi.EnvHint{{Name: "ANTHROPIC_BASE_URL", Value: "{broker}/anthropic"}, {Name: "ANTHROPIC_API_KEY", Value: "{phantom}"}}
		case "openai":
			ph.Upstream = "https://api.openai.com"
			ph.Env = []vaultapi.EnvHint{{Name: "OPENAI_BASE_URL", Value: "{broker}/openai/v1"}, {Name: "OPENAI_API_KEY", Value: "{phantom}"}}
		default:
			ph.Upstream = "https://api." + p + ".com"
		}
		out = append(out, ph)
	}
	return out, nil
}

func (v *fakeVault) RevokeTask(ctx context.Context, project, task string) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.down {
		return 0, vaultDown
	}
	n := 0
	for _, m := range v.minted {
		if strings.HasPrefix(m, task+"/") {
			n++
		}
	}
	for _, p := range v.phantoms {
		if p.Task == task && p.Project == project && p.Revoked == nil {
			n++
		}
	}
	v.revoked = append(v.revoked, task)
	return n, nil
}

func (v *fakeVault) Phantoms(ctx context.Context, project, task string) ([]vaultapi.Phantom, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.down {
		return nil, vaultDown
	}
	return v.phantoms, nil
}

func (v *fakeVault) Audit(ctx context.Context, project, task string, limit int) (vaultapi.AuditReport, error) {
	return vaultapi.AuditReport{Project: project, Task: task, Counts: vaultapi.AuditCounts{Requests: 3, Forwarded: 2, Refused: 1}}, nil
}

func (v *fakeVault) revokedTasks() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return strings.Join(v.revoked, ",")
}

func withVault(v Vault) func(*Deps) { return func(d *Deps) { d.Vault = v } }

func newVaultRunner(t *testing.T, pm *fakePodman, v Vault) (*Runner, *projects.Store, *fakeGate) {
	t.Helper()
	g := &fakeGate{}
	ctx, cancel := context.WithCancel(context.Background())
	r, ps := newRunnerCtx(t, ctx, Config{Entry: "/opt/terok-entry", GatePort: 9418, VaultPort: 9419}, pm, g, withVault(v))
	t.Cleanup(func() { cancel(); r.Wait() })
	return r, ps, g
}

func timelineText(t *testing.T, r *Runner, id string) string {
	t.Helper()
	es, err := r.Timeline(id)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Detail + "\n")
	}
	return b.String()
}

// TestCredentialsLentToTheTask: a project that needs providers gets a
// phantom per provider in the agent's variables, with the broker at the
// gate's host (slirp4netns and pasta), its agent.env key replaced, the
// providers' hosts denied (shield off too), the counts (never a token)
// in the timeline, and the phantoms revoked when the task ends.
func TestCredentialsLentToTheTask(t *testing.T) {
	for _, tc := range []struct{ net, host string }{
		{podmanapi.NetSlirp4netns, "10.0.2.2"},
		{podmanapi.NetPasta, "host.containers.internal"},
	} {
		t.Run(tc.net, func(t *testing.T) {
			pm := &fakePodman{net: tc.net, image: true, exit: make(chan int, 1)}
			v := &fakeVault{}
			r, ps, _ := newVaultRunner(t, pm, v)
			off := false
			ps.Create(projects.Project{Name: "demo", Shield: projects.Shield{Enabled: &off},
				Agent: projects.Agent{Command: "make", Providers: []string{"openai", "anthropic", "openai"},
					Env: map[string]string{"ANTHROPIC_API_KEY": "sk-ant-real-left-in-project-yml", "OTHER": "x"}}})
			task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
			if err != nil {
				t.Fatal(err)
			}
			s := pm.specs[0]
			want := map[string]string{
				"ANTHROPIC_BASE_URL": "http://" + tc.host + ":9419/anthropic",
				"ANTHROPIC_API_KEY":  phantomToken + "anthropic",
				"OPENAI_BASE_URL":    "http://" + tc.host + ":9419/openai/v1",
				"OPENAI_API_KEY":     phantomToken + "openai",
				"OTHER":              "x",
			}
			for k, w := range want {
				if s.Env[k] != w {
					t.Errorf("%s = %q, want %q", k, s.Env[k], w)
				}
			}
			if got := s.Annotations[shieldapi.AnnotationDeny]; got != "api.anthropic.com,api.openai.com" {
				t.Errorf("deny annotation %q, want both providers' hosts", got)
			}
			if got, _ := r.store.Get(task.ID); got.Phantoms != 2 {
				t.Errorf("record: %d phantoms, want 2", got.Phantoms)
			}
			pm.exit <- 0
			if _, err := r.WaitEnded(context.Background(), task.ID); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(v.revokedTasks(), task.ID) {
				t.Fatalf("revoked %q, want the task's phantoms", v.revokedTasks())
			}
			tl := timelineText(t, r, task.ID)
			for _, w := range []string{"credentials: 2 phantom(s) minted (anthropic, openai) for the vault's broker at http://" + tc.host + ":9419", "credentials: 2 phantom(s) revoked",
				"credentials: the broker handled 3 request(s) of this task: 2 forwarded, 1 refused"} {
				if !strings.Contains(tl, w) {
					t.Errorf("timeline lacks %q:\n%s", w, tl)
				}
			}
			if strings.Contains(tl, phantomToken) {
				t.Errorf("the timeline holds a phantom:\n%s", tl)
			}
		})
	}
}

// TestCredentialsRefusedClearly: a task whose project needs credentials
// does not start without a vault, with the vault down or without a
// stored secret, each saying what to do; nothing is created and the gate
// token goes back. A project that needs none starts with the vault down.
func TestCredentialsRefusedClearly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vault  Vault
		status error
		want   []string
	}{
		{"no vault", nil, unixhttp.ErrUnavailable, []string{"project demo needs credentials for anthropic (agent.providers)", "start terok-vault"}},
		{"vault down", &fakeVault{down: true}, unixhttp.ErrUnavailable, []string{"needs credentials for anthropic", "terok-vault does not answer", "terok daemons status"}},
		{"no secret", &fakeVault{unknown: true}, unixhttp.ErrBadRequest, []string{"no credential stored for provider anthropic", "terok secret set PROVIDER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true, exit: make(chan int, 1)}
			r, ps, g := newVaultRunner(t, pm, tc.vault)
			ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make", Providers: []string{"anthropic"}}})
			task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
			if !errors.Is(err, tc.status) {
				t.Fatalf("err = %v, want %v", err, tc.status)
			}
			got, _ := r.store.Get(task.ID)
			for _, w := range tc.want {
				if !strings.Contains(got.Reason, w) {
					t.Errorf("reason lacks %q: %s", w, got.Reason)
				}
			}
			if got.State != webapi.StateFailed || len(pm.specs) != 0 {
				t.Fatalf("%s with %d containers created", got.State, len(pm.specs))
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			if strings.Join(g.revoked, ",") != task.ID {
				t.Fatalf("gate tokens revoked: %v", g.revoked)
			}
		})
	}
	t.Run("needs none", func(t *testing.T) {
		pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true, exit: make(chan int, 1)}
		r, ps, _ := newVaultRunner(t, pm, &fakeVault{down: true})
		ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make"}})
		task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := pm.specs[0].Annotations[shieldapi.AnnotationDeny]; ok {
			t.Error("a deny annotation without providers")
		}
		pm.exit <- 0
		if _, err := r.WaitEnded(context.Background(), task.ID); err != nil {
			t.Fatal(err)
		}
		if tl := timelineText(t, r, task.ID); strings.Contains(tl, "credentials") {
			t.Errorf("a task without credentials has notes about them:\n%s", tl)
		}
	})
}

// TestReconcileRevokesEndedTasksPhantoms: live phantoms of tasks that
// ended while terok-web was down are revoked; a running task's, an
// already revoked one and one minted by hand are left alone.
func TestReconcileRevokesEndedTasksPhantoms(t *testing.T) {
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true}
	v := &fakeVault{}
	r, _, _ := newVaultRunner(t, pm, v)
	ended, _ := r.store.Create(tasks.Record{Project: "demo", State: webapi.StateExited})
	gone, _ := r.store.Create(tasks.Record{Project: "demo", State: webapi.StateRunning, Container: "gone"})
	running, _ := r.store.Create(tasks.Record{Project: "demo", State: webapi.StateRunning, Container: "c-run"})
	old, _ := r.store.Create(tasks.Record{Project: "demo", State: webapi.StateExited})
	pm.list = []podmanapi.ContainerSummary{{ID: "c-run", State: "running", Labels: map[string]string{LabelTask: running.ID}}}
	pm.inspect = map[string]podmanapi.Container{"c-run": {ID: "c-run", State: podmanapi.ContainerState{Status: "running", Running: true}}}
	pm.exit = make(chan int, 1)
	now := time.Now()
	v.phantoms = []vaultapi.Phantom{
		{Project: "demo", Task: ended.ID}, {Project: "demo", Task: gone.ID}, {Project: "demo", Task: running.ID},
		{Project: "demo", Task: old.ID, Revoked: &now}, {Project: "demo", Task: "minted-by-hand"},
	}
	if err := r.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := v.revokedTasks()
	for _, id := range []string{ended.ID, gone.ID} {
		if !strings.Contains(got, id) {
			t.Errorf("revoked %q lacks the ended task %s", got, id)
		}
	}
	for _, id := range []string{running.ID, old.ID, "minted-by-hand"} {
		if strings.Contains(got, id) {
			t.Errorf("revoked %q holds %s", got, id)
		}
	}
	if tl := timelineText(t, r, ended.ID); !strings.Contains(tl, "credentials: 1 phantom(s) revoked after the task ended") {
		t.Errorf("timeline:\n%s", tl)
	}
	pm.exit <- 0
}

// TestRevokeRetriedWhileTheVaultIsDown: the vault goes away while a
// task with phantoms runs; its end notes the failure and the phantoms
// are revoked once the vault answers again (a reconcile at start does
// the same, and a vault down at reconcile does not stop terok-web).
func TestRevokeRetriedWhileTheVaultIsDown(t *testing.T) {
	old := revokeRetry
	revokeRetry = 10 * time.Millisecond
	defer func() { revokeRetry = old }()
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true, exit: make(chan int, 1)}
	v := &fakeVault{}
	r, ps, _ := newVaultRunner(t, pm, v)
	ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make", Providers: []string{"anthropic"}}})
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	v.down = true
	v.phantoms = []vaultapi.Phantom{{Project: "demo", Task: task.ID}}
	v.mu.Unlock()
	pm.exit <- 0
	if _, err := r.WaitEnded(context.Background(), task.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.Reconcile(context.Background()); err != nil {
		t.Fatalf("reconcile with the vault down: %v", err)
	}
	if tl := timelineText(t, r, task.ID); !strings.Contains(tl, "credentials: revoking the phantoms failed (retried until the vault answers)") {
		t.Fatalf("timeline:\n%s", tl)
	}
	v.mu.Lock()
	v.down = false
	v.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(v.revokedTasks(), task.ID) {
		if time.Now().After(deadline) {
			t.Fatal("the phantoms were never revoked once the vault answered")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
