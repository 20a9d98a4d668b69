package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/urfave/cli/v2"

	kcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// projectFlags set a project's fields (add and edit).
func projectFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "upstream", Usage: "upstream git URL or path (none: a local-only repository in the gate)"},
		&cli.StringFlag{Name: "branch", Usage: "default branch (default main)"},
		&cli.StringFlag{Name: "image", Usage: "task image (default localhost/terok-base:latest)"},
		&cli.StringFlag{Name: "security-class", Usage: "gatekeeping (pushes stay in the gate until promoted) or online"},
		&cli.StringFlag{Name: "cmd", Usage: "agent command, run with sh -c in /workspace; the prompt is in $TEROK_PROMPT and on stdin"},
		&cli.StringSliceFlag{Name: "profile", Usage: "shield profile (repeatable)"},
		&cli.StringSliceFlag{Name: "allow", Usage: "shield allow entry: domain, IP or CIDR (repeatable)"},
		&cli.StringSliceFlag{Name: "env", Usage: "agent environment KEY=VALUE (repeatable)"},
		&cli.StringSliceFlag{Name: "provider", Usage: "model provider whose key the vault lends tasks as a phantom, e.g. anthropic (repeatable; terok secret providers lists them)"},
		&cli.BoolFlag{Name: "no-shield", Usage: "run tasks without the shield (not recommended)"},
		&cli.IntFlag{Name: "web-port", Usage: "port a web-mode agent listens on"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit, e.g. 2g"},
		&cli.Float64Flag{Name: "cpus", Usage: "CPU limit, e.g. 1.5"},
		&cli.Int64Flag{Name: "pids", Usage: "process limit"},
		jsonFlag,
	}
}

// applyFlags sets on p the fields whose flags were given.
func applyFlags(c *cli.Context, p *webapi.Project) error {
	if c.IsSet("upstream") {
		p.Git.UpstreamURL = c.String("upstream")
	}
	if c.IsSet("branch") {
		p.Git.DefaultBranch = c.String("branch")
	}
	if c.IsSet("image") {
		p.Image = c.String("image")
	}
	if c.IsSet("security-class") {
		p.SecurityClass = c.String("security-class")
	}
	if c.IsSet("cmd") {
		p.Agent.Command = c.String("cmd")
	}
	if c.IsSet("profile") {
		p.Shield.Profiles = c.StringSlice("profile")
	}
	if c.IsSet("allow") {
		p.Shield.Allow = c.StringSlice("allow")
	}
	if c.IsSet("env") {
		if p.Agent.Env == nil {
			p.Agent.Env = map[string]string{}
		}
		for _, kv := range c.StringSlice("env") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return kcli.Usagef(c, "--env %q: give KEY=VALUE", kv)
			}
			p.Agent.Env[k] = v
		}
	}
	if c.IsSet("provider") {
		p.Agent.Providers = c.StringSlice("provider")
	}
	if c.IsSet("no-shield") {
		on := !c.Bool("no-shield")
		p.Shield.Enabled = &on
	}
	if c.IsSet("web-port") {
		p.Run.WebPort = c.Int("web-port")
	}
	if c.IsSet("memory") {
		p.Limits.Memory = c.String("memory")
	}
	if c.IsSet("cpus") {
		p.Limits.CPUs = c.Float64("cpus")
	}
	if c.IsSet("pids") {
		p.Limits.Pids = c.Int64("pids")
	}
	return nil
}

func printWarnings(c *cli.Context, info webapi.ProjectInfo) {
	for _, w := range info.Warnings {
		fmt.Fprintf(c.App.ErrWriter, "terok: warning: %s\n", w)
	}
}

func projectCommand() *cli.Command {
	return &cli.Command{
		Name:  "project",
		Usage: "define projects ($TEROK_CONFIG_DIR/projects/NAME/project.yml)",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "create a project", ArgsUsage: "NAME", Flags: projectFlags(),
				Action: func(c *cli.Context) error {
					p := webapi.Project{Name: c.Args().First()}
					if err := applyFlags(c, &p); err != nil {
						return err
					}
					info, err := client(c).CreateProject(ctx(c), p)
					if err != nil {
						return err
					}
					printWarnings(c, info)
					return out(c, info, func(w io.Writer) { fmt.Fprintf(w, "project %s written to %s\n", info.Name, info.File) })
				},
			},
			{
				Name: "list", Usage: "list the projects", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					ps, err := client(c).Projects(ctx(c))
					if err != nil {
						return err
					}
					return out(c, ps, func(w io.Writer) {
						var rows [][]string
						for _, p := range ps {
							up := orDash(p.Git.UpstreamURL)
							rows = append(rows, []string{p.Name, orDash(p.SecurityClass), orDash(p.Image), up, fmt.Sprint(len(p.Warnings))})
						}
						table(w, "NAME\tCLASS\tIMAGE\tUPSTREAM\tWARNINGS", rows)
					})
				},
			},
			{
				Name: "show", Usage: "show a project", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					info, err := client(c).Project(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					printWarnings(c, info)
					return out(c, info, func(w io.Writer) {
						fmt.Fprintf(w, "# %s\n", info.File)
						if b, err := projectYAML(info.Project); err == nil {
							w.Write(b)
						}
					})
				},
			},
			{
				Name: "edit", Usage: "change a project: with flags, else in $EDITOR (validated before it is saved)", ArgsUsage: "NAME", Flags: projectFlags(),
				Action: func(c *cli.Context) error {
					cl := client(c)
					info, err := cl.Project(ctx(c), c.Args().First())
					if err != nil {
						return err
					}
					p := info.Project
					if c.NumFlags() > 0 && !(c.NumFlags() == 1 && c.IsSet("json")) {
						if err := applyFlags(c, &p); err != nil {
							return err
						}
					} else if p, err = editInEditor(p); err != nil {
						return err
					}
					saved, err := cl.SaveProject(ctx(c), p)
					if err != nil {
						return err
					}
					printWarnings(c, saved)
					return out(c, saved, func(w io.Writer) { fmt.Fprintf(w, "project %s saved to %s\n", saved.Name, saved.File) })
				},
			},
			{
				Name: "rm", Usage: "remove a project's definition (its tasks must have ended)", ArgsUsage: "NAME", Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					name := c.Args().First()
					if err := client(c).DeleteProject(ctx(c), name); err != nil {
						return err
					}
					return out(c, map[string]string{"deleted": name}, func(w io.Writer) { fmt.Fprintf(w, "project %s removed\n", name) })
				},
			},
		},
	}
}

// editInEditor opens p as YAML in $EDITOR (vi by default) and reads it back.
func editInEditor(p webapi.Project) (webapi.Project, error) {
	f, err := os.CreateTemp("", "terok-project-*.yml")
	if err != nil {
		return p, err
	}
	defer os.Remove(f.Name())
	b, err := projectYAML(p)
	if err == nil {
		_, err = f.Write(b)
	}
	f.Close()
	if err != nil {
		return p, err
	}
	ed := os.Getenv("EDITOR")
	if ed == "" {
		ed = "vi"
	}
	cmd := exec.Command("sh", "-c", ed+` "$1"`, "sh", f.Name())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return p, fmt.Errorf("editor %s: %w", ed, err)
	}
	b, err = os.ReadFile(f.Name())
	if err != nil {
		return p, err
	}
	np, err := parseProjectYAML(b)
	if err != nil {
		return p, fmt.Errorf("the edited project does not read: %v (nothing saved)", err)
	}
	if np.Name == "" {
		np.Name = p.Name
	}
	return np, nil
}
