package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	kcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// projectWithBuild is `terok project` with the commands of a project's
// image: build and image.
func projectWithBuild() *cli.Command {
	c := projectCommand()
	c.Subcommands = append(c.Subcommands, projectBuildCommand(), projectImageCommand())
	return c
}

func projectBuildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build the project's image (its build: section) and print each step as it runs",
		ArgsUsage: "PROJECT",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "refresh-agents", Usage: "resolve the agents' version ranges again and rebuild the agents layer when one moved"},
			&cli.BoolFlag{Name: "full", Usage: "build every layer again without Podman's layer cache"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			project := c.Args().First()
			if project == "" {
				return kcli.Usagef(c, "give the project: terok project build PROJECT")
			}
			mode := webapi.BuildReuse
			switch {
			case c.Bool("refresh-agents") && c.Bool("full"):
				return kcli.Usagef(c, "--refresh-agents and --full: give one (--full rebuilds the agents too)")
			case c.Bool("refresh-agents"):
				mode = webapi.BuildRefreshAgents
			case c.Bool("full"):
				mode = webapi.BuildFull
			}
			return runBuild(c, client(c), project, mode, c.App.Writer)
		},
	}
}

// runBuild builds project's image, printing its progress to w (JSON
// lines under --json).
func runBuild(c *cli.Context, cl *webapi.Client, project, mode string, w io.Writer) error {
	enc := json.NewEncoder(w)
	for ev, err := range cl.Build(ctx(c), project, mode) {
		if err != nil {
			return err
		}
		if wantJSON(c) {
			if err := enc.Encode(ev); err != nil {
				return err
			}
			continue
		}
		if line := buildLine(ev); line != "" {
			fmt.Fprintln(w, line)
		}
	}
	return nil
}

// buildLine is one build event as the CLI prints it ("" for none).
func buildLine(ev webapi.BuildEvent) string {
	layer := fmt.Sprintf("%-8s", ev.Layer)
	switch ev.Kind {
	case "reused":
		return fmt.Sprintf("%s reused %s", layer, ev.Ref)
	case "layer":
		return fmt.Sprintf("%s building %s", layer, ev.Ref)
	case "resolved":
		what := ev.Text
		if ev.Agent != "" {
			what = ev.Agent + " " + what
		}
		return fmt.Sprintf("%-8s %s resolved to %s", "versions", what, ev.Version)
	case "step":
		return fmt.Sprintf("%s STEP %d/%d: %s", layer, ev.Step, ev.Steps, ev.Text)
	case "output":
		return "           " + ev.Line
	case "step-done":
		cached := ""
		if ev.Cached {
			cached = " (cached)"
		}
		return fmt.Sprintf("%s step %d/%d done in %.1fs%s", layer, ev.Step, ev.Steps, ev.Seconds, cached)
	case "built":
		return fmt.Sprintf("%s built %s in %.1fs", layer, ev.Ref, ev.Seconds)
	case "failed":
		return fmt.Sprintf("%s FAILED at step %d/%d (%s)", layer, ev.Step, ev.Steps, ev.Text)
	case webapi.BuildDone:
		if ev.Result == nil {
			return "built"
		}
		var vs []string
		for k, v := range ev.Result.Versions {
			vs = append(vs, k+"@"+v)
		}
		agents := ""
		if len(vs) > 0 {
			slices.Sort(vs)
			agents = " with " + strings.Join(vs, " ")
		}
		return fmt.Sprintf("built %s (image %s)%s", ev.Result.Image, shortID(ev.Result.ImageID), agents)
	}
	return ""
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func projectImageCommand() *cli.Command {
	return &cli.Command{
		Name:      "image",
		Usage:     "show the image the project's tasks run and whether it must be built first",
		ArgsUsage: "PROJECT",
		Flags:     []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			st, err := client(c).ProjectImage(ctx(c), c.Args().First())
			if err != nil {
				return err
			}
			return out(c, st, func(w io.Writer) { printImageStatus(w, st) })
		},
	}
}

func printImageStatus(w io.Writer, st webapi.ImageStatus) {
	fmt.Fprintf(w, "project:   %s\nimage:     %s\nstate:     %s\n", st.Project, st.Image, st.State)
	if st.ImageID != "" {
		fmt.Fprintf(w, "image id:  %s\n", shortID(st.ImageID))
	}
	if len(st.Agents) > 0 {
		fmt.Fprintf(w, "agents:    %s\n", strings.Join(st.Agents, ", "))
	}
	if len(st.Versions) > 0 {
		var vs []string
		for k, v := range st.Versions {
			vs = append(vs, k+"@"+v)
		}
		fmt.Fprintf(w, "installed: %s\n", strings.Join(slices.Sorted(slices.Values(vs)), " "))
	}
	if st.Building {
		fmt.Fprintln(w, "building:  yes")
	}
	if st.Reason != "" {
		fmt.Fprintf(w, "reason:    %s\n", st.Reason)
	}
}

// buildFirst builds project's image before a task of it starts (terok
// task run --build) when it is missing or stale, its progress on
// standard error.
func buildFirst(c *cli.Context, cl *webapi.Client, project string) error {
	st, err := cl.ProjectImage(ctx(c), project)
	if err != nil || st.State == webapi.ImageNone || st.State == webapi.ImageCurrent {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "terok: %s; building it first\n", st.Reason)
	for ev, err := range cl.Build(ctx(c), project, webapi.BuildReuse) {
		if err != nil {
			return err
		}
		if line := buildLine(ev); line != "" {
			fmt.Fprintln(c.App.ErrWriter, line)
		}
	}
	return nil
}

func agentsCommand() *cli.Command {
	return &cli.Command{
		Name:  "agents",
		Usage: "the agent recipes projects select in build.agents",
		Subcommands: []*cli.Command{{
			Name: "list", Usage: "list the agent recipes: shipped ones and yours in <config>/agents/NAME.yml", Flags: []cli.Flag{jsonFlag},
			Action: func(c *cli.Context) error {
				as, err := client(c).Agents(ctx(c))
				if err != nil {
					return err
				}
				return out(c, as, func(w io.Writer) {
					var rows [][]string
					for _, a := range as {
						src := a.Source
						if a.Shadows {
							src += " (replaces the shipped one)"
						}
						if a.Error != "" {
							rows = append(rows, []string{a.Name, "-", "-", "ERROR: " + a.Error, src})
							continue
						}
						rows = append(rows, []string{a.Name, a.Package + "@" + a.Version, strings.Join(a.Providers, ","), a.Description, src})
					}
					table(w, "NAME\tPACKAGE\tPROVIDERS\tDESCRIPTION\tSOURCE", rows)
				})
			},
		}},
	}
}
