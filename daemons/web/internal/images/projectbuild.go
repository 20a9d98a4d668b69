package images

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// buildTimeout bounds one build once it started: a cold agents layer
// takes minutes on a slow mirror.
const buildTimeout = 30 * time.Minute

// WithBuilder offers b's builds through the service (Build, Status) and
// returns the service. A build ends with life (terok-web's own life), not
// with its caller.
func (s *Service) WithBuilder(life context.Context, b *Builder) *Service {
	s.builder, s.life = b, life
	return s
}

// PublishTo has every build's progress but its output lines, and its
// end (done or error), published with pub (the events hub: every page
// showing the project follows a build whoever started it); it returns
// the service.
func (s *Service) PublishTo(pub func(webapi.Event)) *Service {
	s.publish = pub
	return s
}

// Builder is the service's builder (nil when builds are not offered).
func (s *Service) Builder() *Builder { return s.builder }

// Build builds t's image (see Builder.Build). Once started it goes on
// when the caller goes away (a change runs to its end), bounded by
// buildTimeout and by the service's life (a build cut short leaves the
// project's image as it was); progress gets every event from the
// build's goroutine.
func (s *Service) Build(ctx context.Context, t Target, mode Mode, progress func(Event)) (Result, error) {
	if s.builder == nil {
		return Result{}, fail.Unavailable("image builds are not offered: terok-web's Podman client cannot build")
	}
	if !t.Built() {
		return Result{}, fail.BadRequest("project %s has no build: section, so there is nothing to build (its tasks run %s): add build.agents or build.snippet to its project.yml", t.Project, t.base())
	}
	s.mu.Lock()
	s.building[t.Project]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.building[t.Project]--; s.building[t.Project] <= 0 {
			delete(s.building, t.Project)
		}
		s.mu.Unlock()
	}()
	life := s.life
	if life == nil {
		life = context.Background()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), buildTimeout)
	defer cancel()
	stop := context.AfterFunc(life, cancel)
	defer stop()
	pub := func(e webapi.BuildEvent) {
		if s.publish != nil {
			s.publish(webapi.Event{Type: webapi.EventBuild, Build: &e})
		}
	}
	each := func(e Event) {
		if e.Kind != EventOutput {
			pub(e.Wire())
		}
		if progress != nil {
			progress(e)
		}
	}
	res, err := s.builder.Build(ctx, Request{Project: t.Project, Base: t.Base, Spec: t.Spec, Snippet: t.Snippet, Mode: mode, Progress: each})
	if err != nil {
		err = buildErr(err)
		pub(webapi.BuildEvent{Kind: webapi.BuildError, Project: t.Project, Error: err.Error()})
		return res, err
	}
	pub(webapi.BuildEvent{Kind: webapi.BuildDone, Project: t.Project, Result: res.Wire()})
	return res, nil
}

// buildErr gives a build's error its kind: a failing step or a missing
// base is the project's to fix (422), an unknown or broken recipe a bad
// request; anything else is Podman's.
func buildErr(err error) error {
	if fail.Status(err) != 500 {
		return err
	}
	if be := (*BuildError)(nil); asBuildError(err, &be) {
		return fail.Because(ErrBuildFailed, err, "%s", err.Error())
	}
	return fail.Daemon("podman", "build", err)
}

// Status says whether t's image is built and current (Builder.Status),
// and whether a build of it runs now.
func (s *Service) Status(ctx context.Context, t Target) (webapi.ImageStatus, error) {
	if s.builder == nil {
		return webapi.ImageStatus{}, fail.Unavailable("image builds are not offered: terok-web's Podman client cannot build")
	}
	st, err := s.builder.Status(ctx, t)
	if errors.Is(err, recipes.ErrUnknown) || errors.Is(err, recipes.ErrInvalid) {
		return st, err // the project's or the recipe's to fix
	}
	if err != nil {
		return st, fail.Daemon("podman", fmt.Sprintf("check the image of project %s", t.Project), err)
	}
	s.mu.Lock()
	st.Building = s.building[t.Project] > 0
	s.mu.Unlock()
	return st, nil
}
