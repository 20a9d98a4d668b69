package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	kitcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

var socketFlag = &cli.StringFlag{Name: "socket", Usage: "gate admin socket (default $TEROK_RUN_DIR/gate.sock)"}
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON"}

func clientOf(c *cli.Context) *gateapi.Client {
	return gateapi.New(paths.Socket(c.String("socket"), paths.Gate))
}

func ctxOf(c *cli.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Context, 30*time.Minute)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// required returns a usage error naming the flags of c that must be set
// and are not.
func required(c *cli.Context, flags ...string) error {
	var missing []string
	for _, f := range flags {
		if !c.IsSet(f) {
			missing = append(missing, "--"+f)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return kitcli.Usagef(c, "missing %s", strings.Join(missing, " and "))
}

// withHint replaces the API's hint (detail) of a gate error of the given
// kind with the command to run from this CLI, keeping its status (and so
// its exit code).
func withHint(err, kind error, hint string) error {
	var ae *unixhttp.APIError
	if !errors.Is(err, kind) || !errors.As(err, &ae) {
		return err
	}
	return &unixhttp.APIError{Status: ae.Status, Message: ae.Message, Detail: hint}
}

func repoCommand() *cli.Command {
	flags := []cli.Flag{socketFlag, jsonFlag}
	policy := &cli.StringFlag{Name: "policy", Usage: "push policy: gatekeeping (default) or online"}
	return &cli.Command{
		Name:  "repo",
		Usage: "manage project repositories",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "create an empty repository", ArgsUsage: "NAME",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "default-branch", Value: "main"}}, flags...),
				Action: func(c *cli.Context) error {
					return ensure(c, gateapi.EnsureRepoRequest{Name: c.Args().First(), DefaultBranch: c.String("default-branch")})
				}},
			{Name: "mirror", Usage: "create a repository mirroring an upstream", ArgsUsage: "NAME",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "upstream", Usage: "URL or path of the upstream (required)"}, policy,
					&cli.StringFlag{Name: "ssh-key", Usage: "key file name under <state>/gate/ssh/"},
					&cli.IntFlag{Name: "poll-seconds", Usage: "poll interval of this repository (0 daemon default, -1 off)"}}, flags...),
				Action: func(c *cli.Context) error {
					if err := required(c, "upstream"); err != nil {
						return err
					}
					return ensure(c, gateapi.EnsureRepoRequest{Name: c.Args().First(), Upstream: c.String("upstream"), Policy: c.String("policy"),
						SSHKey: c.String("ssh-key"), PollSeconds: c.Int("poll-seconds")})
				}},
			{Name: "list", Usage: "list repositories", Flags: flags, Action: func(c *cli.Context) error {
				ctx, cancel := ctxOf(c)
				defer cancel()
				list, err := clientOf(c).Repos(ctx)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c.App.Writer, list)
				}
				tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tDEFAULT\tPOLICY\tUPSTREAM\tLAST SYNC")
				for _, r := range list {
					ls := "-"
					if r.LastSync != nil {
						ls = r.LastSync.Local().Format(time.DateTime)
						if r.LastSyncError != "" {
							ls += " (errors)"
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.DefaultBranch, r.Policy, dash(r.Upstream), ls)
				}
				return tw.Flush()
			}},
			{Name: "show", Usage: "show a repository's branches", ArgsUsage: "NAME", Flags: flags, Action: func(c *cli.Context) error {
				ctx, cancel := ctxOf(c)
				defer cancel()
				d, err := clientOf(c).Repo(ctx, c.Args().First())
				if err != nil {
					return err
				}
				w := c.App.Writer
				if c.Bool("json") {
					return printJSON(w, d)
				}
				fmt.Fprintf(w, "%s  default %s  policy %s  upstream %s\n", d.Name, d.DefaultBranch, d.Policy, dash(d.Upstream))
				if d.LastSyncError != "" {
					fmt.Fprintf(w, "last sync errors: %s\n", d.LastSyncError)
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "BRANCH\tHEAD\tAHEAD\tBEHIND\tSUBJECT")
				for _, b := range d.Branches {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Name, short(b.Head), intp(b.Ahead), intp(b.Behind), b.Subject)
				}
				return tw.Flush()
			}},
			{Name: "log", Usage: "show a branch's commits (default branch unless given)", ArgsUsage: "NAME [BRANCH]",
				Flags: append([]cli.Flag{&cli.IntFlag{Name: "limit", Value: 20}}, flags...),
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					list, err := clientOf(c).Log(ctx, c.Args().Get(0), c.Args().Get(1), c.Int("limit"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, list)
					}
					for _, e := range list {
						fmt.Fprintf(c.App.Writer, "%s %s  %s  %s\n", short(e.Hash), e.When.Local().Format(time.DateOnly), e.Author, e.Subject)
					}
					return nil
				}},
			{Name: "diff", Usage: "show what a branch changes against the default branch (from where it branched off)", ArgsUsage: "NAME BRANCH",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "base", Usage: "compare with this branch (default: the repository's default branch)"},
					&cli.BoolFlag{Name: "stat", Usage: "list the files only, not the patch"}}, flags...),
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					d, err := clientOf(c).Diff(ctx, c.Args().Get(0), c.String("base"), c.Args().Get(1))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, d)
					}
					printDiff(c.App.Writer, d, c.Bool("stat"))
					return nil
				}},
			{Name: "sync", Usage: "fetch the upstream now", ArgsUsage: "NAME", Flags: flags, Action: func(c *cli.Context) error {
				ctx, cancel := ctxOf(c)
				defer cancel()
				res, err := clientOf(c).Sync(ctx, c.Args().First())
				if err != nil {
					return err
				}
				w := c.App.Writer
				if c.Bool("json") {
					return printJSON(w, res)
				}
				for _, u := range res.Updated {
					fmt.Fprintf(w, "updated %s %s -> %s\n", u.Branch, shortOrNew(u.Old), short(u.New))
				}
				for _, e := range res.Errors {
					fmt.Fprintf(w, "error: %s\n", e)
				}
				if len(res.Errors) > 0 {
					return cli.Exit("", kitcli.ExitFailed)
				}
				if len(res.Updated) == 0 {
					fmt.Fprintln(w, "up to date")
				}
				return nil
			}},
			{Name: "promote", Usage: "push a gate branch to the upstream", ArgsUsage: "NAME BRANCH",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "to", Usage: "upstream branch (default: same name)"},
					&cli.BoolFlag{Name: "force", Usage: "allow a non-fast-forward update upstream"},
					&cli.StringFlag{Name: "expect", Usage: "the commit you reviewed: refuse if BRANCH has moved since (exit 1)"}}, flags...),
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					res, err := clientOf(c).Promote(ctx, c.Args().Get(0), gateapi.PromoteRequest{Branch: c.Args().Get(1), Target: c.String("to"),
						Force: c.Bool("force"), Expect: c.String("expect")})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, res)
					}
					fmt.Fprintf(c.App.Writer, "promoted %s to upstream %s at %s\n", res.Branch, res.Target, short(res.Commit))
					return nil
				}},
			{Name: "rm", Usage: "delete a repository and revoke its tokens", ArgsUsage: "NAME", Flags: flags, Action: func(c *cli.Context) error {
				ctx, cancel := ctxOf(c)
				defer cancel()
				res, err := clientOf(c).DeleteRepo(ctx, c.Args().First())
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(c.App.Writer, res)
				}
				fmt.Fprintf(c.App.Writer, "deleted %s (%d task tokens revoked)\n", res.Name, res.TokensRevoked)
				return nil
			}},
		},
	}
}

func ensure(c *cli.Context, req gateapi.EnsureRepoRequest) error {
	ctx, cancel := ctxOf(c)
	defer cancel()
	repo, created, err := clientOf(c).EnsureRepo(ctx, req)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, repo)
	}
	verb := "exists"
	if created {
		verb = "created"
	}
	fmt.Fprintf(c.App.Writer, "%s %s (default branch %s, policy %s)\n", verb, repo.Name, repo.DefaultBranch, repo.Policy)
	return nil
}

func printDiff(w io.Writer, d gateapi.Diff, statOnly bool) {
	fmt.Fprintf(w, "%s...%s  (%s...%s)  %d commit(s), %d file(s), +%d -%d\n", d.Base, d.Head,
		short(d.MergeBase), short(d.HeadCommit), len(d.Commits), len(d.Files), d.Added, d.Removed)
	for _, c := range d.Commits {
		fmt.Fprintf(w, "  %s %s\n", short(c.Hash), c.Subject)
	}
	for _, f := range d.Files {
		counts := fmt.Sprintf("+%d -%d", f.Added, f.Removed)
		if f.Binary {
			counts = "binary"
		}
		name := f.Path
		if f.OldPath != "" {
			name = f.OldPath + " -> " + f.Path
		}
		fmt.Fprintf(w, "  %-9s %-12s %s\n", f.Status, counts, name)
	}
	if statOnly {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, d.Patch)
	if d.Truncated {
		fmt.Fprintf(w, "… patch cut at %d bytes; clone the branch for the rest\n", gateapi.MaxPatchBytes)
	}
}

func tokenCommand() *cli.Command {
	flags := []cli.Flag{socketFlag, jsonFlag}
	return &cli.Command{
		Name:  "token",
		Usage: "manage task tokens",
		Subcommands: []*cli.Command{
			{Name: "mint", Usage: "mint a task token (prints only the token)",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "project", Usage: "the project (required)"},
					&cli.StringFlag{Name: "task", Usage: "the task (required)"}}, flags...),
				Action: func(c *cli.Context) error {
					if err := required(c, "project", "task"); err != nil {
						return err
					}
					ctx, cancel := ctxOf(c)
					defer cancel()
					p := c.String("project")
					res, err := clientOf(c).MintToken(ctx, p, c.String("task"))
					if err != nil {
						return withHint(err, unixhttp.ErrNotFound, fmt.Sprintf(
							"create it first: terok-gate repo create %s (or terok-gate repo mirror --upstream URL %s)", p, p))
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, res)
					}
					fmt.Fprintln(c.App.Writer, res.Secret)
					return nil
				}},
			{Name: "list", Usage: "list task tokens (never their secrets)",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "project"}}, flags...),
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					list, err := clientOf(c).Tokens(ctx, c.String("project"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, list)
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tPROJECT\tTASK\tCREATED")
					for _, t := range list {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Project, t.Task, t.Created.Local().Format(time.DateTime))
					}
					return tw.Flush()
				}},
			{Name: "revoke", Usage: "revoke the tokens of a task, or of a whole project without --task",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "project", Usage: "the project (required)"}, &cli.StringFlag{Name: "task"}}, flags...),
				Action: func(c *cli.Context) error {
					if err := required(c, "project"); err != nil {
						return err
					}
					ctx, cancel := ctxOf(c)
					defer cancel()
					cl := clientOf(c)
					var n int
					var err error
					if c.IsSet("task") {
						n, err = cl.RevokeTask(ctx, c.String("project"), c.String("task"))
					} else {
						n, err = cl.RevokeProject(ctx, c.String("project"))
					}
					if err != nil {
						return withHint(err, unixhttp.ErrBadRequest, "name them with --project P and optionally --task T")
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, gateapi.RevokeResult{Revoked: n})
					}
					fmt.Fprintf(c.App.Writer, "revoked %d token(s)\n", n)
					return nil
				}},
		},
	}
}

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "print the push feed: every ref update a push landed (JSON lines)",
		Flags: []cli.Flag{socketFlag,
			&cli.Uint64Flag{Name: "since", Usage: "only events after this seq"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new events as pushes land"}},
		Action: func(c *cli.Context) error {
			// A follow runs until interrupted, then ends cleanly (exit 0).
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			if !c.Bool("follow") {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 30*time.Minute)
				defer cancel()
			}
			enc := json.NewEncoder(c.App.Writer)
			err := clientOf(c).Events(ctx, c.Uint64("since"), c.Bool("follow"), func(e gateapi.Event) error { return enc.Encode(e) })
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(h string) string {
	if h == "" {
		return "-"
	}
	return h[:min(12, len(h))]
}

func shortOrNew(h string) string {
	if h == "" {
		return "(new)"
	}
	return short(h)
}

func intp(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}
