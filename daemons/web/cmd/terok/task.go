package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/attach"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func taskRows(ts []webapi.Task) [][]string {
	var rows [][]string
	for _, t := range ts {
		code := "-"
		if t.ExitCode != nil {
			code = fmt.Sprint(*t.ExitCode)
		}
		rows = append(rows, []string{t.ID, t.Project, t.Mode, t.State, code, ago(t.Created)})
	}
	return rows
}

func printTask(w io.Writer, t webapi.Task) {
	code := "-"
	if t.ExitCode != nil {
		code = fmt.Sprint(*t.ExitCode)
	}
	fmt.Fprintf(w, "id:         %s\nproject:    %s\nmode:       %s\nstate:      %s\nexit code:  %s\n", t.ID, t.Project, t.Mode, t.State, code)
	if t.Reason != "" {
		fmt.Fprintf(w, "reason:     %s\n", t.Reason)
	}
	if t.Waiting != "" {
		fmt.Fprintf(w, "waiting:    %s\n", t.Waiting)
	}
	if t.Agent != "" {
		fmt.Fprintf(w, "agent:      %s\n", t.Agent)
	}
	if t.ImageStale != "" {
		fmt.Fprintf(w, "image:      STALE: %s\n", t.ImageStale)
	}
	fmt.Fprintf(w, "image:      %s\ncommand:    %s\ncontainer:  %s\nvolume:     %s\ngate:       %s\nruns:       %d\ncreated:    %s\n",
		t.Image, t.Command, t.Name, t.Volume, orDash(t.GateURL), t.Runs, t.Created.Local().Format("2006-01-02 15:04:05"))
	if t.Ended != nil {
		fmt.Fprintf(w, "ended:      %s\n", t.Ended.Local().Format("2006-01-02 15:04:05"))
	}
	if len(t.Branches) > 0 {
		fmt.Fprintf(w, "branches:   %v\n", t.Branches)
	}
	if t.WebURL != "" {
		fmt.Fprintf(w, "web UI:     %s  (open it with terok task ui %s: a one-time link)\n", t.WebURL, t.ID)
	}
}

// waitStarted polls a task that waits for its image until it runs or
// has ended; a task that failed to start is an error naming why.
func waitStarted(ctx context.Context, cl *webapi.Client, t webapi.Task) (webapi.Task, error) {
	for t.Waiting != "" && !webapi.Ended(t.State) {
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		var err error
		if t, err = cl.Task(ctx, t.ID); err != nil {
			return t, err
		}
	}
	if t.State == webapi.StateFailed {
		return t, fmt.Errorf("task %s failed to start: %s", t.ID, t.Reason)
	}
	return t, nil
}

// untilSignal returns a context that ends on Ctrl-C or SIGTERM.
func untilSignal(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

func taskCommand() *cli.Command {
	one := func(name, usage string, fn func(c *cli.Context, cl *webapi.Client, id string) (webapi.Task, error)) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, ArgsUsage: "ID", Flags: []cli.Flag{jsonFlag},
			Action: func(c *cli.Context) error {
				t, err := fn(c, client(c), c.Args().First())
				if err != nil {
					return err
				}
				return out(c, t, func(w io.Writer) { printTask(w, t) })
			}}
	}
	return &cli.Command{
		Name:  "task",
		Usage: "run and follow agent tasks",
		Subcommands: []*cli.Command{
			{
				Name: "run", Usage: "start a task of PROJECT and print its id", ArgsUsage: "PROJECT",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "mode", Value: webapi.ModeHeadless, Usage: "headless, interactive or web"},
					&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Usage: "the prompt ($TEROK_PROMPT and stdin of the agent command)"},
					&cli.StringFlag{Name: "cmd", Usage: "agent command instead of the project's agent.command"},
					&cli.StringFlag{Name: "agent", Usage: "run this agent of the project's build.agents (default: build.default_agent when there is no agent.command)"},
					&cli.BoolFlag{Name: "build", Usage: "build the project's image first when it is missing or stale"},
					jsonFlag,
				},
				Action: func(c *cli.Context) error {
					cl := client(c)
					if c.Bool("build") {
						if err := buildFirst(c, cl, c.Args().First()); err != nil {
							return err
						}
					}
					t, err := cl.Run(ctx(c), webapi.RunRequest{Project: c.Args().First(), Mode: c.String("mode"), Prompt: c.String("prompt"), Command: c.String("cmd"),
						Agent: c.String("agent"), Build: c.Bool("build")})
					if err != nil {
						return err
					}
					if t.Waiting != "" {
						// Its image is still being imported: say so, and
						// return once it started (or could not).
						fmt.Fprintf(c.App.ErrWriter, "terok: task %s is %s\n", t.ID, t.Waiting)
						if t, err = waitStarted(ctx(c), cl, t); err != nil {
							return err
						}
					}
					return out(c, t, func(w io.Writer) {
						fmt.Fprintln(w, t.ID)
						if t.WebURL != "" {
							fmt.Fprintf(c.App.ErrWriter, "web UI: %s (terok task ui %s prints a one-time link; the task page has it too)\n", t.WebURL, t.ID)
						}
					})
				},
			},
			{
				Name: "list", Usage: "list tasks (of PROJECT)", ArgsUsage: "[PROJECT]", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					ts, err := client(c).Tasks(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					return out(c, ts, func(w io.Writer) { table(w, "ID\tPROJECT\tMODE\tSTATE\tEXIT\tCREATED", taskRows(ts)) })
				},
			},
			one("show", "show a task", func(c *cli.Context, cl *webapi.Client, id string) (webapi.Task, error) { return cl.Task(ctx(c), id) }),
			{
				Name: "ui", Usage: "print a one-time link to a running web task's UI (valid for a minute)", ArgsUsage: "ID", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					tk, err := client(c).WebTicket(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					return out(c, tk, func(w io.Writer) { fmt.Fprintln(w, tk.URL) })
				},
			},
			{
				Name: "logs", Usage: "print a task's output", ArgsUsage: "ID",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing until the task ends"},
					&cli.IntFlag{Name: "tail", Value: -1, Usage: "only the last N lines"},
				},
				Action: func(c *cli.Context) error {
					sctx, cancel := untilSignal(c)
					defer cancel()
					for chunk, err := range client(c).Logs(sctx, c.Args().First(), c.Int("tail"), c.Bool("follow")) {
						if err != nil {
							return err
						}
						if _, err := c.App.Writer.Write(chunk); err != nil {
							return err
						}
					}
					return nil
				},
			},
			{
				Name: "wait", Usage: "wait for a task to end; exit with its exit code", ArgsUsage: "ID", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					t, err := client(c).Wait(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					if err := out(c, t, func(w io.Writer) {
						if t.Reason != "" {
							fmt.Fprintf(c.App.ErrWriter, "task %s %s: %s\n", t.ID, t.State, t.Reason)
						}
					}); err != nil {
						return err
					}
					switch {
					case t.ExitCode != nil && *t.ExitCode != 0:
						return cli.Exit("", *t.ExitCode)
					case t.ExitCode == nil && t.State != webapi.StateExited:
						return cli.Exit("", 1)
					}
					return nil
				},
			},
			one("stop", "stop a task", func(c *cli.Context, cl *webapi.Client, id string) (webapi.Task, error) { return cl.Stop(ctx(c), id) }),
			one("restart", "run an ended task again with its prompt (a running one is stopped first)", func(c *cli.Context, cl *webapi.Client, id string) (webapi.Task, error) {
				return cl.Restart(ctx(c), id)
			}),
			{
				Name: "followup", Usage: "run an ended task again in its workspace with a new prompt", ArgsUsage: "ID",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Required: true, Usage: "the new prompt"},
					&cli.StringFlag{Name: "cmd", Usage: "agent command instead of the task's"},
					jsonFlag,
				},
				Action: func(c *cli.Context) error {
					t, err := client(c).Followup(ctx(c), c.Args().First(), webapi.FollowupRequest{Prompt: c.String("prompt"), Command: c.String("cmd")})
					if err != nil {
						return err
					}
					return out(c, t, func(w io.Writer) { fmt.Fprintln(w, t.ID) })
				},
			},
			{
				Name: "rm", Usage: "remove a task: container, workspace volume, token and files", ArgsUsage: "ID...",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "also a task that is still running"}, jsonFlag},
				Action: func(c *cli.Context) error {
					var errs []error
					var removed []string
					for _, id := range c.Args().Slice() {
						if err := client(c).Remove(ctx(c), id, c.Bool("force")); err != nil {
							errs = append(errs, fmt.Errorf("%s: %w", id, err))
							continue
						}
						removed = append(removed, id)
					}
					if err := out(c, map[string][]string{"removed": removed}, func(w io.Writer) {
						for _, id := range removed {
							fmt.Fprintf(w, "removed %s\n", id)
						}
					}); err != nil {
						return err
					}
					return errors.Join(errs...)
				},
			},
			{
				Name: "timeline", Usage: "what happened to a task: states, pushes, shield events", ArgsUsage: "ID", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					es, err := client(c).Timeline(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					return out(c, es, func(w io.Writer) {
						// In time order: the shield's and the gate's entries
						// carry their own clocks and may arrive late.
						byTime := slices.Clone(es)
						sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].Time.Before(byTime[j].Time) })
						var rows [][]string
						for _, e := range byTime {
							rows = append(rows, []string{e.Time.Local().Format("15:04:05.000"), e.Kind, entryText(e)})
						}
						table(w, "TIME\tKIND\tWHAT", rows)
					})
				},
			},
			{
				Name: "attach", Usage: "a terminal in a running task (a login shell in /workspace, or --cmd); exits with its exit code", ArgsUsage: "ID",
				Flags: []cli.Flag{&cli.StringFlag{Name: "cmd", Usage: "run this command (sh -c) instead of a shell"}},
				Action: func(c *cli.Context) error {
					u, hc, h := client(c).WebSocket(webapi.AttachURL(c.Args().First(), c.String("cmd")))
					code, err := attach.Run(c.Context, u, attach.DialOptions{HTTPClient: hc, Header: h}, os.Stdin, c.App.Writer)
					if err != nil {
						return err
					}
					if code != 0 {
						return cli.Exit("", code)
					}
					return nil
				},
			},
		},
	}
}

func short(h string) string {
	if len(h) > 10 {
		return h[:10]
	}
	return h
}

func entryText(e webapi.Entry) string {
	switch e.Kind {
	case webapi.EntryState:
		s := e.State
		if e.ExitCode != nil {
			s += fmt.Sprintf(" (exit %d)", *e.ExitCode)
		}
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		return s
	case webapi.EntryPush:
		if e.New == "" {
			return fmt.Sprintf("%s deleted (was %s)", e.Ref, short(e.Old))
		}
		unit := "commits"
		if e.Commits == 1 {
			unit = "commit"
		}
		return fmt.Sprintf("%s %s → %s (%d %s)", e.Ref, orDash(short(e.Old)), short(e.New), e.Commits, unit)
	case webapi.EntryShield:
		s := e.Event
		if e.Target != "" {
			s += " " + e.Target
		}
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		return s
	case webapi.EntryPromote:
		return e.Detail
	}
	return e.Detail
}
