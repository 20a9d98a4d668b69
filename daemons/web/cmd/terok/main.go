// Command terok is the command-line client of a running terok tree. It
// talks to terok-web on $TEROK_RUN_DIR/web.sock (or --url with --token)
// and, for `terok health`, to each daemon's socket.
//
// Exit codes: 0 ok; 1 failed (the daemon answered with an error); 2 usage;
// 3 a daemon is not reachable; 4 not found. `terok task wait ID` exits
// with the task's own exit code (1 when it failed without one).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	kcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func main() { kcli.Main(newApp()) }

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON"}

func newApp() *cli.App {
	return &cli.App{
		Name:                 "terok",
		Usage:                "projects and agent tasks of a running terok tree",
		Version:              buildinfo.Version,
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Usage: "terok-web's TCP address, e.g. http://127.0.0.1:8566 (default: the socket in $TEROK_RUN_DIR)", EnvVars: []string{"TEROK_WEB_URL"}},
			&cli.StringFlag{Name: "token", Usage: "access token for --url", EnvVars: []string{"TEROK_WEB_TOKEN"}},
			jsonFlag,
		},
		Before: func(c *cli.Context) error {
			cl := webapi.New(paths.Socket("", paths.Web))
			if u := c.String("url"); u != "" {
				var err error
				if cl, err = webapi.NewURL(u, c.String("token")); err != nil {
					return kcli.Usagef(c, "--url: %v", err)
				}
			}
			if c.App.Metadata == nil {
				c.App.Metadata = map[string]any{}
			}
			c.App.Metadata["client"] = cl
			return nil
		},
		Commands: []*cli.Command{
			healthCommand(),
			projectWithBuild(),
			agentsCommand(),
			taskCommand(),
			gateCommand(),
			shieldCommand(),
			imageCommand(),
			daemonsCommand(),
			secretCommand(),
			{Name: "web", Usage: "terok-web itself", Subcommands: []*cli.Command{{
				Name: "url", Usage: "print the browser login URL (with the access token)",
				Action: func(c *cli.Context) error {
					u, err := client(c).WebURL(ctx(c))
					if err != nil {
						return err
					}
					return out(c, map[string]string{"url": u}, func(w io.Writer) { fmt.Fprintln(w, u) })
				},
			}}},
			completionCommand(),
		},
	}
}

// client returns the terok-web client the flags select (made by the
// app's Before, which refuses a bad --url).
func client(c *cli.Context) *webapi.Client {
	return c.App.Metadata["client"].(*webapi.Client)
}

// ctx is the command's context.
func ctx(c *cli.Context) context.Context { return c.Context }

func wantJSON(c *cli.Context) bool {
	for _, l := range c.Lineage() {
		if l.Bool("json") {
			return true
		}
	}
	return false
}

// out prints v as JSON under --json, else with human.
func out(c *cli.Context, v any, human func(w io.Writer)) error {
	w := c.App.Writer
	if wantJSON(c) {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(w)
	return nil
}

func table(w io.Writer, header string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02")
}
