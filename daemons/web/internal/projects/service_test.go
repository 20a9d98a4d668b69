package projects

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/keylock"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

type fakeRepos struct{ err error }

func (f fakeRepos) EnsureRepo(ctx context.Context, req gateapi.EnsureRepoRequest) (gateapi.Repo, bool, error) {
	return gateapi.Repo{Name: req.Name}, true, f.err
}

func newService(t *testing.T, repos fakeRepos) (*Service, *tasks.Store) {
	t.Helper()
	st, err := tasks.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return NewService(New(t.TempDir()), repos, st, &keylock.Locks{}), st
}

// TestDeleteWaitsForTheTasks: a project with a task that has not ended
// is not deleted (the message says which task and what to do); once it
// ended, the project goes. A broken file can be deleted too.
func TestDeleteWaitsForTheTasks(t *testing.T) {
	s, st := newService(t, fakeRepos{})
	if _, err := s.Create(context.Background(), webapi.Project{Name: "demo"}); err != nil {
		t.Fatal(err)
	}
	task, _ := st.Create(tasks.Record{Project: "demo", State: webapi.StateRunning})
	err := s.Delete("demo")
	if !errors.Is(err, unixhttp.ErrConflict) || !strings.Contains(err.Error(), task.ID) || !strings.Contains(err.Error(), "terok task stop "+task.ID) {
		t.Fatalf("delete with a running task: %v", err)
	}
	st.Update(task.ID, func(r *tasks.Record) { r.State = webapi.StateExited })
	if err := s.Delete("demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("demo"); !errors.Is(err, unixhttp.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete("demo"); !errors.Is(err, unixhttp.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	os.MkdirAll(s.Store().Dir("broken"), 0o700)
	os.WriteFile(s.Store().File("broken"), []byte("limits: [\n"), 0o600)
	if err := s.Delete("broken"); err != nil {
		t.Fatalf("a broken file: %v", err)
	}
	if err := s.Delete("Bad Name"); !errors.Is(err, unixhttp.ErrBadRequest) {
		t.Fatalf("a bad name: %v", err)
	}
}

// TestDeleteWaitsForARecordBeingMade: a task's record is made under the
// project's lock (Hold): a deletion meanwhile waits, then sees the task.
func TestDeleteWaitsForARecordBeingMade(t *testing.T) {
	s, st := newService(t, fakeRepos{})
	s.Create(context.Background(), webapi.Project{Name: "demo"})
	unlock := s.Hold("demo")
	deleted := make(chan error, 1)
	go func() { deleted <- s.Delete("demo") }()
	select {
	case err := <-deleted:
		t.Fatalf("the deletion did not wait for the record: %v", err)
	case <-time.After(50 * time.Millisecond): // a bound for the wrong outcome; the right one is waited for below
	}
	st.Create(tasks.Record{Project: "demo", State: webapi.StateStarting})
	unlock()
	if err := <-deleted; !errors.Is(err, unixhttp.ErrConflict) {
		t.Fatalf("delete after the record: %v", err)
	}
}

// TestCreateKeepsAProjectTheGateCannotServe: the gate down is a warning
// on the created project, not a failure.
func TestCreateKeepsAProjectTheGateCannotServe(t *testing.T) {
	s, _ := newService(t, fakeRepos{err: &unixhttp.DialError{Socket: "/run/terok/gate.sock", Err: errors.New("refused")}})
	info, err := s.Create(context.Background(), webapi.Project{Name: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], "the first task tries again") || !strings.Contains(info.Warnings[0], "terok-gate does not answer") {
		t.Fatalf("warnings %q", info.Warnings)
	}
	if _, err := s.Create(context.Background(), webapi.Project{Name: "demo"}); !errors.Is(err, unixhttp.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
}

// TestSaveRules: a project cannot be renamed nor made by Save; agent.env
// values sent back hidden keep what is stored, and a hidden value with
// nothing stored is dropped.
func TestSaveRules(t *testing.T) {
	s, _ := newService(t, fakeRepos{})
	s.Create(context.Background(), webapi.Project{Name: "demo", Agent: webapi.Agent{Env: map[string]string{"API_KEY": "sk-secret"}}})
	if _, err := s.Save("demo", webapi.Project{Name: "other"}); !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), "cannot be renamed") {
		t.Fatalf("rename: %v", err)
	}
	shown, _ := s.Get("demo")
	shown = HideEnv(shown)
	if shown.Agent.Env["API_KEY"] != webapi.HiddenValue {
		t.Fatalf("hidden: %v", shown.Agent.Env)
	}
	shown.Agent.Env["NEW"] = "v"
	shown.Agent.Env["GONE"] = webapi.HiddenValue
	saved, err := s.Save("demo", shown.Project)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Agent.Env["API_KEY"] != "sk-secret" || saved.Agent.Env["NEW"] != "v" {
		t.Fatalf("kept: %v", saved.Agent.Env)
	}
	if _, ok := saved.Agent.Env["GONE"]; ok {
		t.Fatal("a hidden value with nothing stored was kept as the placeholder")
	}
	if _, err := s.Save("nosuch", webapi.Project{}); !errors.Is(err, unixhttp.ErrNotFound) {
		t.Fatalf("save of a project that does not exist: %v", err)
	}
}

// TestConfigYMLValidated: a typo in config.yml's limits is refused with
// the file, the field and the fix (a task never runs without its limit).
func TestConfigYMLValidated(t *testing.T) {
	s, _ := newService(t, fakeRepos{})
	s.Create(context.Background(), webapi.Project{Name: "demo"})
	for yml, want := range map[string]string{
		"limits:\n  memory: 2gb\n":         "limits.memory",
		"limits:\n  pids: -1\n":            "limits.pids",
		"agent:\n  env:\n    TEROK_X: 1\n": "agent.env",
		"security_class: open\n":           "security_class",
	} {
		os.MkdirAll(s.Store().dir, 0o700)
		os.WriteFile(s.Store().ConfigFile(), []byte(yml), 0o600)
		_, _, err := s.Effective("demo")
		if !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), s.Store().ConfigFile()) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", yml, err)
		}
	}
	os.WriteFile(s.Store().ConfigFile(), []byte("limits:\n  memory: 2g\n"), 0o600)
	if p, _, err := s.Effective("demo"); err != nil || p.Limits.Memory != "2g" {
		t.Fatalf("a good config.yml: %+v %v", p.Limits, err)
	}
}
