package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/server"
	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the gate in the foreground",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "JSON config file (optional)"},
			&cli.StringFlag{Name: "listen", Usage: "git HTTP address host:port (default 127.0.0.1:9418, or $TEROK_GATE_BIND:9418)"},
			&cli.StringFlag{Name: "socket", Usage: "admin API unix socket (default $TEROK_RUN_DIR/gate.sock)"},
			&cli.StringFlag{Name: "root", Usage: "state directory (default $TEROK_STATE_DIR/gate)"},
			&cli.StringFlag{Name: "admin-token", Usage: "fixed admin token (default $TEROK_GATE_ADMIN_TOKEN, else generated once)"},
			&cli.DurationFlag{Name: "poll-interval", Usage: "sync repositories with an upstream this often, 0 for never (default 5m, $TEROK_GATE_POLL_INTERVAL)"},
		},
		Action: func(c *cli.Context) error {
			cfg := config.Default()
			if p := c.String("config"); p != "" {
				if err := cfg.LoadFile(p); err != nil {
					return err
				}
			}
			if err := cfg.ApplyEnv(os.Getenv); err != nil {
				return err
			}
			for name, dst := range map[string]*string{"listen": &cfg.Listen, "socket": &cfg.Socket, "root": &cfg.Root, "admin-token": &cfg.AdminToken} {
				if c.IsSet(name) {
					*dst = c.String(name)
				}
			}
			if c.IsSet("poll-interval") {
				cfg.PollInterval = config.Duration(c.Duration("poll-interval"))
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			return serve.Run(c.Context, "terok-gate", func(ctx context.Context, log zerolog.Logger) error {
				return run(ctx, log, cfg, os.Stdout)
			})
		},
	}
}

func run(ctx context.Context, log zerolog.Logger, cfg config.Config, banner io.Writer) error {
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	gitLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen for git on %s: %w; choose another with --listen or TEROK_GATE_BIND", cfg.Listen, err)
	}
	adminLn, err := unixhttp.Listen(cfg.Socket, 0o660)
	if err != nil {
		gitLn.Close()
		return err
	}
	printBanner(banner, srv, cfg, gitLn.Addr())
	log.Info().Str("listen", gitLn.Addr().String()).Str("socket", cfg.Socket).Str("root", cfg.Root).
		Dur("poll_interval", time.Duration(cfg.PollInterval)).Msg("terok-gate serving")
	return srv.Serve(ctx, gitLn, adminLn)
}

// printBanner tells where the gate answers and where its admin token is
// kept, never the token itself: stdout ends up in the supervisor's program
// log, which more can read than the token's own 0600 file.
func printBanner(w io.Writer, srv *server.Server, cfg config.Config, addr net.Addr) {
	_, src := srv.AdminToken()
	port := config.DefaultPort
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = fmt.Sprint(ta.Port)
	}
	where := "kept in " + filepath.Join(cfg.Root, "admin-token")
	switch src {
	case server.AdminFromGenerated:
		where = "generated now, " + where
	case server.AdminFromConfig:
		where = "set by TEROK_GATE_ADMIN_TOKEN / --admin-token"
	}
	fmt.Fprintf(w, "terok-gate: git smart HTTP on %s\n", addr)
	fmt.Fprintf(w, "terok-gate: admin token %s\n", where)
	fmt.Fprintf(w, "terok-gate: clone with:   git clone http://<admin-token>@localhost:%s/<project>.git\n", port)
}
