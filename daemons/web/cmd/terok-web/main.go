// Command terok-web is terok's task orchestrator and API server: projects
// and agent tasks wired through the gate, the shield and Podman, served as
// REST + WebSocket under /api/v1/ on web.sock (trusted by its file mode)
// and on TCP ($TEROK_WEB_LISTEN) behind the access token. The work is in
// package server; this is the command line.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	kcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/logging"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/server"
)

func main() { kcli.Main(newApp()) }

func newApp() *cli.App {
	return &cli.App{
		Name:    "terok-web",
		Usage:   "terok's task orchestrator and API server",
		Version: buildinfo.Version,
		Commands: []*cli.Command{relayCommand, {
			Name:  "serve",
			Usage: "run the daemon in the foreground",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "config", Usage: "a JSON config file (keys in docs/configuration.md)"},
				&cli.StringFlag{Name: "socket", Usage: "unix socket path (default $TEROK_RUN_DIR/web.sock)"},
				&cli.StringFlag{Name: "listen", Usage: "TCP host:port for the API and UI, or off (default $TEROK_WEB_LISTEN, else 127.0.0.1:8566)"},
				&cli.StringFlag{Name: "entry", Usage: "the terok-entry binary mounted into tasks (default: beside terok-web)"},
				&cli.StringFlag{Name: "task-gate-host", Usage: "the gate's host as tasks see it (default from Podman: 10.0.2.2 with slirp4netns, host.containers.internal with pasta; $TEROK_TASK_GATE_HOST)"},
			},
			Action: func(c *cli.Context) error {
				cfg := config.Default()
				if p := c.String("config"); p != "" {
					if err := cfg.LoadFile(p); err != nil {
						return configErr(err)
					}
				}
				if err := cfg.ApplyEnv(os.Getenv); err != nil {
					return configErr(err)
				}
				for flag, dst := range map[string]*string{"socket": &cfg.Socket, "listen": &cfg.Listen, "entry": &cfg.Entry, "task-gate-host": &cfg.TaskGateHost} {
					if c.IsSet(flag) {
						*dst = c.String(flag)
					}
				}
				if err := cfg.Validate(); err != nil {
					return configErr(err)
				}
				log, err := logging.New(os.Stderr, "terok-web")
				if err != nil {
					log.Warn().Err(err).Msg("log level")
				}
				ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
				defer stop()
				return server.Run(ctx, log, cfg, server.Clients(cfg))
			},
		}},
	}
}

// configErr is a configuration terok-web cannot use: exit 2, as a wrong
// command line.
func configErr(err error) error { return cli.Exit(err.Error(), kcli.ExitUsage) }
