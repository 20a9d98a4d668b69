package api

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/daemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/egress"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fakedaemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/keylock"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/overview"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/review"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/runner"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/secrets"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

// fixture is the API over the real domain layer, with the other daemons
// faked (package fakedaemons).
type fixture struct {
	t     *testing.T
	api   *API
	gate  *fakedaemons.Gate
	pm    *fakedaemons.Podman
	sh    *fakedaemons.Shield
	sup   *fakedaemons.Supervisor
	vault *fakedaemons.Vault
	tasks *runner.Runner
	store *tasks.Store
	// overview is the first screen's service.
	overview *overview.Service
}

const loginURL = "http://127.0.0.1:8566/?token=secret-token-0123456789"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, gate: &fakedaemons.Gate{}, vault: &fakedaemons.Vault{}, pm: &fakedaemons.Podman{Output: "agent says hi\n"}, sh: &fakedaemons.Shield{},
		sup: &fakedaemons.Supervisor{Log: "terok-gate: admin token: secret-token-0123456789\n", Programs: []supervisorapi.ProcessInfo{
			{Name: "terok-gate", StateName: "RUNNING", PID: 812}, {Name: "terok-vault", StateName: "STOPPED"}}}}
	st, err := tasks.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.store = st
	locks := &keylock.Locks{}
	ps := projects.NewService(projects.New(t.TempDir()), f.gate, st, locks)
	ims := images.NewService(f.pm, t.TempDir())
	hub := events.New()
	ctx, cancel := context.WithCancel(context.Background())
	f.tasks = runner.New(ctx, runner.Config{Entry: "/opt/terok-entry", GatePort: 9418, VaultPort: 9419, StopTimeout: 1},
		runner.Deps{Log: zerolog.Nop(), Store: st, Projects: ps, Gate: f.gate, Podman: f.pm, Shield: f.sh, Hub: hub, Locks: locks, Imports: ims, Vault: f.vault})
	t.Cleanup(func() { cancel(); f.tasks.Wait() })
	if err := f.tasks.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	problem := func(ctx context.Context, program string) string {
		if program == "terok-gate" {
			return "no upstream reachable"
		}
		return ""
	}
	rv, eg := review.New(f.gate, ps.Store(), f.tasks, "http://127.0.0.1:9418"), egress.New(f.sh, f.tasks, ps)
	f.overview = overview.New(ps, rv, f.tasks, eg, filepath.Join(t.TempDir(), "dismissed.json"))
	f.api = New(Deps{Log: zerolog.Nop(), Projects: ps, Tasks: f.tasks, Hub: hub,
		Review: rv, Egress: eg, Overview: f.overview,
		Images: ims, Daemons: daemons.New(f.sup, problem, "secret-token-0123456789"),
		LoginURL: loginURL, Exec: f.pm, Secrets: secrets.New(f.vault, ps)})
	return f
}

// req is one request: over web.sock unless via says otherwise.
type req struct {
	method, path, body string
	via                auth.Via
	header             map[string]string
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	f.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.via != "" {
		hr = hr.WithContext(auth.WithIdentity(hr.Context(), auth.Identity{Via: r.via, Session: "s1"}))
	}
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, hr)
	return w
}

func (f *fixture) must(r req, status int) string {
	f.t.Helper()
	w := f.do(r)
	if w.Code != status {
		f.t.Fatalf("%s %s: %d %s, want %d", r.method, r.path, w.Code, w.Body, status)
	}
	return w.Body.String()
}

// project makes project demo.
func (f *fixture) project() {
	f.t.Helper()
	f.must(req{method: "POST", path: Prefix + "/projects", body: `{"name": "demo", "agent": {"command": "make", "env": {"API_KEY": "sk-secret"}}}`}, 201)
}

// running starts a task of demo and returns it.
func (f *fixture) running() webapi.Task {
	f.t.Helper()
	var t webapi.Task
	json.Unmarshal([]byte(f.must(req{method: "POST", path: Prefix + "/tasks", body: `{"project": "demo", "prompt": "go"}`}, 201)), &t)
	if t.State != webapi.StateRunning {
		f.t.Fatalf("task %+v", t)
	}
	return t
}

// ended starts a task and waits for its end (exit 0).
func (f *fixture) ended() webapi.Task {
	f.t.Helper()
	t := f.running()
	f.pm.Exit(t.Container, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.tasks.WaitEnded(ctx, t.ID); err != nil {
		f.t.Fatal(err)
	}
	return t
}

// rootfs is a root filesystem tarball with a shell.
func rootfs() string {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	tw.Close()
	return b.String()
}

func errorOf(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not a JSON error: %s", body)
	}
	for _, words := range []string{"(HTTP", "bad request:", "not found:", "conflict:", "unavailable:", "forbidden:"} {
		if strings.Contains(e.Error, words) {
			t.Errorf("status words %q in %q", words, e.Error)
		}
	}
	return e.Error
}
