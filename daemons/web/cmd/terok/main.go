// Command terok is the command-line client of terok-web. For now it reports
// the health of every daemon of the tree; task commands arrive with task
// orchestration.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "terok: %v\n", err)
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "terok",
		Usage:   "talk to a running terok tree",
		Version: buildinfo.Version,
		Commands: []*cli.Command{{
			Name:  "health",
			Usage: "show whether each daemon answers on its socket ($TEROK_RUN_DIR)",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				return healthCmd(c.Context, c.App.Writer, c.Bool("json"))
			},
		}},
	}
}

// daemonSockets lists the daemons terok talks to, in display order.
var daemonSockets = []string{paths.Web, paths.Gate, paths.Shield, paths.PodmanService}

type row struct {
	Daemon string         `json:"daemon"`
	Socket string         `json:"socket"`
	Health *health.Status `json:"health,omitempty"`
	Error  string         `json:"error,omitempty"`
}

func healthCmd(ctx context.Context, w io.Writer, asJSON bool) error {
	var rows []row
	failed := 0
	for _, name := range daemonSockets {
		sock := paths.Socket("", name)
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := health.Check(cctx, unixhttp.NewClient(sock))
		cancel()
		r := row{Daemon: name, Socket: sock}
		if err != nil {
			r.Error = err.Error()
			failed++
		} else {
			r.Health = &st
		}
		rows = append(rows, r)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DAEMON\tSTATUS\tVERSION\tSOCKET")
		for _, r := range rows {
			if r.Health != nil {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Daemon, r.Health.Status, r.Health.Version, r.Socket)
			} else {
				fmt.Fprintf(tw, "%s\tdown\t-\t%s\n", r.Daemon, r.Socket)
			}
		}
		tw.Flush()
	}
	if failed > 0 {
		return cli.Exit(fmt.Sprintf("%d daemon(s) do not answer", failed), 3)
	}
	return nil
}
