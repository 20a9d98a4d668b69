package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/guard"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/owners"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/repos"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/smarthttp"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/tokens"
	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// Admin token sources, for the banner.
const (
	AdminFromConfig    = "config"    // flag, env or config file
	AdminFromFile      = "file"      // kept in the state dir
	AdminFromGenerated = "generated" // new, now kept in the state dir
)

// Server is one running gate.
type Server struct {
	cfg    config.Config
	log    zerolog.Logger
	tokens *tokens.Store
	repos  *repos.Manager
	git    *smarthttp.Handler
	guard  *guard.Guard
	// listener serves git behind the listener limits.
	listener *listenlimit.Server
	events   *events.Store
	// stopping is closed when the gate begins to stop; event followers
	// end their streams on it.
	stopping chan struct{}

	admin       string
	adminSource string

	// PollTick is how often repositories are checked for a due sync.
	PollTick time.Duration

	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

// New prepares a gate from a validated configuration: state directories,
// admin token, token store, repositories and the pre-receive hook.
func New(cfg config.Config, log zerolog.Logger) (*Server, error) {
	// git runs inside each repository, so every path handed to it
	// (core.hooksPath) must be absolute.
	abs, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("state root %s: %w", cfg.Root, err)
	}
	cfg.Root = abs
	// The state holds the admin token and the task tokens' hashes: only
	// the gate's user may enter it.
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", cfg.Root, err)
	}
	if err := os.Chmod(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("make state root %s private: %w", cfg.Root, err)
	}
	s := &Server{cfg: cfg, log: log, PollTick: 15 * time.Second, stopping: make(chan struct{})}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	if cfg.AdminToken != "" {
		s.admin, s.adminSource = cfg.AdminToken, AdminFromConfig
	} else {
		tok, created, err := tokens.LoadOrCreateAdmin(filepath.Join(cfg.Root, "admin-token"))
		if err != nil {
			return nil, err
		}
		s.admin, s.adminSource = tok, AdminFromFile
		if created {
			s.adminSource = AdminFromGenerated
		}
	}
	if s.tokens, err = tokens.Open(filepath.Join(cfg.Root, "tokens.json"), s.admin); err != nil {
		return nil, err
	}
	if s.repos, err = repos.New(cfg.Root, filepath.Join(cfg.Root, "ssh"), log.With().Str("part", "repos").Logger()); err != nil {
		return nil, err
	}
	if s.events, err = events.Open(filepath.Join(cfg.Root, "events.jsonl"), events.DefaultKeep,
		log.With().Str("part", "events").Logger()); err != nil {
		return nil, err
	}
	backend, err := smarthttp.NewGitBackend(cfg.Git, filepath.Join(cfg.Root, "hooks"))
	if err != nil {
		return nil, err
	}
	s.guard = guard.New(s.repos, &owners.Store{}, log.With().Str("part", "guard").Logger())
	s.git = &smarthttp.Handler{
		Auth: s.tokens, Repos: s.repos, Backend: backend,
		MaxRequestBytes: cfg.MaxRequestBytes, MaxPushBytes: cfg.MaxPushBytes,
		BodyIdleTimeout: time.Duration(cfg.BodyIdleTimeout),
		Guard: func(project string, who tokens.Identity) smarthttp.PushTicket {
			return s.guard.Begin(project, who)
		},
		AfterPush: s.afterPush,
	}
	// Behind the limits (a refused connection is counted and logged by
	// them, rate-limited), each request has its access line and recovery.
	s.listener = listenlimit.NewServer(httpmw.Wrap(s.git, log.With().Str("listener", "git").Logger()), cfg.Listener, listenlimit.Options{
		Identify: s.git.Identify, Body: smarthttp.RefusalBody,
		Log: log.With().Str("part", "listener").Logger(),
	})
	return s, nil
}

// ListenerStats are the git listener's connection counts.
func (s *Server) ListenerStats() listenlimit.Stats { return s.listener.Stats() }

// AdminToken returns the admin token and where it came from.
func (s *Server) AdminToken() (token, source string) { return s.admin, s.adminSource }

// GitHandler is the smart HTTP handler (for tests and embedding).
func (s *Server) GitHandler() http.Handler { return s.git }

// AdminHandler is the admin API with the health endpoint.
func (s *Server) AdminHandler() http.Handler {
	mux := s.adminMux()
	mux.Handle("GET "+health.Path, health.Handler("terok-gate", buildinfo.Version, func(context.Context) (map[string]any, error) {
		list, err := s.repos.List()
		if err != nil {
			return nil, err
		}
		st := s.listener.Stats()
		return map[string]any{"repos": len(list), "task_tokens": len(s.tokens.List("")),
			"git_connections": map[string]int{"with_token": st.Credentialed, "without_token": st.Uncredentialed}}, nil
	}))
	return mux
}

// Serve answers git on gitLn and the admin API on adminLn until ctx ends,
// polling upstreams meanwhile.
func (s *Server) Serve(ctx context.Context, gitLn, adminLn net.Listener) error {
	g := serve.NewGroup(ctx, 10*time.Second)
	g.Serve("git http", s.listener, gitLn)
	g.Serve("admin socket", unixhttp.NewServer(s.AdminHandler(), s.log, unixhttp.WithPeerCred(),
		unixhttp.WithMiddleware(httpmw.Middleware(s.log.With().Str("listener", "socket").Logger()))), adminLn)
	g.Go(func(ctx context.Context) error { s.poll(ctx); return nil })
	// Event followers end their streams, so the shutdown need not wait
	// for them.
	g.Stopping(func() { close(s.stopping) })
	g.Cleanup(func() error {
		s.bgCancel()
		s.bg.Wait()
		return s.events.Close()
	})
	return g.Wait()
}

// afterPush records the updates a push landed in the event feed and, for
// a repository with the online policy, forwards them upstream.
func (s *Server) afterPush(project string, who tokens.Identity, applied []repos.RefUpdate) {
	if len(applied) == 0 {
		return
	}
	s.recordPush(project, who, applied)
	meta, err := s.repos.Meta(project)
	if err != nil || meta.Policy != gateapi.PolicyOnline {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(s.bgCtx, 10*time.Minute)
		defer cancel()
		fw, err := s.repos.Forward(ctx, project, applied)
		ev := s.log.Info()
		if err != nil {
			ev = s.log.Warn().Err(err)
		}
		ev.Str("project", project).Strs("refs", fw.Refs).Str("task", who.Task).Msg("push forwarded to upstream")
	}()
}

// recordPush appends one push event per landed ref update. It runs before
// the push's answer ends, so a client whose push returned finds it in the
// feed.
func (s *Server) recordPush(project string, who tokens.Identity, ups []repos.RefUpdate) {
	ctx, cancel := context.WithTimeout(s.bgCtx, time.Minute)
	defer cancel()
	counts := s.repos.CountPushed(ctx, project, ups)
	evs := make([]gateapi.Event, len(ups))
	for i, u := range ups {
		e := gateapi.Event{Kind: gateapi.EventPush, Repo: project, Ref: u.Ref, Commits: max(counts[i], 0)}
		if who.Kind == tokens.KindTask {
			e.Task = who.Task
		}
		if !u.Old.IsZero() {
			e.Old = u.Old.String()
		}
		if !u.New.IsZero() {
			e.New = u.New.String()
		}
		evs[i] = e
	}
	stored, err := s.events.Append(evs...)
	if err != nil {
		s.log.Error().Err(err).Str("project", project).Msg("record push in the event feed")
		return
	}
	for _, e := range stored {
		s.log.Info().Uint64("seq", e.Seq).Str("project", project).Str("task", e.Task).Str("ref", e.Ref).
			Int("commits", e.Commits).Msg("push recorded")
	}
}

func (s *Server) poll(ctx context.Context) {
	t := time.NewTicker(s.PollTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		list, err := s.repos.List()
		if err != nil {
			continue
		}
		for _, r := range list {
			iv := time.Duration(s.cfg.PollInterval)
			if r.PollSeconds > 0 {
				iv = time.Duration(r.PollSeconds) * time.Second
			}
			if r.Upstream == "" || r.PollSeconds < 0 || iv <= 0 {
				continue
			}
			if r.LastSync != nil && time.Since(*r.LastSync) < iv {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			_, _ = s.sync(sctx, r.Name)
			cancel()
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// sync fetches a repository's upstream and fast-forwards its branches; a
// branch the sync created is the user's, whatever an old owner record
// said.
func (s *Server) sync(ctx context.Context, name string) (gateapi.SyncResult, error) {
	res, err := s.repos.Sync(ctx, name)
	var created []string
	for _, u := range res.Updated {
		if u.Old == "" {
			created = append(created, "refs/heads/"+u.Branch)
		}
	}
	if ferr := s.guard.Forget(name, created); ferr != nil {
		s.log.Error().Err(ferr).Str("repo", name).Msg("forget owners of branches a sync created")
	}
	return res, err
}
