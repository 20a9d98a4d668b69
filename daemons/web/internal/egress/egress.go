// Package egress is what a task may reach, as the shield enforces it:
// the shield's status of a running task, live allow and deny, its mode,
// its audit events, the panic switch for every task, and the profiles.
// The shield guards running tasks only.
package egress

import (
	"context"
	"fmt"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Shield is what the service needs of the shield (shieldapi.Client).
type Shield interface {
	Status(ctx context.Context, id string) (shieldapi.Status, error)
	Allow(ctx context.Context, id, target, forDur string) (shieldapi.Status, error)
	Deny(ctx context.Context, id, target string) (shieldapi.Status, error)
	SetMode(ctx context.Context, id string, m shieldapi.Mode) (shieldapi.Status, error)
	Panic(ctx context.Context) (shieldapi.PanicResult, error)
	Audit(ctx context.Context, id string, follow bool, fn func(shieldapi.Event) error) error
	Profiles(ctx context.Context) ([]shieldapi.Profile, error)
}

// Tasks finds tasks (runner.Runner).
type Tasks interface {
	Get(id string) (tasks.Record, error)
	Running(id string) (tasks.Record, error)
}

// Projects keeps projects' allowlists (projects.Service).
type Projects interface {
	AddAllow(name, target string) (webapi.ProjectInfo, error)
}

// Service is the shield of terok's tasks.
type Service struct {
	shield   Shield
	tasks    Tasks
	projects Projects
}

// New returns the service; p keeps the allows meant for a project's
// future tasks too (nil: none can be).
func New(s Shield, t Tasks, p Projects) *Service { return &Service{shield: s, tasks: t, projects: p} }

// container is the container of running task id.
func (s *Service) container(id string) (string, error) {
	t, err := s.tasks.Running(id)
	if err != nil {
		return "", fmt.Errorf("the shield only guards running tasks: %w", err)
	}
	return t.Container, nil
}

func shieldErr(err error) error { return fail.Daemon("terok-shield", "", err) }

// Status is the shield's state for running task id.
func (s *Service) Status(ctx context.Context, id string) (shieldapi.Status, error) {
	c, err := s.container(id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	st, err := s.shield.Status(ctx, c)
	return st, shieldErr(err)
}

// Allow lets running task id reach req.Target (for req.For when set);
// with req.Project the target also joins the task's project's allowlist
// for its future tasks, once the shield has allowed it live (so a target
// the shield refuses is never written to the project).
func (s *Service) Allow(ctx context.Context, id string, req webapi.AllowRequest) (shieldapi.Status, error) {
	t, err := s.tasks.Running(id)
	if err != nil {
		return shieldapi.Status{}, fmt.Errorf("the shield only guards running tasks: %w", err)
	}
	if req.Project && req.For != "" {
		return shieldapi.Status{}, fail.BadRequest("allow %s for %s and for the project's future tasks: a project's allowlist has no expiry; allow it for good, or for a while without the project", req.Target, req.For)
	}
	if req.Project && s.projects == nil {
		return shieldapi.Status{}, fail.Conflict("this terok-web keeps no project allowlists")
	}
	st, err := s.shield.Allow(ctx, t.Container, req.Target, req.For)
	if err != nil {
		return st, shieldErr(err)
	}
	if req.Project {
		if _, err := s.projects.AddAllow(t.Project, req.Target); err != nil {
			return st, fmt.Errorf("%s is allowed for task %s, but not added to project %s's allowlist: %w", req.Target, t.ID, t.Project, err)
		}
	}
	return st, nil
}

// Deny refuses req.Target to running task id.
func (s *Service) Deny(ctx context.Context, id string, req webapi.AllowRequest) (shieldapi.Status, error) {
	c, err := s.container(id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	st, err := s.shield.Deny(ctx, c, req.Target)
	return st, shieldErr(err)
}

// SetMode sets running task id's shield mode: up, down or block (open
// or block for a task without the shield).
func (s *Service) SetMode(ctx context.Context, id, mode string) (shieldapi.Status, error) {
	m := shieldapi.Mode(mode)
	if !m.Valid() {
		return shieldapi.Status{}, fail.BadRequest("mode %q: use up, down or block (open or block for a task without the shield)", mode)
	}
	c, err := s.container(id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	st, err := s.shield.SetMode(ctx, c, m)
	return st, shieldErr(err)
}

// Audit calls fn with each shield event of task id (ended tasks too),
// and with follow the new ones until ctx ends.
func (s *Service) Audit(ctx context.Context, id string, follow bool, fn func(shieldapi.Event) error) error {
	t, err := s.tasks.Get(id)
	if err != nil {
		return err
	}
	if t.Container == "" {
		return fail.Conflict("task %s never had a container: it has no shield events", t.ID)
	}
	return shieldErr(s.shield.Audit(ctx, t.Container, follow, fn))
}

// Panic blocks every task's network at once.
func (s *Service) Panic(ctx context.Context) (shieldapi.PanicResult, error) {
	res, err := s.shield.Panic(ctx)
	return res, shieldErr(err)
}

// Profiles are the shield's profiles.
func (s *Service) Profiles(ctx context.Context) ([]shieldapi.Profile, error) {
	res, err := s.shield.Profiles(ctx)
	return res, shieldErr(err)
}
