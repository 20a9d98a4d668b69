package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func gateCommand() *cli.Command {
	return &cli.Command{
		Name:  "gate",
		Usage: "a project's repository in the gate",
		Subcommands: []*cli.Command{
			{
				Name: "url", Usage: "the clone URL for this host (authenticate with the gate's admin token)", ArgsUsage: "PROJECT", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					g, err := client(c).Gate(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					return out(c, map[string]string{"url": g.CloneURL}, func(w io.Writer) { fmt.Fprintln(w, g.CloneURL) })
				},
			},
			{
				Name: "branches", Usage: "branches with ahead/behind against the default branch", ArgsUsage: "PROJECT", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					g, err := client(c).Gate(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					return out(c, g, func(w io.Writer) {
						var rows [][]string
						for _, b := range g.Branches {
							ab := "-"
							if b.Ahead != nil && b.Behind != nil {
								ab = fmt.Sprintf("+%d -%d", *b.Ahead, *b.Behind)
							}
							rows = append(rows, []string{b.Name, short(b.Head), ab, b.Subject})
						}
						table(w, "BRANCH\tHEAD\tAHEAD/BEHIND\tSUBJECT", rows)
					})
				},
			},
			{
				Name: "log", Usage: "commits of a branch", ArgsUsage: "PROJECT", Flags: []cli.Flag{&cli.StringFlag{Name: "branch"}, &cli.IntFlag{Name: "limit", Value: 20}, jsonFlag},
				Action: func(c *cli.Context) error {
					cs, err := client(c).GateLog(ctx(c), c.Args().First(), c.String("branch"), c.Int("limit"))
					if err != nil {
						return err
					}
					return out(c, cs, func(w io.Writer) {
						for _, raw := range cs {
							var cm struct{ Hash, Subject, Author string }
							_ = json.Unmarshal(raw, &cm)
							fmt.Fprintf(w, "%s %s (%s)\n", short(cm.Hash), cm.Subject, cm.Author)
						}
					})
				},
			},
			{
				Name: "diff", Usage: "what a branch changes against the default branch (or --base)", ArgsUsage: "PROJECT BRANCH",
				Flags: []cli.Flag{&cli.StringFlag{Name: "base", Usage: "compare with this branch"}, &cli.BoolFlag{Name: "stat", Usage: "commits and files only, no patch"}, jsonFlag},
				Action: func(c *cli.Context) error {
					d, err := client(c).GateDiff(ctx(c), c.Args().Get(0), c.String("base"), c.Args().Get(1))
					if err != nil {
						return err
					}
					return out(c, d, func(w io.Writer) {
						fmt.Fprintf(w, "%s...%s: %d commit(s), %d file(s), +%d -%d\n", d.Base, d.Head, len(d.Commits), len(d.Files), d.Added, d.Removed)
						for _, cm := range d.Commits {
							fmt.Fprintf(w, "  %s %s\n", short(cm.Hash), cm.Subject)
						}
						for _, f := range d.Files {
							fmt.Fprintf(w, "  %-9s %s (+%d -%d)\n", f.Status, f.Path, f.Added, f.Removed)
						}
						if !c.Bool("stat") && d.Patch != "" {
							fmt.Fprintf(w, "\n%s", d.Patch)
							if d.Truncated {
								fmt.Fprintln(w, "[patch cut; clone the branch for all of it]")
							}
						}
					})
				},
			},
			{
				Name: "sync", Usage: "fetch the upstream into the gate now", ArgsUsage: "PROJECT", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					res, err := client(c).GateSync(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					return out(c, res, func(w io.Writer) { fmt.Fprintf(w, "%s\n", res) })
				},
			},
			{
				Name: "promote", Usage: "push a gate branch upstream", ArgsUsage: "PROJECT BRANCH",
				Flags: []cli.Flag{&cli.StringFlag{Name: "target", Usage: "upstream branch (default: the same name)"}, &cli.BoolFlag{Name: "force"},
					&cli.StringFlag{Name: "expect", Usage: "the commit you reviewed: refuse if BRANCH has moved since"}, jsonFlag},
				Action: func(c *cli.Context) error {
					res, err := client(c).Promote(ctx(c), c.Args().Get(0), webapi.PromoteRequest{Branch: c.Args().Get(1), Target: c.String("target"),
						Force: c.Bool("force"), Expect: c.String("expect")})
					if err != nil {
						return err
					}
					return out(c, res, func(w io.Writer) {
						var p struct {
							Branch, Target, Commit string
							UpToDate               bool `json:"up_to_date"`
						}
						_ = json.Unmarshal(res, &p)
						fmt.Fprintf(w, "promoted %s to upstream %s at %s\n", p.Branch, p.Target, short(p.Commit))
					})
				},
			},
		},
	}
}

func printShield(w io.Writer, st shieldapi.Status) {
	fmt.Fprintf(w, "mode:      %s\nproject:   %s\nprofiles:  %s\n", st.Mode, orDash(st.Project), orDash(strings.Join(st.Profiles, ",")))
	fmt.Fprintf(w, "static:    %s\n", orDash(strings.Join(st.Static, ",")))
	var al, de []string
	for _, e := range st.Allowed {
		s := e.Target
		if e.Expires != nil {
			s += " (until " + e.Expires.Local().Format("15:04:05") + ")"
		}
		al = append(al, s)
	}
	for _, e := range st.Denied {
		de = append(de, e.Target)
	}
	fmt.Fprintf(w, "allowed:   %s\ndenied:    %s\nblocked:   %d connections\n", orDash(strings.Join(al, ", ")), orDash(strings.Join(de, ", ")), st.Blocked)
	if st.Unshielded {
		fmt.Fprintln(w, "WARNING:   no shield for this project: everything but the host side is reachable")
	}
	if st.Reason != "" {
		fmt.Fprintf(w, "BLOCKED by the shield: %s\n", st.Reason)
	}
}

func shieldCommand() *cli.Command {
	status := func(fn func(c *cli.Context, cl *webapi.Client) (shieldapi.Status, error)) cli.ActionFunc {
		return func(c *cli.Context) error {
			st, err := fn(c, client(c))
			if err != nil {
				return err
			}
			return out(c, st, func(w io.Writer) { printShield(w, st) })
		}
	}
	return &cli.Command{
		Name:  "shield",
		Usage: "a running task's egress firewall",
		Subcommands: []*cli.Command{
			{Name: "status", Usage: "mode, allowed and denied destinations", ArgsUsage: "ID", Flags: []cli.Flag{jsonFlag},
				Action: status(func(c *cli.Context, cl *webapi.Client) (shieldapi.Status, error) {
					return cl.ShieldStatus(ctx(c), c.Args().First())
				})},
			{Name: "allow", Usage: "let the task reach TARGET (domain, IP, CIDR), live", ArgsUsage: "ID TARGET",
				Flags: []cli.Flag{&cli.DurationFlag{Name: "for", Usage: "only for this long, e.g. 10m"}, jsonFlag},
				Action: status(func(c *cli.Context, cl *webapi.Client) (shieldapi.Status, error) {
					d := ""
					if c.IsSet("for") {
						d = c.Duration("for").String()
					}
					return cl.Allow(ctx(c), c.Args().Get(0), c.Args().Get(1), d)
				})},
			{Name: "deny", Usage: "refuse TARGET to the task, live", ArgsUsage: "ID TARGET", Flags: []cli.Flag{jsonFlag},
				Action: status(func(c *cli.Context, cl *webapi.Client) (shieldapi.Status, error) {
					return cl.Deny(ctx(c), c.Args().Get(0), c.Args().Get(1))
				})},
			{Name: "mode", Usage: "up (allowlist), down (allow all, log) or block (nothing); a task without the shield: open or block", ArgsUsage: "ID MODE", Flags: []cli.Flag{jsonFlag},
				Action: status(func(c *cli.Context, cl *webapi.Client) (shieldapi.Status, error) {
					return cl.SetMode(ctx(c), c.Args().Get(0), c.Args().Get(1))
				})},
			{Name: "audit", Usage: "the task's shield events", ArgsUsage: "ID",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new events"}, jsonFlag},
				Action: func(c *cli.Context) error {
					sctx, cancel := untilSignal(c)
					defer cancel()
					enc := json.NewEncoder(c.App.Writer)
					err := client(c).Audit(sctx, c.Args().First(), c.Bool("follow"), func(ev shieldapi.Event) error {
						if wantJSON(c) {
							return enc.Encode(ev)
						}
						t := ev.Target
						if ev.Dest != "" {
							t = fmt.Sprintf("%s:%d/%s", ev.Dest, ev.Port, ev.Proto)
						}
						_, err := fmt.Fprintf(c.App.Writer, "%s  %-10s %s %s\n", ev.Time.Local().Format("15:04:05.000"), ev.Kind, t, ev.Detail)
						return err
					})
					if sctx.Err() != nil {
						return nil
					}
					return err
				}},
			{Name: "panic", Usage: "block every task's network at once", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					res, err := client(c).Panic(ctx(c))
					if err != nil {
						return err
					}
					return out(c, res, func(w io.Writer) {
						fmt.Fprintf(w, "blocked %d container(s)\n", len(res.Blocked))
						for _, f := range res.Failed {
							fmt.Fprintf(w, "FAILED: %s\n", f)
						}
					})
				}},
			{Name: "profiles", Usage: "the shield's allowlist profiles", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					ps, err := client(c).Profiles(ctx(c))
					if err != nil {
						return err
					}
					return out(c, ps, func(w io.Writer) {
						var rows [][]string
						for _, p := range ps {
							rows = append(rows, []string{p.Name, fmt.Sprint(p.Entries), p.Source, p.Error})
						}
						table(w, "NAME\tENTRIES\tSOURCE\tERROR", rows)
					})
				}},
		},
	}
}

func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "task images in the tree's Podman",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "local images", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					ims, err := client(c).Images(ctx(c))
					if err != nil {
						return err
					}
					return out(c, ims, func(w io.Writer) {
						var rows [][]string
						for _, im := range ims {
							id := im.ID
							if len(id) > 12 {
								id = id[:12]
							}
							rows = append(rows, []string{orDash(strings.Join(im.Names, ",")), id, fmt.Sprintf("%.1f MB", float64(im.Size)/1e6), ago(time.Unix(im.Created, 0))})
						}
						table(w, "NAME\tID\tSIZE\tCREATED", rows)
					})
				}},
			{Name: "import", Usage: "import a root filesystem tarball (- for stdin) as image NAME", ArgsUsage: "NAME TARBALL", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					var r io.Reader = os.Stdin
					if p := c.Args().Get(1); p != "-" {
						f, err := os.Open(p)
						if err != nil {
							return err
						}
						defer f.Close()
						r = f
					}
					im, err := client(c).ImportImage(ctx(c), c.Args().Get(0), r)
					if err != nil {
						return err
					}
					return out(c, im, func(w io.Writer) { fmt.Fprintf(w, "imported %s (%s)\n", c.Args().Get(0), im.ID) })
				}},
		},
	}
}

func daemonsCommand() *cli.Command {
	act := func(action string) *cli.Command {
		return &cli.Command{Name: action, Usage: action + " a daemon", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag},
			Action: func(c *cli.Context) error {
				name := c.Args().First()
				if err := client(c).DaemonAction(ctx(c), name, action); err != nil {
					return err
				}
				return out(c, map[string]string{"daemon": name, "action": action}, func(w io.Writer) { fmt.Fprintf(w, "%s: %s done\n", name, action) })
			}}
	}
	return &cli.Command{
		Name:  "daemons",
		Usage: "the tree's programs under terok-supervisord",
		Subcommands: []*cli.Command{
			{Name: "status", Usage: "each program's state", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					ds, err := client(c).Daemons(ctx(c))
					if err != nil {
						return err
					}
					return out(c, ds, func(w io.Writer) {
						var rows [][]string
						for _, d := range ds {
							rows = append(rows, []string{d.Name, d.State, d.Description})
						}
						table(w, "NAME\tSTATE\tDESCRIPTION", rows)
						for _, d := range ds {
							if d.Problem != "" {
								fmt.Fprintf(w, "\n%s runs but cannot do its job: %s\n", d.Name, d.Problem)
							}
						}
					})
				}},
			act("start"), act("stop"), act("restart"),
			{Name: "logs", Usage: "the tail of a program's log", ArgsUsage: "NAME",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}}, &cli.IntFlag{Name: "bytes", Value: 16 << 10}},
				Action: func(c *cli.Context) error {
					sctx, cancel := untilSignal(c)
					defer cancel()
					cl := client(c)
					name := c.Args().First()
					last := ""
					for {
						s, err := cl.DaemonLog(sctx, name, c.Int("bytes"))
						if err != nil {
							if sctx.Err() != nil {
								return nil
							}
							return err
						}
						fmt.Fprint(c.App.Writer, newPart(last, s))
						last = s
						if !c.Bool("follow") {
							return nil
						}
						select {
						case <-sctx.Done():
							return nil
						case <-time.After(time.Second):
						}
					}
				}},
		},
	}
}

// newPart returns what cur adds to prev (both tails of one growing log).
func newPart(prev, cur string) string {
	if prev == "" {
		return cur
	}
	for i := 0; i < len(prev); i++ {
		if strings.HasPrefix(cur, prev[i:]) {
			return cur[len(prev)-i:]
		}
	}
	return cur
}
