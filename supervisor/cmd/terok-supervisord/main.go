// Command terok-supervisord runs the terok daemons as a process supervisor
// compatible with Python supervisord's configuration and XML-RPC interface.
// It is meant to be PID 1 of the terok image.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	kcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/logging"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/config"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/procs"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/server"
)

// exitConfig is the exit status for a configuration that cannot be used.
const exitConfig = 2

func main() {
	kcli.Main(newApp()) // house rules and exit codes of docs/conventions.md
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "terok-supervisord",
		Usage:   "run programs from a supervisord configuration, in the foreground",
		Version: buildinfo.Version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "configuration", Aliases: []string{"c"}, Value: "/etc/terok/supervisord.conf",
				Usage: "supervisord ini file"},
			&cli.BoolFlag{Name: "nodaemon", Aliases: []string{"n"}, Usage: "accepted for compatibility; terok-supervisord always runs in the foreground"},
			&cli.BoolFlag{Name: "check", Usage: "read and check the configuration (included files, users, commands), print what would run, and exit: 0 when it is usable, 2 when not"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return kcli.Usagef(c, "unexpected argument %q (terok-supervisord takes no arguments; the programs come from -c FILE)", c.Args().First())
			}
			if c.Bool("check") {
				return configError(check(c.App.Writer, c.String("configuration")))
			}
			return configError(run(c.String("configuration")))
		},
	}
}

// configError gives a configuration that cannot be used the exit status
// exitConfig.
func configError(err error) error {
	if errors.Is(err, config.ErrInvalid) {
		return cli.Exit(err.Error(), exitConfig)
	}
	return err
}

// check loads the configuration as run would and prints a summary.
func check(w io.Writer, path string) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	for _, warn := range cfg.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	n := 0
	for _, g := range cfg.Groups {
		n += len(g.Processes)
	}
	fmt.Fprintf(w, "%s: ok, %d programs in %d groups", cfg.File, n, len(cfg.Groups))
	if len(cfg.Included) > 1 {
		fmt.Fprintf(w, " (%d files)", len(cfg.Included))
	}
	fmt.Fprintln(w)
	if cfg.UnixHTTP != nil {
		fmt.Fprintf(w, "socket: %s\n", cfg.UnixHTTP.File)
	}
	return nil
}

func run(path string) error {
	server.Version = buildinfo.Version
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	var logOut io.Writer = os.Stderr
	var mainLog procs.LogFile
	if f := cfg.Supervisord.Logfile; f != "" {
		if err := os.MkdirAll(dirOf(f), procs.LogDirMode); err != nil {
			return fmt.Errorf("log directory for %s: %w", f, err)
		}
		mainLog = procs.NewLogFile(f, cfg.Supervisord.LogfileMaxbytes, cfg.Supervisord.LogfileBackups)
		logOut = io.MultiWriter(os.Stderr, mainLog)
	}
	log, lerr := logging.New(logOut, "terok-supervisord")
	if mainLog != nil && isatty.IsTerminal(os.Stderr.Fd()) {
		// readable on the terminal, JSON in the log file
		console := zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
		log = log.Output(zerolog.MultiLevelWriter(console, mainLog))
	}
	if lerr != nil {
		log.Warn().Err(lerr).Msg("log level")
	}
	for _, w := range cfg.Warnings {
		log.Warn().Msg(w)
	}
	if err := procs.BecomeSubreaper(); err != nil {
		log.Warn().Err(err).Msg("cannot become child subreaper; orphans of programs will not be reaped")
	}
	reaper := procs.NewReaper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go reaper.Run(ctx)

	if !cfg.Supervisord.NoCleanup {
		if n := procs.CleanAutoLogs(cfg.Supervisord.Childlogdir, cfg.Supervisord.Identifier); n > 0 {
			log.Info().Int("files", n).Str("dir", cfg.Supervisord.Childlogdir).Msg("removed AUTO log files of an earlier run")
		}
	}
	sup := server.New(path, cfg, log, procs.NewConsole(os.Stdout), reaper)
	rpc := server.NewRPC(sup)
	var servers []*unixhttp.Server
	if h := cfg.UnixHTTP; h != nil {
		ln, err := unixhttp.Listen(h.File, h.Chmod)
		if err != nil {
			return fmt.Errorf("[unix_http_server] file=%s: %w", h.File, err)
		}
		if h.Chown != "" {
			uid, gid, _ := config.LookupOwner(h.Chown)
			if err := os.Chown(h.File, uid, gid); err != nil {
				ln.Close()
				return fmt.Errorf("[unix_http_server] chown=%s: %w", h.Chown, err)
			}
		}
		srv := unixhttp.NewServer(rpc.Handler(h.Username, h.Password, unixCaller), log, unixhttp.WithPeerCred())
		servers = append(servers, srv)
		go srv.Serve(ln)
		log.Info().Str("socket", h.File).Msg("XML-RPC listening")
	}
	if h := cfg.InetHTTP; h != nil {
		ln, err := net.Listen("tcp", h.Port)
		if err != nil {
			return fmt.Errorf("[inet_http_server] port=%s: %w", h.Port, err)
		}
		srv := unixhttp.NewServer(rpc.Handler(h.Username, h.Password, inetCaller(h.Username != "")), log)
		servers = append(servers, srv)
		go srv.Serve(ln)
		log.Info().Str("address", ln.Addr().String()).Msg("XML-RPC listening")
		if h.Username == "" {
			log.Warn().Str("address", ln.Addr().String()).Msg("[inet_http_server] has no username/password: anyone who can reach this address can start and stop every program (changing the configuration needs a login)")
		}
	}
	if err := server.WritePID(cfg.Supervisord.Pidfile); err != nil {
		log.Warn().Err(err).Msg("pidfile")
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP)
	log.Info().Int("pid", os.Getpid()).Str("config", cfg.File).Msg("supervisor started")
	sup.StartAutostart(ctx)

loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				log.Info().Msg("SIGHUP: rereading and applying the configuration")
				if d, err := sup.Update(ctx); err != nil {
					log.Error().Err(err).Msg("configuration not applied; the running tree is unchanged")
				} else {
					log.Info().Strs("added", d.Added).Strs("changed", d.Changed).Strs("removed", d.Removed).Msg("configuration applied")
				}
				continue
			}
			log.Info().Str("signal", sig.String()).Msg("stopping all programs")
			sup.RequestShutdown(false)
			break loop
		case <-sup.Done():
			break loop
		}
	}
	restart := sup.RestartRequested()
	go func() { // a second SIGTERM/SIGINT while stopping is ignored; keep draining
		for range sigs {
		}
	}()
	sup.StopAll(ctx)
	sup.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	scancel()
	if cfg.UnixHTTP != nil {
		os.Remove(cfg.UnixHTTP.File)
	}
	if cfg.Supervisord.Pidfile != "" {
		os.Remove(cfg.Supervisord.Pidfile)
	}
	reaper.Reap()
	if restart {
		log.Info().Msg("restarting")
		if mainLog != nil {
			mainLog.Close()
		}
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("restart: %w", err)
		}
		return syscall.Exec(exe, os.Args, os.Environ())
	}
	log.Info().Msg("all programs stopped, exiting")
	if mainLog != nil {
		mainLog.Close()
	}
	return nil
}

// unixCaller gives full rights (server.Admin) to a peer on the unix socket
// whose uid is root's or the supervisor's own, and server.Operate to any
// other (a member of the socket's group: in the image, the user podman).
// The uid comes from the kernel (SO_PEERCRED), not from the request.
func unixCaller(req *http.Request) server.Caller {
	p, ok := unixhttp.PeerCred(req.Context())
	if !ok {
		return server.Caller{Access: server.Operate, Who: "a caller of unknown uid"}
	}
	if p.UID == 0 || p.UID == os.Geteuid() {
		return server.Caller{Access: server.Admin, Who: fmt.Sprintf("uid %d", p.UID)}
	}
	return server.Caller{Access: server.Operate, Who: fmt.Sprintf("uid %d", p.UID)}
}

// inetCaller gives full rights on [inet_http_server] to callers who logged
// in (its username/password), and server.Operate when it asks for no login.
func inetCaller(login bool) server.CallerFunc {
	return func(*http.Request) server.Caller {
		if login {
			return server.Caller{Access: server.Admin, Who: "the inet_http_server login"}
		}
		return server.Caller{Access: server.Operate, Who: "a TCP caller without a login ([inet_http_server] has no username/password)"}
	}
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/"
			}
			return p[:i]
		}
	}
	return "."
}
