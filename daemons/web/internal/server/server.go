// Package server assembles terok-web and runs it: the services of the
// domain layer over the other daemons' clients, the API and the browser
// UI, and every listener — web.sock, the TCP listener, and each web
// task's UI listener. Run serves until its context ends, then ends what
// it serves (open log streams, event and terminal WebSockets, task UIs)
// and returns once every goroutine it started has ended.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/api"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/attach"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/daemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/egress"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/inflight"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/keylock"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/nsdial"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/overview"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/recipes"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/review"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/runner"
	vaultsecrets "github.com/terok-ai/terok-in-docker/daemons/web/internal/secrets"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/ui"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

// Gate is what terok-web needs of the gate (gateapi.Client).
type Gate interface {
	runner.Gate
	runner.GateEvents
	review.Gate
	Health(ctx context.Context) (health.Status, error)
}

// Podman is what terok-web needs of Podman's API (podmanapi.Client).
type Podman interface {
	runner.Podman
	images.Store
	attach.Execer
	Ping(ctx context.Context) (podmanapi.Ping, error)
}

// Shield is what terok-web needs of the shield (shieldapi.Client).
type Shield interface {
	runner.Shield
	egress.Shield
}

// Vault is what terok-web needs of terok-vault (vaultapi.Client).
type Vault interface {
	runner.Vault
	vaultsecrets.Vault
	Health(ctx context.Context) (health.Status, error)
}

// Deps are the other daemons and what terok-web reaches tasks with.
type Deps struct {
	Gate       Gate
	Podman     Podman
	Shield     Shield
	Supervisor daemons.Supervisor
	// Vault lends tasks phantom credentials and keeps the secrets (nil:
	// tasks that need credentials do not start).
	Vault Vault
	// Relays reach web tasks' apps inside their namespaces; nil: relays
	// of terok-web's own binary (package nsdial).
	Relays func(resolve nsdial.Resolver) Relays
	// Problem tells what a running program's health check says is wrong
	// (nil: daemons.Problem, which asks the daemons' sockets).
	Problem func(ctx context.Context, program string) string
	// WebPorts are the first and last port of web tasks' UIs (zero:
	// webports.FirstPort, LastPort).
	WebPorts [2]int
	// Started, when set, is called with the addresses of web.sock and the
	// TCP listener ("" without) once both listen.
	Started func(socket, tcp string)
	// Listening, when set, is called with the TCP listener's limits
	// layer and the task UIs' publisher once they listen (their counts,
	// for tests and the bench).
	Listening func(*listenlimit.Server, *webproxy.Publisher)
	// Unlimited serves the TCP listener as a plain http.Server without
	// the listener limits. Only make bench sets it: the baseline the
	// limits' cost is measured against.
	Unlimited bool
}

// Relays reach web tasks' apps and forget a task whose UI went.
type Relays interface {
	webproxy.Dialer
	Close()
}

// Clients are the production Deps: the typed clients on the run
// directory's sockets.
func Clients(cfg config.Config) Deps {
	sock := func(name string) string { return filepath.Join(cfg.RunDir, name+".sock") }
	return Deps{
		Gate:       gateapi.New(sock("gate")),
		Podman:     podmanapi.New(sock("podman")),
		Shield:     shieldapi.New(sock("shield")),
		Supervisor: supervisorapi.New(sock("supervisor")),
		Vault:      vaultapi.New(cfg.VaultSock()),
	}
}

// graceful is how long the listeners wait for requests in flight at
// shutdown (the streams among them have been told to end).
const graceful = 5 * time.Second

// Run serves terok-web as cfg says until ctx ends, then shuts down: the
// listeners stop, every open stream (log follow, events, terminals, task
// UIs) ends, the task monitors stop (the next start follows the tasks
// again), and Run returns once all of it has.
func Run(ctx context.Context, log zerolog.Logger, cfg config.Config, d Deps) error {
	token, generated, err := auth.LoadToken(cfg.StateDir, cfg.Token)
	if err != nil {
		return err
	}
	store, err := tasks.Open(cfg.StateDir)
	if err != nil {
		return err
	}
	hub := events.New()
	locks := &keylock.Locks{}
	ps := projects.NewService(projects.New(cfg.ConfigDir), d.Gate, store, locks)
	ims := images.NewService(d.Podman, "")
	// Layered builds, when the Podman client can build (the real one can;
	// the in-memory fakes of the front ends' tests cannot).
	caBundle := images.CABundleFromEnv(func(string) string { return cfg.HostCA })
	rcps := recipes.New(cfg.ConfigDir)
	var builds runner.Builds
	if bp, ok := d.Podman.(images.Podman); ok {
		npm, err := images.NewNPM(images.DefaultRegistry, caBundle)
		if err != nil {
			return fmt.Errorf("%s: %w", config.EnvHostCA, err)
		}
		ims.WithBuilder(ctx, images.New(bp, rcps, npm, images.Config{CABundle: caBundle})).PublishTo(hub.Publish)
		builds = ims
	}

	// Browser-facing pieces: hosts answered, sessions, the login limit,
	// and each web task's UI on its own port (when TCP is on).
	hosts := auth.NewHosts(cfg.Public, cfg.PublicHost, cfg.AllowedHosts)
	addrs := webproxy.NewAddresses(cfg.Public, cfg.PublicHost, cfg.Listen)
	instance, err := auth.Instance(cfg.StateDir)
	if err != nil {
		return err
	}
	sessions, err := auth.OpenSessions(cfg.StateDir, token, auth.CookieName(instance),
		auth.SessionOptions{Idle: time.Duration(cfg.SessionIdle), Max: time.Duration(cfg.SessionMax)})
	if err != nil {
		return err
	}
	limiter := auth.NewLimiter(auth.LimitOptions{})
	tickets := webproxy.NewTickets(0, nil)

	// The runner's context outlives the listeners: monitors stop after
	// the last request.
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	var rn *runner.Runner
	resolve := func(ctx context.Context, task string) (nsdial.Target, error) { return rn.WebTarget(ctx, task) }
	var relays Relays
	if d.Relays != nil {
		relays = d.Relays(resolve)
	} else {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find terok-web's own binary (the relay into web tasks runs it): %w", err)
		}
		relays = poolRelays{nsdial.NewPool(resolve, nsdial.Options{Command: []string{exe, nsdial.RelayCommand}})}
	}
	defer relays.Close()
	// The tree's shutdown (podman-tasks) marks the task containers it
	// stops here, so their end is recorded as stopped.
	treeStops := filepath.Join(cfg.StateDir, "web", "tree-stops")
	if err := os.MkdirAll(treeStops, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	rcfg := runner.Config{Entry: cfg.Entry, GatePort: cfg.GatePort(), TaskGateHost: cfg.TaskGateHost, VaultPort: cfg.VaultPort(),
		TreeStopDir: treeStops, ImageStatusFile: filepath.Join(cfg.RunDir, "task-image.json"), CABundle: caBundle}
	var pub *webproxy.Publisher
	if cfg.Listen != "" {
		pub, err = webproxy.NewPublisher(webproxy.Options{First: d.WebPorts[0], Last: d.WebPorts[1], Addresses: addrs, Hosts: hosts,
			Tickets: tickets, SessionAlive: sessions.Alive, Instance: instance, Dialer: relays, Limits: cfg.TaskUI,
			Log: log.With().Str("component", "taskui").Logger()})
		if err != nil {
			return err
		}
		rcfg.Ports = pub // closed once the listeners have stopped, before the runner

	}
	// A nil *vaultapi.Client is no vault (not an interface holding nil).
	var rv runner.Vault
	var sv vaultsecrets.Vault
	if d.Vault != nil {
		rv, sv = d.Vault, d.Vault
	}
	rn = runner.New(rctx, rcfg, runner.Deps{Log: log.With().Str("component", "runner").Logger(), Store: store, Projects: ps,
		Gate: d.Gate, Podman: d.Podman, Shield: d.Shield, Hub: hub, Locks: locks, Imports: ims, Vault: rv, Builds: builds, Recipes: rcps})

	problem := d.Problem
	if problem == nil {
		problem = daemons.Problem
	}
	var origins []auth.Origin
	if cfg.Public != nil {
		// The browser's Origin is scheme://host[:port], never the path.
		if o, ok := auth.ParseOrigin(cfg.Public.String()); ok {
			origins = append(origins, o)
		}
	}
	dm := daemons.New(d.Supervisor, problem, secrets(cfg, token)...)
	rs, eg := review.New(d.Gate, ps.Store(), rn, cfg.GateHostURL()), egress.New(d.Shield, rn, ps)
	h := api.New(api.Deps{
		Log: log, Projects: ps, Tasks: rn, Hub: hub,
		Review:    rs,
		Egress:    eg,
		Overview:  overview.New(ps, rs, rn, eg, filepath.Join(cfg.StateDir, "web", "dismissed.json")),
		Images:    ims,
		Recipes:   rcps,
		Daemons:   dm,
		Secrets:   vaultsecrets.New(sv, ps),
		Origins:   origins,
		Probe:     probe(d, problem, rn),
		LoginURL:  cfg.LoginURL(token),
		Exec:      d.Podman,
		Tickets:   tickets,
		Addresses: addrs,
	})

	// Every request's context ends when ctx does: the streams end and the
	// graceful shutdown does not wait for them.
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	base := func(s *http.Server) { s.BaseContext = func(net.Listener) context.Context { return lctx } }
	// An access line per request and panic recovery on both listeners
	// (paths without their query: a login URL's token is never logged).
	access := unixhttp.WithMiddleware(httpmw.Middleware(log.With().Str("component", "http").Logger()))
	ln, err := unixhttp.Listen(cfg.Socket, 0o660)
	if err != nil {
		return err
	}
	var tl net.Listener
	var web http.Handler
	if cfg.Listen != "" {
		if tl, err = net.Listen("tcp", cfg.Listen); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (TEROK_WEB_LISTEN): %w", cfg.Listen, err)
		}
		// The UI at /, the API behind the token or a session.
		a := &auth.Auth{Methods: []auth.Method{auth.Bearer(token, limiter), auth.Cookie(sessions)}}
		u, err := ui.New(ui.Config{Token: token, Sessions: sessions, Limiter: limiter, Public: cfg.Public,
			FrameSource: addrs.FrameSource, TokenFile: keptIn(auth.TokenFile(cfg.StateDir), token), InImage: cfg.InImage, ContainerID: cfg.ContainerID,
			Log: log.With().Str("component", "ui").Logger()}, a.Require(h))
		if err != nil {
			tl.Close()
			ln.Close()
			return err
		}
		web = hosts.Guard(u)
	}
	log.Info().Str("socket", cfg.Socket).Msg("listening")
	if tl != nil {
		msg := "API and UI on TCP; terok web url prints the login URL"
		if generated {
			msg = "API and UI on TCP with a new access token in " + auth.TokenFile(cfg.StateDir)
		}
		log.Info().Str("listen", tl.Addr().String()).Str("instance", instance).Msg(msg)
	}

	// Every request is counted (WebSockets too, which a shutdown does not
	// wait for): Run returns after the last has ended.
	var reqs inflight.Requests
	g, gctx := errgroup.WithContext(lctx)
	g.Go(func() error {
		return unixhttp.ServeUntil(gctx, unixhttp.NewServer(reqs.Wrap(h), log, base, access), ln, graceful)
	})
	if tl != nil {
		var srv unixhttp.Servable
		if d.Unlimited {
			srv = unixhttp.NewServer(reqs.Wrap(web), log, base, access)
		} else {
			// Behind the listener limits, which know from the headers
			// whether a request carries the token or a live session
			// before anything else is read; then the access line, the
			// JSON 404/405 and the request count, as on web.sock.
			lim := listenlimit.NewServer(webproxy.WithContext(lctx, httpmw.Wrap(unixhttp.JSONErrors(reqs.Wrap(web)),
				log.With().Str("component", "http").Logger())), cfg.Listener, listenlimit.Options{
				Identify: identify(token, sessions),
				Log:      log.With().Str("component", "listener").Logger(),
			})
			if d.Listening != nil {
				d.Listening(lim, pub)
			}
			srv = lim
		}
		g.Go(func() error { return unixhttp.ServeUntil(gctx, srv, tl, graceful) })
	}
	g.Go(func() error { dm.Watch(gctx, hub); return nil })
	g.Go(func() error {
		rn.FollowPushes(gctx, d.Gate, filepath.Join(cfg.StateDir, "web", "gate-events.seq"))
		return nil
	})
	// Reconcile once Podman and the gate answer (they may still start).
	g.Go(func() error {
		for i := 0; ; i++ {
			err := rn.Reconcile(gctx)
			if err == nil {
				log.Info().Int("orphans", len(rn.Orphans())).Msg("reconciled task records with Podman")
				return nil
			}
			if i%15 == 0 {
				log.Warn().Err(err).Msg("reconcile (retrying every 2 s)")
			}
			select {
			case <-gctx.Done():
				return nil
			case <-time.After(2 * time.Second):
			}
		}
	})
	if d.Started != nil {
		t := ""
		if tl != nil {
			t = tl.Addr().String()
		}
		d.Started(cfg.Socket, t)
	}
	err = g.Wait()
	lcancel()
	reqs.Close()
	if pub != nil {
		pub.Close()
	}
	rcancel()
	rn.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// poolRelays are nsdial's relays.
type poolRelays struct{ p *nsdial.Pool }

func (r poolRelays) DialTask(ctx context.Context, task string) (net.Conn, error) {
	return r.p.Dial(ctx, task)
}
func (r poolRelays) ForgetTask(task string) { r.p.Forget(task) }
func (r poolRelays) Close()                 { r.p.Close() }

// secrets are the strings a daemon's log never shows over TCP: the
// access token, and the gate's admin token when terok-web can know it.
func secrets(cfg config.Config, token string) []string {
	out := []string{token}
	if v := os.Getenv("TEROK_GATE_ADMIN_TOKEN"); v != "" {
		out = append(out, v)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.StateDir, "gate", "admin-token")); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// probe reports the daemons terok-web depends on (as details: a daemon
// that is down degrades only what needs it).
func probe(d Deps, problem func(context.Context, string) string, rn *runner.Runner) health.Probe {
	return func(ctx context.Context) (map[string]any, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		out := map[string]any{}
		state := func(err error) string {
			if err != nil {
				return err.Error()
			}
			return "ok"
		}
		_, err := d.Podman.Ping(ctx)
		out["podman"] = state(err)
		if err != nil {
			// podman-service says why Podman does not answer, when it knows.
			if p := problem(ctx, "podman-service"); p != "" {
				out["podman"] = "Podman does not answer: podman-service says: " + p
			}
		}
		_, err = d.Gate.Health(ctx)
		out["terok-gate"] = state(err)
		_, err = d.Shield.Profiles(ctx)
		out["terok-shield"] = state(err)
		if d.Vault != nil {
			_, err = d.Vault.Health(ctx)
			out["terok-vault"] = state(err)
		}
		if o := rn.Orphans(); len(o) > 0 {
			out["orphan_containers"] = o // terok task containers without a record
		}
		return out, nil
	}
}

// keptIn is file when it holds token (the login page names it), else ""
// (a token fixed by TEROK_WEB_TOKEN is kept nowhere).
func keptIn(file, token string) string {
	b, err := os.ReadFile(file)
	if err != nil || strings.TrimSpace(string(b)) != token {
		return ""
	}
	return file
}
