// Command podman-service runs rootless Podman's REST API for terok: it
// checks the machine, writes the few Podman settings it must decide, runs
// `podman system service` on podman.sock as a supervised child, and answers
// its own health and status on podman-service.sock.
package main

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	kcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/internal/preflight"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == preflight.ProbeArg {
		if err := preflight.ProbeOverlayChild(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) == 2 && os.Args[1] == preflight.UsernsArg {
		os.Exit(0) // ProbeUserns' child: it ran, so the namespace was made
	}
	kcli.Main(newApp()) // house rules: flags anywhere, exit codes of docs/conventions.md
}

var commonFlags = []cli.Flag{
	&cli.StringFlag{Name: "config", Usage: "optional TOML file (keys podman_socket, service_socket, hooks_dir, podman, start_timeout, probe_interval)"},
	&cli.StringFlag{Name: "podman-socket", Usage: "Podman's API socket (default $TEROK_RUN_DIR/podman.sock)"},
	&cli.StringFlag{Name: "socket", Usage: "podman-service's own socket (default $TEROK_RUN_DIR/podman-service.sock)"},
	&cli.StringFlag{Name: "hooks-dir", Usage: "OCI hooks directory written to [engine] hooks_dir ($" + config.EnvHooksDir + ", default " + config.DefaultHooksDir + ")"},
	&cli.StringFlag{Name: "podman", Usage: "podman binary ($" + config.EnvPodman + ", default podman)"},
}

// seamFlags point preflight at other files; tests use them to simulate a
// broken machine without breaking this one.
var seamFlags = []cli.Flag{
	&cli.StringFlag{Name: "subuid-file", Hidden: true},
	&cli.StringFlag{Name: "subgid-file", Hidden: true},
	&cli.StringFlag{Name: "tun-device", Hidden: true},
	&cli.StringFlag{Name: "fuse-device", Hidden: true},
}

// defaultRuntimeDir sets XDG_RUNTIME_DIR to /run/user/<uid> when it is
// unset and that directory exists and belongs to the user, as a login
// session would; supervisors starting the service with `user = podman`
// usually pass no session environment. Preflight checks the result.
func defaultRuntimeDir() {
	if os.Getenv("XDG_RUNTIME_DIR") != "" {
		return
	}
	d := fmt.Sprintf("/run/user/%d", os.Getuid())
	var st syscall.Stat_t
	if syscall.Stat(d, &st) == nil && int(st.Uid) == os.Getuid() && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		os.Setenv("XDG_RUNTIME_DIR", d)
	}
}

func loadConfig(c *cli.Context) (config.Config, error) {
	defaultRuntimeDir()
	cfg := config.Default()
	if err := cfg.LoadFile(c.String("config")); err != nil {
		return cfg, err
	}
	if err := cfg.ApplyEnv(os.Getenv); err != nil {
		return cfg, err
	}
	set := func(dst *string, flag string) {
		if c.IsSet(flag) {
			*dst = c.String(flag)
		}
	}
	set(&cfg.PodmanSocket, "podman-socket")
	set(&cfg.ServiceSocket, "socket")
	set(&cfg.HooksDir, "hooks-dir")
	set(&cfg.Podman, "podman")
	return cfg, cfg.Validate()
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "podman-service",
		Usage:   "rootless Podman's API service for terok",
		Version: buildinfo.Version,
		Commands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "check the machine, write Podman's settings, run `podman system service` and keep it answering",
				Flags: append(append([]cli.Flag{}, commonFlags...), seamFlags...),
				Action: func(c *cli.Context) error {
					cfg, err := loadConfig(c)
					if err != nil {
						return err
					}
					return serve.Run(c.Context, "podman-service", func(ctx context.Context, log zerolog.Logger) error {
						return serveService(ctx, log, cfg, seams(c))
					})
				},
			},
			{
				Name:  "check",
				Usage: "run the preflight checks and show the Podman settings serve would write",
				Flags: append(append([]cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"},
					&cli.StringFlag{Name: "only", Usage: "run only this check (userns: can this user create user namespaces?)"}}, commonFlags...), seamFlags...),
				Action: func(c *cli.Context) error {
					if only := c.String("only"); only != "" {
						if only != "userns" {
							return kcli.Usagef(c, "--only %q: the check that runs alone is userns", only)
						}
						return checkOnlyUserns(c.App.Writer, c.Bool("json"))
					}
					cfg, err := loadConfig(c)
					if err != nil {
						return err
					}
					return check(c.App.Writer, cfg, seams(c), c.Bool("json"))
				},
			},
			{
				Name:  "status",
				Usage: "show the running service: child pid, Podman version, sockets, storage, runtime, counts",
				Flags: append([]cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}}, commonFlags...),
				Action: func(c *cli.Context) error {
					cfg, err := loadConfig(c)
					if err != nil {
						return err
					}
					return status(c.Context, c.App.Writer, cfg, c.Bool("json"))
				},
			},
			{
				Name:      "import-image",
				Usage:     "import a root filesystem tarball (plain or gzip) as an image through Podman's API",
				ArgsUsage: "NAME TARBALL",
				Flags:     commonFlags,
				Action: func(c *cli.Context) error {
					cfg, err := loadConfig(c)
					if err != nil {
						return err
					}
					return importImage(c.Context, c.App.Writer, cfg, c.Args().Get(0), c.Args().Get(1))
				},
			},
		},
	}
}

// seamValues are the preflight path overrides given on the command line.
type seamValues struct {
	subuid, subgid, tun, fuse string
}

func seams(c *cli.Context) seamValues {
	return seamValues{subuid: c.String("subuid-file"), subgid: c.String("subgid-file"), tun: c.String("tun-device"), fuse: c.String("fuse-device")}
}
