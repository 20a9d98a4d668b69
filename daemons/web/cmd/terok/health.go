package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// daemonSockets lists the daemons terok talks to, in display order.
var daemonSockets = []string{paths.Web, paths.Gate, paths.Shield, paths.PodmanService, paths.Vault}

type healthRow struct {
	Daemon string         `json:"daemon"`
	Socket string         `json:"socket"`
	Health *health.Status `json:"health,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// down reports a daemon that did not answer (not a degraded one).
func (r healthRow) down() bool { return r.Health == nil }

func healthCommand() *cli.Command {
	return &cli.Command{
		Name:  "health",
		Usage: "show whether each daemon answers on its socket ($TEROK_RUN_DIR), and the problem of one that is degraded",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			var rows []healthRow
			down, degraded := 0, 0
			for _, name := range daemonSockets {
				sock := paths.Socket("", name)
				cctx, cancel := context.WithTimeout(c.Context, 3*time.Second)
				st, err := health.Check(cctx, unixhttp.NewClient(sock))
				cancel()
				r := healthRow{Daemon: name, Socket: sock}
				switch {
				case health.Degraded(st, err):
					r.Health = &st
					degraded++
				case err != nil:
					r.Error = err.Error()
					down++
				default:
					r.Health = &st
				}
				rows = append(rows, r)
			}
			err := out(c, rows, func(w io.Writer) {
				var t [][]string
				for _, r := range rows {
					if !r.down() {
						t = append(t, []string{r.Daemon, r.Health.Status, r.Health.Version, r.Socket})
					} else {
						t = append(t, []string{r.Daemon, "down", "-", r.Socket})
					}
				}
				table(w, "DAEMON\tSTATUS\tVERSION\tSOCKET", t)
				for _, r := range rows {
					if !r.down() && r.Health.Problem != "" {
						fmt.Fprintf(w, "\n%s is %s: %s\n", r.Daemon, r.Health.Status, r.Health.Problem)
					}
				}
			})
			if err != nil {
				return err
			}
			switch {
			case down > 0:
				return cli.Exit(fmt.Sprintf("%d daemon(s) do not answer", down), 3)
			case degraded > 0:
				return cli.Exit(fmt.Sprintf("%d daemon(s) answer but cannot do their job (degraded)", degraded), 1)
			}
			return nil
		},
	}
}
