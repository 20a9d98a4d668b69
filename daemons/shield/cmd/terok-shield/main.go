// Command terok-shield is the egress firewall of terok's task containers.
//
// This is the foundation binary: it answers GET /v1/health on its unix
// socket. Its real API arrives with its own issue.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/logging"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "terok-shield: %v\n", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "terok-shield",
		Usage:   "the egress firewall of terok's task containers",
		Version: buildinfo.Version,
		Commands: []*cli.Command{{
			Name:  "serve",
			Usage: "run the daemon in the foreground",
			Flags: []cli.Flag{&cli.StringFlag{Name: "socket", Usage: "unix socket path (default $TEROK_RUN_DIR/shield.sock)"}},
			Action: func(c *cli.Context) error {
				log, err := logging.New(os.Stderr, "terok-shield")
				if err != nil {
					log.Warn().Err(err).Msg("log level")
				}
				ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
				defer stop()
				return run(ctx, log, paths.Socket(c.String("socket"), paths.Shield))
			},
		}},
	}
}

func run(ctx context.Context, log zerolog.Logger, socket string) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+health.Path, health.Handler("terok-shield", buildinfo.Version, nil))
	return unixhttp.ListenAndServe(ctx, log, socket, 0o660, mux)
}
