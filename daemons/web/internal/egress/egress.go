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

// Service is the shield of terok's tasks.
type Service struct {
	shield Shield
	tasks  Tasks
}

// New returns the service.
func New(s Shield, t Tasks) *Service { return &Service{shield: s, tasks: t} }

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

// Allow lets running task id reach req.Target (for req.For when set).
func (s *Service) Allow(ctx context.Context, id string, req webapi.AllowRequest) (shieldapi.Status, error) {
	c, err := s.container(id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	st, err := s.shield.Allow(ctx, c, req.Target, req.For)
	return st, shieldErr(err)
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
