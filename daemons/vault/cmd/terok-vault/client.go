package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	kitcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/kit/paths"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/secrets"
	"github.com/terok-ai/terok-in-docker/daemons/vault/prompt"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

var socketFlag = &cli.StringFlag{Name: "socket", Usage: "vault admin socket (default $TEROK_RUN_DIR/vault.sock)"}
var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON"}
var projectFlag = &cli.StringFlag{Name: "project", Usage: "the project's own credential (default: the global one, used by every project without its own)"}

func clientOf(c *cli.Context) *vaultapi.Client {
	return vaultapi.New(paths.Socket(c.String("socket"), paths.Vault))
}

func ctxOf(c *cli.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Context, time.Minute)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func errWriter(c *cli.Context) io.Writer {
	if c.App.ErrWriter != nil {
		return c.App.ErrWriter
	}
	return os.Stderr
}

func scopeName(project string) string {
	if project == "" {
		return "global"
	}
	return "project " + project
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkSocketOwner refuses to send a secret to a socket that is not the
// vault's: one that another user (the tree's user, who owns the run
// directory in the image) could have put in its place to catch what is
// sent. The vault's socket belongs to root, to the vault's user
// ($TEROK_VAULT_USER, else terok-vault), or to the caller (a vault run
// natively as oneself).
func checkSocketOwner(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil // the call itself reports an absent socket
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return cli.Exit(fmt.Sprintf("%s is not a socket (a symlink or a file); refusing to send a secret to it", path), kitcli.ExitFailed)
	}
	uid := int(fi.Sys().(*syscall.Stat_t).Uid)
	if uid == 0 || uid == os.Geteuid() {
		return nil
	}
	name := os.Getenv(config.EnvUser)
	if name == "" {
		name = "terok-vault"
	}
	if u, err := user.Lookup(name); err == nil && u.Uid == strconv.Itoa(uid) {
		return nil
	}
	return cli.Exit(fmt.Sprintf("%s belongs to uid %d, not root, you or the vault's user %s; refusing to send a secret to it (another user may have put it there); check who runs the vault (%s names its user)",
		path, uid, name, config.EnvUser), kitcli.ExitFailed)
}

// readSecret takes a value from standard input or a prompt without echo,
// refusing one given on the command line, and one bound for a socket
// that is not the vault's.
func readSecret(c *cli.Context, command, what string) ([]byte, error) {
	if c.Args().Len() > 1 && c.Args().Get(1) != "-" {
		return nil, kitcli.Usagef(c, "a secret on the command line is refused: it would stay in your shell's history and every local user can read it in the process list; pipe it in (terok-vault %s %s < file) or type it at the prompt",
			command, c.Args().First())
	}
	if err := checkSocketOwner(paths.Socket(c.String("socket"), paths.Vault)); err != nil {
		return nil, err
	}
	v, err := prompt.Secret(os.Stdin, errWriter(c), what, secrets.MaxValue)
	if err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, cli.Exit("the value is empty; nothing was stored", kitcli.ExitFailed)
	}
	return v, nil
}

func secretCommand() *cli.Command {
	flags := []cli.Flag{socketFlag, projectFlag}
	return &cli.Command{
		Name:  "secret",
		Usage: "store, list and remove provider credentials (values are never shown)",
		Subcommands: []*cli.Command{
			{Name: "set", Usage: "store a provider's API key, read from standard input or typed at a prompt without echo (never from the command line)",
				ArgsUsage: "PROVIDER [-]", Flags: flags,
				Action: func(c *cli.Context) error {
					provider, project := c.Args().First(), c.String("project")
					v, err := readSecret(c, "secret set", fmt.Sprintf("%s key (%s): ", provider, scopeName(project)))
					if err != nil {
						return err
					}
					ctx, cancel := ctxOf(c)
					defer cancel()
					sec, err := clientOf(c).SetSecret(ctx, provider, project, string(v))
					clear(v)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "stored %s (%s), fingerprint %s\n", sec.Provider, scopeName(sec.Project), sec.Fingerprint)
					return nil
				}},
			{Name: "list", Usage: "list stored credentials: provider, scope, kind, when set, fingerprint", Flags: []cli.Flag{socketFlag, jsonFlag,
				&cli.StringFlag{Name: "project", Usage: "only what applies to this project (its own and the global ones)"}},
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					list, err := clientOf(c).ListSecrets(ctx, c.String("project"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, list)
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "PROVIDER\tSCOPE\tKIND\tSET\tFINGERPRINT\tSTATUS")
					for _, s := range list {
						status := "ok"
						if s.Expires != nil {
							status = "refreshed, expires " + s.Expires.Local().Format(time.DateTime)
						}
						if s.Problem != "" {
							status = s.Problem
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Provider, scopeName(s.Project), s.Kind,
							s.SetAt.Local().Format(time.DateTime), s.Fingerprint, status)
					}
					return tw.Flush()
				}},
			{Name: "rm", Usage: "remove a provider's credential", ArgsUsage: "PROVIDER", Flags: flags,
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					sec, err := clientOf(c).RemoveSecret(ctx, c.Args().First(), c.String("project"))
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "removed %s (%s), fingerprint %s\n", sec.Provider, scopeName(sec.Project), sec.Fingerprint)
					return nil
				}},
			{Name: "login", Usage: "log in to a provider's subscription; the vault runs the login and alone refreshes it (only providers that declare a login)",
				ArgsUsage: "PROVIDER [-]",
				Flags:     append([]cli.Flag{&cli.BoolFlag{Name: "paste", Usage: "paste a refresh token (read like secret set) instead of the device flow"}}, flags...),
				Action:    login},
		},
	}
}

func login(c *cli.Context) error {
	provider, project := c.Args().First(), c.String("project")
	req := vaultapi.LoginRequest{Provider: provider, Project: project, Flow: vaultapi.FlowDevice}
	if c.Bool("paste") {
		v, err := readSecret(c, "secret login --paste", fmt.Sprintf("%s refresh token (%s): ", provider, scopeName(project)))
		if err != nil {
			return err
		}
		req.Flow, req.RefreshToken = vaultapi.FlowRefreshToken, string(v)
		clear(v)
	} else if c.Args().Len() > 1 {
		return kitcli.Usagef(c, "the device flow takes no value; use --paste to give a refresh token")
	}
	vc := clientOf(c)
	ctx, cancel := context.WithTimeout(c.Context, 30*time.Minute)
	defer cancel()
	st, err := vc.StartLogin(ctx, req)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if st.State == vaultapi.LoginPending {
		fmt.Fprintf(w, "Open %s and enter the code %s\n", st.VerificationURI, st.UserCode)
		if st.VerificationURIComplete != "" {
			fmt.Fprintf(w, "(or open %s)\n", st.VerificationURIComplete)
		}
		fmt.Fprintf(w, "Waiting until %s ...\n", st.Expires.Local().Format(time.TimeOnly))
		for st.State == vaultapi.LoginPending && ctx.Err() == nil { // bounded by the code's expiry (the vault ends it) and ctx
			if st, err = vc.Login(ctx, st.ID, 30*time.Second); err != nil {
				return err
			}
		}
	}
	if st.State != vaultapi.LoginDone {
		return cli.Exit("login failed: "+st.Error, kitcli.ExitFailed)
	}
	fmt.Fprintf(w, "logged in: %s (%s), fingerprint %s; the vault refreshes it from now on\n", provider, scopeName(project), st.Secret.Fingerprint)
	return nil
}

func providersCommand() *cli.Command {
	return &cli.Command{
		Name:  "providers",
		Usage: "the providers the vault knows, and checking provider files",
		Subcommands: []*cli.Command{
			{Name: "list", Usage: "list the providers of the running vault", Flags: []cli.Flag{socketFlag, jsonFlag,
				&cli.BoolFlag{Name: "routes", Usage: "also list each provider's routes"}},
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					list, err := clientOf(c).Providers(ctx)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, list)
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tUPSTREAM\tKEY HEADER\tPHANTOM FORMAT\tROUTES\tLOGIN\tSOURCE")
					for _, p := range list {
						login := "-"
						if p.Login != nil {
							login = strings.Join(p.Login.Flows, ",")
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", p.Name, p.Upstream, p.Inject, p.PhantomFormat, len(p.Routes), login, p.Source)
						if c.Bool("routes") {
							for _, r := range p.Routes {
								fmt.Fprintf(tw, "\t  %s\t\t\t\t\t\n", r)
							}
						}
					}
					return tw.Flush()
				}},
			{Name: "check", Usage: "check provider files before putting them into <config>/system/vault/providers/ (no vault needed)",
				ArgsUsage: "FILE...",
				Action: func(c *cli.Context) error {
					bad := 0
					for _, f := range c.Args().Slice() {
						p, err := providers.LoadFile(f, nil)
						if err != nil {
							fmt.Fprintf(errWriter(c), "terok-vault: %v\n", err)
							bad++
							continue
						}
						fmt.Fprintf(c.App.Writer, "%s: ok: provider %s, upstream %s, %d routes\n", f, p.Name, p.Upstream, len(p.Routes))
					}
					if bad > 0 {
						return cli.Exit("", kitcli.ExitFailed)
					}
					return nil
				}},
		},
	}
}

func phantomCommand() *cli.Command {
	taskFlags := []cli.Flag{&cli.StringFlag{Name: "project"}, &cli.StringFlag{Name: "task"}}
	return &cli.Command{
		Name:  "phantom",
		Usage: "mint, list and revoke phantom tokens (terok-web does this for every task; by hand for tests)",
		Subcommands: []*cli.Command{
			{Name: "mint", Usage: "mint one phantom per provider for a task and print them", ArgsUsage: "PROVIDER...",
				Flags: append([]cli.Flag{socketFlag, jsonFlag, &cli.StringFlag{Name: "broker", Usage: "print the agent's variables for this broker URL, e.g. http://host.containers.internal:9419"}}, taskFlags...),
				Action: func(c *cli.Context) error {
					if c.String("project") == "" || c.String("task") == "" {
						return kitcli.Usagef(c, "missing --project and --task")
					}
					ctx, cancel := ctxOf(c)
					defer cancel()
					list, err := clientOf(c).MintPhantoms(ctx, c.String("project"), c.String("task"), c.Args().Slice())
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, list)
					}
					for _, p := range list {
						if b := c.String("broker"); b != "" {
							env := p.Environment(b)
							keys := make([]string, 0, len(env))
							for k := range env {
								keys = append(keys, k)
							}
							sort.Strings(keys)
							for _, k := range keys {
								fmt.Fprintf(c.App.Writer, "%s=%s\n", k, env[k])
							}
							continue
						}
						fmt.Fprintf(c.App.Writer, "%s %s %s\n", p.ID, p.Provider, p.Token)
					}
					return nil
				}},
			{Name: "list", Usage: "list phantoms (never their tokens)", Flags: append([]cli.Flag{socketFlag, jsonFlag}, taskFlags...),
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					list, err := clientOf(c).Phantoms(ctx, c.String("project"), c.String("task"))
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, list)
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tPROJECT\tTASK\tPROVIDER\tCREATED\tREVOKED")
					for _, p := range list {
						rev := "-"
						if p.Revoked != nil {
							rev = p.Revoked.Local().Format(time.DateTime)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Project, p.Task, p.Provider, p.Created.Local().Format(time.DateTime), rev)
					}
					return tw.Flush()
				}},
			{Name: "revoke", Usage: "revoke one phantom by id, or every phantom of --project and --task", ArgsUsage: "[ID]",
				Flags: append([]cli.Flag{socketFlag}, taskFlags...),
				Action: func(c *cli.Context) error {
					ctx, cancel := ctxOf(c)
					defer cancel()
					if id := c.Args().First(); id != "" {
						if c.IsSet("project") || c.IsSet("task") {
							return kitcli.Usagef(c, "give an id or --project and --task, not both")
						}
						p, err := clientOf(c).RevokePhantom(ctx, id)
						if err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "revoked %s (%s, task %s)\n", p.ID, p.Provider, p.Task)
						return nil
					}
					if c.String("project") == "" || c.String("task") == "" {
						return kitcli.Usagef(c, "give a phantom id, or --project and --task")
					}
					n, err := clientOf(c).RevokeTask(ctx, c.String("project"), c.String("task"))
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "revoked %d phantom(s) of task %s\n", n, c.String("task"))
					return nil
				}},
		},
	}
}

func auditCommand() *cli.Command {
	return &cli.Command{
		Name: "audit", Usage: "a task's requests through the broker: counts and the latest entries", ArgsUsage: "PROJECT TASK",
		Flags: []cli.Flag{socketFlag, jsonFlag, &cli.IntFlag{Name: "limit", Value: 20, Usage: "entries to show"}},
		Action: func(c *cli.Context) error {
			ctx, cancel := ctxOf(c)
			defer cancel()
			rep, err := clientOf(c).Audit(ctx, c.Args().Get(0), c.Args().Get(1), c.Int("limit"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, rep)
			}
			w := c.App.Writer
			ct := rep.Counts
			fmt.Fprintf(w, "%d requests: %d forwarded, %d refused; %d bytes in, %d bytes out\n", ct.Requests, ct.Forwarded, ct.Refused, ct.BytesIn, ct.BytesOut)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tPROVIDER\tMETHOD\tPATH\tSTATUS\tIN\tOUT\tMS\tREFUSED")
			for _, e := range rep.Entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", e.Time.Local().Format(time.DateTime), e.Provider, e.Method, e.Path,
					e.Status, e.BytesIn, e.BytesOut, e.Millis, dash(e.Refused))
			}
			return tw.Flush()
		},
	}
}
