// Command terok-web is terok's task orchestrator and API server: projects
// and agent tasks wired through the gate, the shield and Podman, served as
// REST + WebSocket under /api/v1/ on web.sock (trusted by its file mode)
// and on TCP ($TEROK_WEB_LISTEN) behind the access token.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/sync/errgroup"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	kcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/logging"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/api"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/nsdial"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/runner"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

func main() { kcli.Main(newApp()) }

// Config is terok-web's configuration: defaults → environment → flags.
type Config struct {
	Socket       string // web.sock
	Listen       string // TCP host:port, "" or "off" for none
	Token        string // fixed access token (TEROK_WEB_TOKEN)
	StateDir     string
	ConfigDir    string
	GateListen   string // the gate's git HTTP host:port (TEROK_GATE_LISTEN)
	TaskGateHost string // override of the gate's host as tasks see it
	Entry        string // host path of terok-entry
	PublicURL    string // browser-facing base URL (TEROK_PUBLIC_URL)
	PublicHost   string // host of task UI addresses (TEROK_PUBLIC_HOST)
	AllowedHosts string // more Host names accepted (TEROK_WEB_ALLOWED_HOSTS)
	SessionIdle  time.Duration
	SessionMax   time.Duration
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("listen %q: want host:port, e.g. 127.0.0.1:8566 (TEROK_WEB_LISTEN), or off", c.Listen)
		}
	}
	if _, err := gatePort(c.GateListen); err != nil {
		return err
	}
	if c.SessionIdle <= 0 || c.SessionMax <= 0 || c.SessionIdle > c.SessionMax {
		return fmt.Errorf("session lifetimes idle %s, max %s: give positive durations, idle at most max (TEROK_WEB_SESSION_IDLE, TEROK_WEB_SESSION_MAX, e.g. 12h and 168h)", c.SessionIdle, c.SessionMax)
	}
	if st, err := os.Stat(c.Entry); err != nil || st.IsDir() {
		return fmt.Errorf("entry binary %s: not found: build it with make build, or pass --entry", c.Entry)
	}
	return nil
}

func gatePort(listen string) (int, error) {
	_, p, err := net.SplitHostPort(listen)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil || n <= 0 {
		return 0, fmt.Errorf("gate address %q: want host:port (TEROK_GATE_LISTEN, e.g. 127.0.0.1:9418)", listen)
	}
	return n, nil
}

// gateListen is the gate's git address: TEROK_GATE_LISTEN (make run), else
// the port the image's entrypoint settled (TEROK_GATE_PORT), else 9418.
func gateListen() string {
	if v := os.Getenv("TEROK_GATE_LISTEN"); v != "" {
		return v
	}
	if p := os.Getenv("TEROK_GATE_PORT"); p != "" {
		return "0.0.0.0:" + p
	}
	return "127.0.0.1:9418"
}

// durationEnv reads a Go duration (12h, 30m) from k, def when unset.
func durationEnv(k string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(k)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a duration such as 12h or 90m", k, v)
	}
	return d, nil
}

func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return def
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "terok-web",
		Usage:   "terok's task orchestrator and API server",
		Version: buildinfo.Version,
		Commands: []*cli.Command{relayCommand, {
			Name:  "serve",
			Usage: "run the daemon in the foreground",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "socket", Usage: "unix socket path (default $TEROK_RUN_DIR/web.sock)"},
				&cli.StringFlag{Name: "listen", Usage: "TCP host:port for the API and UI, or off (default $TEROK_WEB_LISTEN, else 127.0.0.1:8566)"},
				&cli.StringFlag{Name: "entry", Usage: "the terok-entry binary mounted into tasks (default: beside terok-web)"},
				&cli.StringFlag{Name: "task-gate-host", Usage: "the gate's host as tasks see it (default from Podman: 10.0.2.2 with slirp4netns, host.containers.internal with pasta; $TEROK_TASK_GATE_HOST)"},
			},
			Action: func(c *cli.Context) error {
				log, err := logging.New(os.Stderr, "terok-web")
				if err != nil {
					log.Warn().Err(err).Msg("log level")
				}
				exe, _ := os.Executable()
				cfg := Config{
					Socket:       paths.Socket(c.String("socket"), paths.Web),
					Listen:       envOr("TEROK_WEB_LISTEN", "127.0.0.1:8566"),
					Token:        os.Getenv("TEROK_WEB_TOKEN"),
					StateDir:     paths.StateDir(),
					ConfigDir:    paths.ConfigDir(),
					GateListen:   gateListen(),
					TaskGateHost: os.Getenv("TEROK_TASK_GATE_HOST"),
					Entry:        filepath.Join(filepath.Dir(exe), "terok-entry"),
					PublicURL:    os.Getenv("TEROK_PUBLIC_URL"),
					PublicHost:   os.Getenv("TEROK_PUBLIC_HOST"),
					AllowedHosts: os.Getenv(auth.AllowedHostsVar),
				}
				if cfg.SessionIdle, err = durationEnv("TEROK_WEB_SESSION_IDLE", auth.DefaultIdle); err != nil {
					return err
				}
				if cfg.SessionMax, err = durationEnv("TEROK_WEB_SESSION_MAX", auth.DefaultMax); err != nil {
					return err
				}
				if c.IsSet("listen") {
					cfg.Listen = c.String("listen")
				}
				if cfg.Listen == "off" {
					cfg.Listen = ""
				}
				if c.IsSet("entry") {
					cfg.Entry = c.String("entry")
				}
				if c.IsSet("task-gate-host") {
					cfg.TaskGateHost = c.String("task-gate-host")
				}
				if err := cfg.Validate(); err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
				defer stop()
				return run(ctx, log, cfg)
			},
		}},
	}
}

func run(ctx context.Context, log zerolog.Logger, cfg Config) error {
	token, generated, err := auth.LoadToken(cfg.StateDir, cfg.Token)
	if err != nil {
		return err
	}
	store, err := tasks.Open(cfg.StateDir)
	if err != nil {
		return err
	}
	ps := projects.New(cfg.ConfigDir)
	port, _ := gatePort(cfg.GateListen)
	gate := gateapi.New(paths.Socket("", paths.Gate))
	podman := podmanapi.New(paths.Socket("", paths.Podman))
	shield := shieldapi.New(paths.Socket("", paths.Shield))
	sup := supervisorapi.New(paths.Socket("", paths.Supervisor))
	hub := events.New()

	// Browser-facing pieces: hosts answered, sessions, the login limit,
	// and each web task's UI on its own port (when TCP is on).
	hosts, err := auth.NewHosts(cfg.PublicURL, cfg.PublicHost, cfg.AllowedHosts)
	if err != nil {
		return err
	}
	addrs, err := webproxy.NewAddresses(cfg.PublicURL, cfg.PublicHost, cfg.Listen)
	if err != nil {
		return err
	}
	instance, err := auth.Instance(cfg.StateDir)
	if err != nil {
		return err
	}
	sessions, err := auth.OpenSessions(cfg.StateDir, token, auth.CookieName(instance), auth.SessionOptions{Idle: cfg.SessionIdle, Max: cfg.SessionMax})
	if err != nil {
		return err
	}
	limiter := auth.NewLimiter(auth.LimitOptions{})
	tickets := webproxy.NewTickets(0, nil)

	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	var rn *runner.Runner
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find terok-web's own binary (the relay into web tasks runs it): %w", err)
	}
	relays := nsdial.NewPool(func(ctx context.Context, task string) (nsdial.Target, error) { return rn.WebTarget(ctx, task) },
		nsdial.Options{Command: []string{exe, nsdial.RelayCommand}})
	defer relays.Close()
	var pub *webproxy.Publisher
	// The tree's shutdown (podman-tasks) marks the task containers it
	// stops here, so their end is recorded as stopped.
	treeStops := filepath.Join(cfg.StateDir, "web", "tree-stops")
	if err := os.MkdirAll(treeStops, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	rcfg := runner.Config{Entry: cfg.Entry, GatePort: port, TaskGateHost: cfg.TaskGateHost,
		TreeStopDir: treeStops, ImageStatusFile: filepath.Join(paths.RunDir(), "task-image.json")}
	if cfg.Listen != "" {
		pub, err = webproxy.NewPublisher(webproxy.Options{Addresses: addrs, Hosts: hosts, Tickets: tickets,
			SessionAlive: sessions.Alive, Instance: instance, Dialer: poolDialer{relays},
			Log: log.With().Str("component", "taskui").Logger()})
		if err != nil {
			return err
		}
		defer pub.Close()
		rcfg.Ports = pub
	}
	rn = runner.New(rctx, rcfg, log.With().Str("component", "runner").Logger(), store, ps, gate, podman, shield, hub)

	gateHost, _, _ := net.SplitHostPort(cfg.GateListen)
	if gateHost == "" || gateHost == "0.0.0.0" || gateHost == "::" {
		gateHost = "127.0.0.1"
	}
	var origins []auth.Origin
	if cfg.PublicURL != "" {
		// The browser's Origin is scheme://host[:port], never the path
		// prefix.
		if o, ok := auth.ParseOrigin(cfg.PublicURL); ok {
			origins = append(origins, o)
		}
	}
	h := api.New(api.Deps{
		Log: log, Projects: ps, Runner: rn, Hub: hub, Gate: gate, Shield: shield, Images: podman, Supervisor: sup,
		GateHostURL:   "http://" + net.JoinHostPort(gateHost, strconv.Itoa(port)),
		Origins:       origins,
		Probe:         probe(podman, gate, shield, rn),
		LoginURL:      loginURL(cfg, token),
		Exec:          podman,
		Tickets:       tickets,
		Addresses:     addrs,
		Secrets:       secrets(cfg, token),
		DaemonProblem: daemonProblem,
	})

	g, gctx := errgroup.WithContext(ctx)
	ln, err := unixhttp.Listen(cfg.Socket, 0o660)
	if err != nil {
		return err
	}
	log.Info().Str("socket", cfg.Socket).Msg("listening")
	g.Go(func() error { return unixhttp.ServeUntil(gctx, unixhttp.NewServer(h, log), ln, 5*time.Second) })
	if cfg.Listen != "" {
		tl, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s (TEROK_WEB_LISTEN): %w", cfg.Listen, err)
		}
		msg := "API and UI on TCP; terok web url prints the login URL"
		if generated {
			msg = "API and UI on TCP with a new access token in " + auth.TokenFile(cfg.StateDir)
		}
		log.Info().Str("listen", cfg.Listen).Str("instance", instance).Msg(msg)
		web, err := browserUI(cfg, log, token, sessions, limiter, addrs, h) // the UI at /, the API behind token or cookie
		if err != nil {
			tl.Close()
			ln.Close()
			return err
		}
		g.Go(func() error {
			return unixhttp.ServeUntil(gctx, unixhttp.NewServer(hosts.Guard(web), log), tl, 5*time.Second)
		})
	}
	g.Go(func() error { watchDaemons(gctx, sup, hub); return nil })
	g.Go(func() error {
		rn.FollowPushes(gctx, gate, filepath.Join(cfg.StateDir, "web", "gate-events.seq"))
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
	err = g.Wait()
	rcancel()
	rn.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// poolDialer reaches web tasks' apps through relays in their namespaces.
type poolDialer struct{ p *nsdial.Pool }

func (d poolDialer) DialTask(ctx context.Context, task string) (net.Conn, error) {
	return d.p.Dial(ctx, task)
}

func (d poolDialer) ForgetTask(task string) { d.p.Forget(task) }

// secrets are the strings a daemon's log never shows over TCP: the
// access token, and the gate's admin token when terok-web can know it.
func secrets(cfg Config, token string) []string {
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

// loginURL is where a browser logs in with the token.
func loginURL(cfg Config, token string) string {
	base := cfg.PublicURL
	if base == "" && cfg.Listen != "" {
		host, port, _ := net.SplitHostPort(cfg.Listen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	if base == "" {
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/?token=" + token
}

// daemonSockets are the supervisor programs that answer a health check,
// with their sockets.
var daemonSockets = map[string]string{"terok-gate": paths.Gate, "terok-shield": paths.Shield, "podman-service": paths.PodmanService, "terok-vault": paths.Vault}

// daemonProblem asks a program's health check and returns the problem a
// degraded answer names ("" when it is fine, does not answer, or has no
// health check: the supervisor's state covers those).
func daemonProblem(ctx context.Context, program string) string {
	name, ok := daemonSockets[program]
	if !ok {
		return ""
	}
	st, err := health.Check(ctx, unixhttp.NewClient(paths.Socket("", name)))
	if health.Degraded(st, err) {
		return unixhttp.Message(err)
	}
	return ""
}

// probe reports the daemons terok-web depends on (as details: a daemon
// that is down degrades only what needs it).
func probe(podman *podmanapi.Client, gate *gateapi.Client, shield *shieldapi.Client, rn *runner.Runner) health.Probe {
	return func(ctx context.Context) (map[string]any, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		d := map[string]any{}
		state := func(err error) string {
			if err != nil {
				return err.Error()
			}
			return "ok"
		}
		_, err := podman.Ping(ctx)
		d["podman"] = state(err)
		if err != nil {
			// podman-service says why Podman does not answer, when it knows.
			if p := daemonProblem(ctx, "podman-service"); p != "" {
				d["podman"] = "Podman does not answer: podman-service says: " + p
			}
		}
		_, err = health.Check(ctx, gate.Unix())
		d["terok-gate"] = state(err)
		_, err = shield.Profiles(ctx)
		d["terok-shield"] = state(err)
		if o := rn.Orphans(); len(o) > 0 {
			d["orphan_containers"] = o // terok task containers without a record
		}
		return d, nil
	}
}

// watchDaemons publishes each supervisor program's state changes on the
// event hub (polled every 2 s; quiet while the supervisor does not answer).
func watchDaemons(ctx context.Context, sup *supervisorapi.Client, hub *events.Hub) {
	last := map[string]string{}
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ps, err := sup.AllProcessInfo(cctx)
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
