package projects

import (
	"context"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/keylock"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Repos is what the service needs of the gate (gateapi.Client).
type Repos interface {
	EnsureRepo(ctx context.Context, req gateapi.EnsureRepoRequest) (gateapi.Repo, bool, error)
}

// Tasks lists a project's task records (tasks.Store).
type Tasks interface {
	List(project string) []tasks.Record
}

// Service is what every front end (API, UI, CLI) does with projects: the
// files, the project's gate repository, and the rules that tie them to
// tasks. A project is deleted only while none of its tasks runs: deletion
// and a new task's record take the same per-project lock (Hold).
type Service struct {
	store *Store
	repos Repos
	tasks Tasks
	locks *keylock.Locks
}

// NewService returns the service over store; locks is shared with the
// runner (Hold).
func NewService(store *Store, repos Repos, tasks Tasks, locks *keylock.Locks) *Service {
	return &Service{store: store, repos: repos, tasks: tasks, locks: locks}
}

// Store is the project files.
func (s *Service) Store() *Store { return s.store }

// Hold locks project name's records: Delete waits while it is held, and
// a task recorded under it is seen by Delete. The caller unlocks.
func (s *Service) Hold(name string) (unlock func()) { return s.locks.Lock("project/" + name) }

// List is every project; a file that does not load is listed with its
// error in Warnings.
func (s *Service) List() ([]webapi.ProjectInfo, error) {
	ps, err := s.store.List()
	if err != nil {
		return nil, err
	}
	out := make([]webapi.ProjectInfo, len(ps))
	for i, p := range ps {
		out[i] = p.Wire()
	}
	return out, nil
}

// Get is one project.
func (s *Service) Get(name string) (webapi.ProjectInfo, error) {
	p, err := s.store.Get(name)
	if err != nil {
		return webapi.ProjectInfo{}, err
	}
	return p.Wire(), nil
}

// Create writes a new project and makes its gate repository now, so the
// project can be cloned from the host before its first task. A project
// the gate cannot serve yet (down, upstream unreachable) is kept: the
// answer's warnings say why, and the first task tries again.
func (s *Service) Create(ctx context.Context, w webapi.Project) (webapi.ProjectInfo, error) {
	p := FromWire(w)
	keepHidden(&p, nil)
	unlock := s.Hold(p.Name)
	info, err := s.store.Create(p)
	unlock()
	if err != nil {
		return webapi.ProjectInfo{}, err
	}
	if err := s.EnsureRepo(ctx, info.Project); err != nil {
		info.Warnings = append(info.Warnings, "gate repository not created yet (the first task tries again): "+err.Error())
	}
	return info.Wire(), nil
}

// Save replaces project name with w; a project cannot be renamed (w's
// name is name or empty). Keys of the file this version does not know
// are kept, and agent.env values sent as webapi.HiddenValue keep what is
// stored.
func (s *Service) Save(name string, w webapi.Project) (webapi.ProjectInfo, error) {
	if w.Name == "" {
		w.Name = name
	}
	if w.Name != name {
		return webapi.ProjectInfo{}, fail.BadRequest("the body names project %q, the path %q: a project cannot be renamed", w.Name, name)
	}
	unlock := s.Hold(name)
	defer unlock()
	cur, err := s.store.Get(name)
	if err != nil && !isBroken(err) {
		return webapi.ProjectInfo{}, err
	}
	p := FromWire(w)
	keepHidden(&p, cur.Agent.Env)
	info, err := s.store.Save(p)
	if err != nil {
		return webapi.ProjectInfo{}, err
	}
	return info.Wire(), nil
}

// isBroken reports a project file that exists but does not load: it may
// still be replaced or deleted.
func isBroken(err error) bool { return fail.Status(err) == 400 }

// Delete removes a project's directory. It refuses while a task of the
// project has not ended (stop it first); a file that does not load can
// still be deleted.
func (s *Service) Delete(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	unlock := s.Hold(name)
	defer unlock()
	for _, t := range s.tasks.List(name) {
		if !t.Done() {
			return fail.Conflict("project %s has task %s %s: stop it first (terok task stop %s)", name, t.ID, t.State, t.ID)
		}
	}
	return s.store.Delete(name)
}

// Effective is project name as a task runs it: config.yml's defaults
// filled in. file is the project's file (for messages).
func (s *Service) Effective(name string) (p Project, file string, err error) {
	info, err := s.store.Get(name)
	if err != nil {
		return Project{}, "", err
	}
	defs, _, err := s.store.Defaults()
	if err != nil {
		return Project{}, "", err
	}
	return Effective(info.Project, defs), info.File, nil
}

// EnsureRepo makes sure the project's gate repository exists: a mirror
// of its upstream, or an empty repository for a local-only project. A
// project's repository is ensured by one caller at a time (a first
// mirror may take a while); an error names the gate or the upstream.
func (s *Service) EnsureRepo(ctx context.Context, p Project) error {
	unlock := s.locks.Lock("gate/" + p.Name)
	defer unlock()
	_, _, err := s.repos.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: p.Name, Upstream: p.Git.UpstreamURL,
		DefaultBranch: p.Git.DefaultBranch, Policy: p.SecurityClass})
	if err != nil {
		return GateErr(p, "ensure the gate repository "+p.Name, err)
	}
	return nil
}

// HideEnv replaces agent.env's values (API keys live there) with
// webapi.HiddenValue: what a browser session is shown.
func HideEnv(p webapi.ProjectInfo) webapi.ProjectInfo {
	if len(p.Agent.Env) == 0 {
		return p
	}
	env := make(map[string]string, len(p.Agent.Env))
	for k := range p.Agent.Env {
		env[k] = webapi.HiddenValue
	}
	p.Agent.Env = env
	return p
}

// keepHidden puts the stored values back for webapi.HiddenValue entries
// (dropping those with nothing stored).
func keepHidden(p *Project, stored map[string]string) {
	for k, v := range p.Agent.Env {
		if v == webapi.HiddenValue {
			if old, ok := stored[k]; ok {
				p.Agent.Env[k] = old
			} else {
				delete(p.Agent.Env, k)
			}
		}
	}
}
