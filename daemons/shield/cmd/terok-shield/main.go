// Command terok-shield is the egress firewall of terok's task containers:
// the daemon (serve), the OCI hook Podman runs (hook STAGE), the hooks JSON
// installer (install-hooks) and the CLI that talks to the daemon.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/buildinfo"
	kitcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/daemon"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/hook"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// main runs the app under the house rules of kit/cli: flags anywhere
// after their command, usage errors exit 2, a daemon that does not answer
// 3, an unknown container 4.
func main() { kitcli.Main(newApp(os.Stdout)) }

// orNone joins a list for status, or says it is empty.
func orNone(l []string) string {
	if len(l) == 0 {
		return "(none)"
	}
	return strings.Join(l, ",")
}

// unusable gives a configuration the daemon cannot use exit status 2,
// with its message (which names the setting and the fix).
func unusable(err error) error {
	if errors.Is(err, config.ErrInvalid) {
		return cli.Exit(err.Error(), kitcli.ExitUsage)
	}
	return err
}

func socketOf(c *cli.Context) string { return paths.Socket(c.String("socket"), paths.Shield) }

func client(c *cli.Context) *shieldapi.Client { return shieldapi.New(socketOf(c)) }

func newApp(out io.Writer) *cli.App {
	printJSON := func(c *cli.Context, v any) bool {
		if !c.Bool("json") {
			return false
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return true
	}
	printStatus := func(c *cli.Context, st shieldapi.Status) {
		if printJSON(c, st) {
			return
		}
		fmt.Fprintf(out, "container %s (pid %d, project %q)\nmode      %s\n", st.ID, st.PID, st.Project, strings.ToUpper(string(st.Mode)))
		if st.Mode == shieldapi.ModeDown {
			fmt.Fprintln(out, "WARNING   shield is DOWN: every destination but private ranges is reachable")
		}
		if st.Unshielded {
			fmt.Fprintln(out, "WARNING   no shield for this task's project: every destination but the host side is reachable")
		}
		if st.Reason != "" {
			fmt.Fprintf(out, "BLOCKED   by the daemon: %s\n", st.Reason)
		}
		resolver := "none (the task may use its container's resolver)"
		if st.Resolver != "" {
			resolver = st.Resolver + ":53 (only allowed names; " + fmt.Sprint(st.Answers) + " answered addresses allowed)"
			if st.DroppedLookups > 0 {
				resolver += fmt.Sprintf("; %d queries dropped over its limits", st.DroppedLookups)
			}
		}
		fmt.Fprintf(out, "profiles  %s\nstatic    %s\nsets      %d IPv4 / %d IPv6 ranges\nresolver  %s\nblocked   %d\narmed     %s (%.2f ms)\n",
			orNone(st.Profiles), orNone(st.Static), st.Ranges4, st.Ranges6, resolver, st.Blocked,
			st.ArmedAt.Format(time.RFC3339), st.ArmMillis)
		for _, e := range st.Allowed {
			fmt.Fprintf(out, "allowed   %s%s\n", e.Target, until(e))
		}
		for _, e := range st.Denied {
			fmt.Fprintf(out, "denied    %s\n", e.Target)
		}
		if len(st.DenyList) > 0 {
			fmt.Fprintf(out, "deny list %s (this task's: refused in every mode, a live allow cannot lift it)\n", strings.Join(st.DenyList, ","))
		}
		if len(st.DenyGlobal) > 0 {
			fmt.Fprintf(out, "deny all  %s (deny_names in config.json: every task)\n", strings.Join(st.DenyGlobal, ","))
		}
	}
	socketFlag := &cli.StringFlag{Name: "socket", Usage: "daemon socket (default $TEROK_RUN_DIR/shield.sock)", EnvVars: []string{"TEROK_SHIELD_SOCKET"}}
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print JSON"}
	return &cli.App{
		Name:            "terok-shield",
		Usage:           "the default-deny egress firewall of terok's task containers",
		Version:         buildinfo.Version,
		Writer:          out,
		Flags:           []cli.Flag{socketFlag, jsonFlag},
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "run the daemon in the foreground (as root)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "state", Usage: "state directory, root's and 0700 (default $TEROK_STATE_DIR/system/shield)"},
					&cli.StringFlag{Name: "config", Usage: "config directory, root's and 0700 (default $TEROK_CONFIG_DIR/system/shield)"},
					&cli.StringFlag{Name: "socket-mode", Usage: "socket file mode, octal (default 0660)"},
					&cli.StringFlag{Name: "socket-group", Usage: "group owning the socket, so the rootless hook can reach it (e.g. podman)"},
					&cli.StringSliceFlag{Name: "endpoint", Usage: "[tcp:|udp:]ADDR:PORT always reachable from tasks (gate, web task endpoint); repeatable, replaces the default tcp:169.254.1.2:9418"},
					&cli.StringSliceFlag{Name: "container-dns", Usage: "with --task-resolver=false: the container network's resolver tasks may use (port 53); repeatable, replaces the defaults 10.0.2.3, 169.254.1.1"},
					&cli.StringFlag{Name: "resolver", Usage: "IP:PORT the daemon resolves allowlisted domains at (default: /etc/resolv.conf)"},
					&cli.UintFlag{Name: "log-group", Value: uint(config.Default().LogGroup), Usage: "NFLOG group used inside task namespaces"},
					&cli.BoolFlag{Name: "task-resolver", Value: true, Usage: "serve DNS inside each task's namespace at " + shieldapi.ResolverAddr + " (only allowed names) and refuse port 53/853 elsewhere; =false lets tasks use --container-dns for any name"},
					&cli.StringSliceFlag{Name: "host-side", Usage: "CIDR where tasks reach the host's listeners, refused to tasks without the shield but for endpoints; repeatable, replaces the defaults 10.0.2.0/24, 169.254.0.0/16, fd00::/64, fe80::/10"},
					&cli.BoolFlag{Name: "receipts", Value: true, Usage: "audit allowed connections and answered lookups too (rate-limited)"},
					&cli.BoolFlag{Name: "lenient-profiles", Usage: "skip bad profile lines (logged with file:line) instead of refusing the profile"},
				},
				Action: func(c *cli.Context) error {
					cfg := config.Default()
					cfg.ConfigDir = c.String("config")
					if cfg.ConfigDir == "" {
						cfg.ConfigDir = filepath.Join(paths.ConfigDir(), "system", "shield")
					}
					cfg.StateDir = c.String("state")
					if cfg.StateDir == "" {
						cfg.StateDir = filepath.Join(paths.StateDir(), "system", "shield")
					}
					cfg.Socket = socketOf(c)
					if err := cfg.LoadFile(filepath.Join(cfg.ConfigDir, "config.json")); err != nil {
						return unusable(err)
					}
					if err := cfg.ApplyEnv(os.Getenv); err != nil {
						return unusable(err)
					}
					if c.IsSet("socket-mode") {
						cfg.SocketMode = c.String("socket-mode")
					}
					if c.IsSet("socket-group") {
						cfg.SocketGroup = c.String("socket-group")
					}
					if c.IsSet("endpoint") {
						cfg.Endpoints = c.StringSlice("endpoint")
					}
					if c.IsSet("container-dns") {
						cfg.ContainerDNS = c.StringSlice("container-dns")
					}
					if c.IsSet("resolver") {
						cfg.Resolver = c.String("resolver")
					}
					if c.IsSet("log-group") {
						cfg.LogGroup = uint16(c.Uint("log-group"))
					}
					if c.IsSet("task-resolver") {
						cfg.TaskResolver = c.Bool("task-resolver")
					}
					if c.IsSet("host-side") {
						cfg.HostSide = c.StringSlice("host-side")
					}
					if c.IsSet("receipts") {
						cfg.Receipts = c.Bool("receipts")
					}
					if c.IsSet("lenient-profiles") {
						cfg.LenientProfiles = c.Bool("lenient-profiles")
					}
					if err := cfg.Validate(); err != nil {
						return unusable(err)
					}
					return unusable(serve.Run(c.Context, "terok-shield", func(ctx context.Context, log zerolog.Logger) error {
						return daemon.Run(ctx, cfg, log)
					}))
				},
			},
			{
				Name:      "hook",
				Usage:     "OCI hook (run by Podman): arm at createRuntime, disarm at poststop; exits non-zero on any failure",
				ArgsUsage: "createRuntime|poststop",
				Flags:     []cli.Flag{socketFlag},
				Action: func(c *cli.Context) error {
					ctx, cancel := context.WithTimeout(c.Context, 25*time.Second)
					defer cancel()
					return hook.Run(ctx, c.Args().First(), os.Stdin, client(c))
				},
			},
			{
				Name:  "install-hooks",
				Usage: "write the OCI hooks JSON for containers annotated terok.shield=on",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "dir", Required: true, Usage: "hooks directory (give it to podman --hooks-dir or hooks_dir in containers.conf)"},
					&cli.StringFlag{Name: "bin", Usage: "absolute path of terok-shield the hook runs (default: this binary)"},
					socketFlag,
				},
				Action: func(c *cli.Context) error {
					bin := c.String("bin")
					if bin == "" {
						exe, err := os.Executable()
						if err != nil {
							return err
						}
						bin = exe
					}
					files, err := hook.Install(c.String("dir"), bin, socketOf(c))
					if err != nil {
						return err
					}
					for _, f := range files {
						fmt.Fprintln(out, f)
					}
					return nil
				},
			},
			{
				Name:      "status",
				Usage:     "show armed containers, or one container",
				ArgsUsage: "[CONTAINER]",
				Flags:     []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() == 1 {
						st, err := client(c).Status(c.Context, c.Args().First())
						if err != nil {
							return err
						}
						printStatus(c, st)
						return nil
					}
					sts, err := client(c).List(c.Context)
					if err != nil {
						return err
					}
					if printJSON(c, sts) {
						return nil
					}
					tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "CONTAINER\tPROJECT\tMODE\tRANGES\tBLOCKED\tARMED")
					for _, st := range sts {
						mode := strings.ToUpper(string(st.Mode))
						if st.Reason != "" {
							mode += " (by the daemon: see status " + short(st.ID) + ")"
						}
						fmt.Fprintf(tw, "%.12s\t%s\t%s\t%d\t%d\t%s\n", st.ID, st.Project, mode,
							st.Ranges4+st.Ranges6, st.Blocked, st.ArmedAt.Format(time.RFC3339))
					}
					return tw.Flush()
				},
			},
			{
				Name:      "allow",
				Usage:     "allow an IP, CIDR or domain for a running container",
				ArgsUsage: "CONTAINER TARGET",
				Flags:     []cli.Flag{jsonFlag, &cli.StringFlag{Name: "for", Usage: "only for this long (e.g. 10m); the entry lapses by itself"}},
				Action: func(c *cli.Context) error {
					st, err := client(c).Allow(c.Context, c.Args().Get(0), c.Args().Get(1), c.String("for"))
					if err != nil {
						return err
					}
					printStatus(c, st)
					return nil
				},
			},
			{
				Name:      "deny",
				Usage:     "deny an IP, CIDR or domain for a running container (wins over profiles)",
				ArgsUsage: "CONTAINER TARGET",
				Flags:     []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					st, err := client(c).Deny(c.Context, c.Args().Get(0), c.Args().Get(1))
					if err != nil {
						return err
					}
					printStatus(c, st)
					return nil
				},
			},
			{
				Name:      "mode",
				Usage:     "set a container's shield to up, down or block (open or block for a task without the shield)",
				ArgsUsage: "CONTAINER up|down|block|open",
				Flags:     []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					st, err := client(c).SetMode(c.Context, c.Args().Get(0), shieldapi.Mode(c.Args().Get(1)))
					if err != nil {
						return err
					}
					printStatus(c, st)
					return nil
				},
			},
			{
				Name:  "panic",
				Usage: "block every armed container at once",
				Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					r, err := client(c).Panic(c.Context)
					if err != nil {
						return err
					}
					if !printJSON(c, r) {
						fmt.Fprintf(out, "blocked %d container(s)\n", len(r.Blocked))
						for _, f := range r.Failed {
							fmt.Fprintf(out, "FAILED to block %s\n", f)
						}
					}
					if len(r.Failed) > 0 {
						return fmt.Errorf("%d container(s) could not be blocked", len(r.Failed))
					}
					return nil
				},
			},
			{
				Name:      "rules",
				Usage:     "print a container's live ruleset (read back over netlink)",
				ArgsUsage: "CONTAINER",
				Flags:     []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					r, err := client(c).Rules(c.Context, c.Args().First())
					if err != nil {
						return err
					}
					if !printJSON(c, r) {
						fmt.Fprint(out, r.Text)
					}
					return nil
				},
			},
			{
				Name:      "audit",
				Usage:     "print a container's audit log; -f follows it",
				ArgsUsage: "CONTAINER",
				Flags:     []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep streaming new records"}},
				Action: func(c *cli.Context) error {
					ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
					defer stop()
					enc := json.NewEncoder(out)
					err := client(c).Audit(ctx, c.Args().First(), c.Bool("follow"), func(ev shieldapi.Event) error {
						if c.Bool("json") {
							return enc.Encode(ev)
						}
						_, err := fmt.Fprintln(out, formatEvent(ev))
						return err
					})
					if ctx.Err() != nil {
						return nil
					}
					return err
				},
			},
			{
				Name:  "profiles",
				Usage: "list allowlist profiles (bundled and user)",
				Flags: []cli.Flag{jsonFlag},
				Action: func(c *cli.Context) error {
					ps, err := client(c).Profiles(c.Context)
					if err != nil {
						return err
					}
					if printJSON(c, ps) {
						return nil
					}
					tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "PROFILE\tENTRIES\tSOURCE")
					for _, p := range ps {
						src := p.Source
						if p.Shadows {
							src += " (shadows bundled)"
						}
						if p.Error != "" {
							src += "  BROKEN: " + p.Error
						}
						fmt.Fprintf(tw, "%s\t%d\t%s\n", p.Name, p.Entries, src)
					}
					return tw.Flush()
				},
			},
		},
	}
}

// short is the 12-character form of a container id.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func until(e shieldapi.Entry) string {
	if e.Expires == nil {
		return ""
	}
	return " until " + e.Expires.Local().Format(time.RFC3339)
}

func formatEvent(ev shieldapi.Event) string {
	s := ev.Time.Local().Format("2006-01-02T15:04:05.000") + "  " + ev.Kind
	if ev.Target != "" {
		s += "  " + ev.Target
	}
	if ev.Dest != "" {
		s += fmt.Sprintf("  %s %s", ev.Proto, ev.Dest)
		if ev.Port != 0 {
			s += fmt.Sprintf(":%d", ev.Port)
		}
	}
	if ev.Detail != "" {
		s += "  " + ev.Detail
	}
	return s
}
