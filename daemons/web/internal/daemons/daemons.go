// Package daemons is the tree's daemons as terok-web shows and runs them:
// the supervisor's programs with their states and the problem a degraded
// one's health check names, start, stop and restart, a program's log
// (with secrets redacted for callers that must not see them), and the
// changes of their states published as events.
package daemons

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

// Supervisor is what the service needs of terok-supervisord
// (supervisorapi.Client).
type Supervisor interface {
	AllProcessInfo(ctx context.Context) ([]supervisorapi.ProcessInfo, error)
	Start(ctx context.Context, name string, wait bool) error
	Stop(ctx context.Context, name string, wait bool) error
	ReadStdout(ctx context.Context, name string, n int) (string, error)
}

// Service runs the tree's daemons through the supervisor.
type Service struct {
	sup Supervisor
	// problem returns what a running program's health check says is
	// wrong ("" when fine or not a daemon); nil: not asked.
	problem func(ctx context.Context, program string) string
	// secrets are replaced in logs a caller may not see whole.
	secrets []string
}

// New returns the service. problem tells what a running program's
// health check says is wrong (nil: not asked; Problem asks the tree's
// daemons); secrets are strings Log redacts by value.
func New(sup Supervisor, problem func(ctx context.Context, program string) string, secrets ...string) *Service {
	return &Service{sup: sup, problem: problem, secrets: secrets}
}

func supervisorErr(what string, err error) error { return fail.Daemon("terok-supervisord", what, err) }

// List is every program with its state; a running one whose health
// check answers degraded has its Problem.
func (s *Service) List(ctx context.Context) ([]webapi.Daemon, error) {
	ps, err := s.sup.AllProcessInfo(ctx)
	if err != nil {
		return nil, supervisorErr("", err)
	}
	out := make([]webapi.Daemon, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		out[i] = webapi.Daemon{Name: p.Name, State: p.StateName, PID: p.PID, Description: p.Description, ExitStatus: p.ExitStatus}
		if s.problem != nil && p.StateName == "RUNNING" {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				out[i].Problem = s.problem(ctx, p.Name)
			})
		}
	}
	wg.Wait()
	return out, nil
}

// actionTimeout bounds a start, stop or restart (the supervisor waits
// for the program).
const actionTimeout = 60 * time.Second

// Act starts, stops or restarts program name. Restarting stops it (one
// that was not running is fine) and starts it again. Once asked, the
// action runs to its end when the caller goes away.
func (s *Service) Act(ctx context.Context, name, action string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionTimeout)
	defer cancel()
	var err error
	switch action {
	case "start":
		err = s.sup.Start(ctx, name, true)
	case "stop":
		err = s.sup.Stop(ctx, name, true)
	case "restart":
		err = s.sup.Stop(ctx, name, true)
		if err == nil || supervisorapi.IsFault(err, supervisorapi.FaultNotRunning) {
			err = s.sup.Start(ctx, name, true)
		}
	default:
		return fail.BadRequest("action %q: use start, stop or restart", action)
	}
	if err != nil {
		return supervisorErr(fmt.Sprintf("%s %s", action, name), err)
	}
	return nil
}

// Log bounds: the default is a tail, the maximum a whole log file (the
// supervisor rotates a program's log at 50 MB unless told otherwise), so
// a whole log can be read and checked.
const (
	DefaultLogBytes = 16 << 10
	MaxLogBytes     = 64 << 20
)

// Log is the last n bytes of program name's log (0: DefaultLogBytes, at
// most MaxLogBytes). With redact, secrets are replaced (Redact): for
// callers that must not reach a secret through a log.
func (s *Service) Log(ctx context.Context, name string, n int, redact bool) (string, error) {
	if n == 0 {
		n = DefaultLogBytes
	}
	if n < 0 || n > MaxLogBytes {
		return "", fail.BadRequest("bytes %d: give 1-%d (leave it out for %d)", n, MaxLogBytes, DefaultLogBytes)
	}
	out, err := s.sup.ReadStdout(ctx, name, n)
	if err != nil {
		return "", supervisorErr("", err)
	}
	if redact {
		out = Redact(out, s.secrets...)
	}
	return out, nil
}

// Watch publishes each program's state changes on hub until ctx ends
// (polled every 2 s; quiet while the supervisor does not answer).
func (s *Service) Watch(ctx context.Context, hub *events.Hub) {
	last := map[string]string{}
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ps, err := s.sup.AllProcessInfo(cctx)
		cancel()
		if err == nil {
			for _, p := range ps {
				// A restart between two polls shows as a new pid.
				key := fmt.Sprintf("%s %d", p.StateName, p.PID)
				if last[p.Name] != key {
					last[p.Name] = key
					hub.Publish(webapi.Event{Type: webapi.EventDaemon, Daemon: &webapi.Daemon{
						Name: p.Name, State: p.StateName, PID: p.PID, Description: p.Description, ExitStatus: p.ExitStatus}})
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}
