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

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
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

func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s needs exactly one %s argument", c.Command.FullName(), what)
	}
	return c.Args().First(), nil
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
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					return ensure(c, gateapi.EnsureRepoRequest{Name: name, DefaultBranch: c.String("default-branch")})
				}},
			{Name: "mirror", Usage: "create a repository mirroring an upstream", ArgsUsage: "NAME",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "upstream", Required: true, Usage: "URL or path of the upstream"}, policy,
					&cli.StringFlag{Name: "ssh-key", Usage: "key file name under <state>/gate/ssh/"},
					&cli.IntFlag{Name: "poll-seconds", Usage: "poll interval of this repository (0 daemon default, -1 off)"}}, flags...),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "NAME")
					if err != nil {
						return err
					}
					return ensure(c, gateapi.EnsureRepoRequest{Name: name, Upstream: c.String("upstream"), Policy: c.String("policy"),
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
					return printJSON(os.Stdout, list)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
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
				name, err := oneArg(c, "NAME")
				if err != nil {
					return err
				}
				ctx, cancel := ctxOf(c)
				defer cancel()
				d, err := clientOf(c).Repo(ctx, name)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(os.Stdout, d)
				}
				fmt.Printf("%s  default %s  policy %s  upstream %s\n", d.Name, d.DefaultBranch, d.Policy, dash(d.Upstream))
				if d.LastSyncError != "" {
					fmt.Printf("last sync errors: %s\n", d.LastSyncError)
				}
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "BRANCH\tHEAD\tAHEAD\tBEHIND\tSUBJECT")
				for _, b := range d.Branches {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.Name, b.Head[:12], intp(b.Ahead), intp(b.Behind), b.Subject)
				}
				return tw.Flush()
			}},
			{Name: "log", Usage: "show a branch's commits (default branch unless given)", ArgsUsage: "NAME [BRANCH]",
				Flags: append([]cli.Flag{&cli.IntFlag{Name: "limit", Value: 20}}, flags...),
				Action: func(c *cli.Context) error {
					if c.NArg() < 1 || c.NArg() > 2 {
						return fmt.Errorf("repo log needs NAME and optionally BRANCH")
					}
					ctx, cancel := ctxOf(c)
					defer cancel()
					list, err := clientOf(c).Log(ctx, c.Args().Get(0), c.Args().Get(1), c.Int("limit"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(os.Stdout, list)
					}
					for _, e := range list {
						fmt.Printf("%s %s  %s  %s\n", e.Hash[:12], e.When.Local().Format(time.DateOnly), e.Author, e.Subject)
					}
					return nil
				}},
			{Name: "sync", Usage: "fetch the upstream now", ArgsUsage: "NAME", Flags: flags, Action: func(c *cli.Context) error {
				name, err := oneArg(c, "NAME")
				if err != nil {
					return err
				}
				ctx, cancel := ctxOf(c)
				defer cancel()
				res, err := clientOf(c).Sync(ctx, name)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(os.Stdout, res)
				}
				for _, u := range res.Updated {
					fmt.Printf("updated %s %s -> %s\n", u.Branch, short(u.Old), short(u.New))
				}
				for _, e := range res.Errors {
					fmt.Printf("error: %s\n", e)
				}
				if len(res.Errors) > 0 {
					return cli.Exit("", 1)
				}
				if len(res.Updated) == 0 {
					fmt.Println("up to date")
				}
				return nil
			}},
			{Name: "promote", Usage: "push a gate branch to the upstream", ArgsUsage: "NAME BRANCH",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "to", Usage: "upstream branch (default: same name)"},
					&cli.BoolFlag{Name: "force", Usage: "allow a non-fast-forward update upstream"}}, flags...),
				Action: func(c *cli.Context) error {
					if c.NArg() != 2 {
						return fmt.Errorf("repo promote needs NAME and BRANCH")
					}
					ctx, cancel := ctxOf(c)
					defer cancel()
					res, err := clientOf(c).Promote(ctx, c.Args().Get(0), gateapi.PromoteRequest{Branch: c.Args().Get(1), Target: c.String("to"), Force: c.Bool("force")})
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(os.Stdout, res)
					}
					fmt.Printf("promoted %s to upstream %s at %s\n", res.Branch, res.Target, short(res.Commit))
					return nil
				}},
			{Name: "rm", Usage: "delete a repository and revoke its tokens", ArgsUsage: "NAME", Flags: flags, Action: func(c *cli.Context) error {
				name, err := oneArg(c, "NAME")
				if err != nil {
					return err
				}
				ctx, cancel := ctxOf(c)
				defer cancel()
				res, err := clientOf(c).DeleteRepo(ctx, name)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(os.Stdout, res)
				}
				fmt.Printf("deleted %s (%d task tokens revoked)\n", res.Name, res.TokensRevoked)
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
		return printJSON(os.Stdout, repo)
	}
	verb := "exists"
	if created {
		verb = "created"
	}
	fmt.Printf("%s %s (default branch %s, policy %s)\n", verb, repo.Name, repo.DefaultBranch, repo.Policy)
	return nil
}

func tokenCommand() *cli.Command {
	flags := []cli.Flag{socketFlag, jsonFlag}
	return &cli.Command{
		Name:  "token",
		Usage: "manage task tokens",
		Subcommands: []*cli.Command{
			{Name: "mint", Usage: "mint a task token (prints only the token)",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "project", Required: true}, &cli.StringFlag{Name: "task", Required: true}}, flags...),
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					res, err := clientOf(c).MintToken(ctx, c.String("project"), c.String("task"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(os.Stdout, res)
					}
					fmt.Println(res.Secret)
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
						return printJSON(os.Stdout, list)
					}
					tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tPROJECT\tTASK\tCREATED")
					for _, t := range list {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Project, t.Task, t.Created.Local().Format(time.DateTime))
					}
					return tw.Flush()
				}},
			{Name: "revoke", Usage: "revoke the tokens of a task, or of a whole project without --task",
				Flags: append([]cli.Flag{&cli.StringFlag{Name: "project", Required: true}, &cli.StringFlag{Name: "task"}}, flags...),
				Action: func(c *cli.Context) error {
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
						return err
					}
					if c.Bool("json") {
						return printJSON(os.Stdout, gateapi.RevokeResult{Revoked: n})
					}
					fmt.Printf("revoked %d token(s)\n", n)
					return nil
				}},
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
		return "(new)"
	}
	return h[:min(12, len(h))]
}

func intp(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}
