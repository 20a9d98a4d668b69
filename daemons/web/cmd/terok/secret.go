package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	kcli "github.com/terok-ai/terok-in-docker/daemons/kit/cli"
	"github.com/terok-ai/terok-in-docker/daemons/vault/prompt"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// maxSecret bounds a value read for `terok secret set` (the vault's own
// limit is lower and says so).
const maxSecret = 16 << 10

func scopeOf(project string) string {
	if project == "" {
		return "global"
	}
	return "project " + project
}

// plainRemote reports a --url that would carry a value over the network
// unencrypted: http:// to a host that is not the loopback.
func plainRemote(c *cli.Context) (string, bool) {
	raw := ""
	for _, l := range c.Lineage() {
		if v := l.String("url"); v != "" {
			raw = v
			break
		}
	}
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Scheme != "http" {
		return "", false
	}
	host := u.Hostname()
	if host == "localhost" {
		return "", false
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return "", false
	}
	return raw, true
}

// readValue takes a secret from standard input or a prompt without echo;
// one on the command line is refused without repeating it.
func readValue(c *cli.Context, what string) ([]byte, error) {
	if c.Args().Len() > 1 && c.Args().Get(1) != "-" {
		return nil, kcli.Usagef(c, "a secret on the command line is refused: it would stay in your shell's history and every local user can read it in the process list; pipe it in (terok secret set %s < key.txt) or type it at the prompt",
			c.Args().First())
	}
	if u, ok := plainRemote(c); ok {
		return nil, cli.Exit(fmt.Sprintf("refusing to send a secret over plain HTTP to %s: use https:// (TEROK_PUBLIC_URL behind a TLS proxy), the loopback, or terok on the machine itself", u), kcli.ExitFailed)
	}
	v, err := prompt.Secret(os.Stdin, c.App.ErrWriter, what, maxSecret)
	if err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, cli.Exit("the value is empty; nothing was stored", kcli.ExitFailed)
	}
	return v, nil
}

func secretCommand() *cli.Command {
	project := &cli.StringFlag{Name: "project", Aliases: []string{"p"}, Usage: "the project's own credential (default: the global one, which a project's own overrides)"}
	return &cli.Command{
		Name:  "secret",
		Usage: "the model providers' credentials terok-vault keeps for tasks (values are never shown)",
		Subcommands: []*cli.Command{
			{Name: "set", Usage: "store a provider's API key, read from standard input or typed at a prompt without echo (never from the command line)",
				ArgsUsage: "PROVIDER [-]", Flags: []cli.Flag{project},
				Action: func(c *cli.Context) error {
					provider, proj := c.Args().First(), c.String("project")
					v, err := readValue(c, fmt.Sprintf("%s key (%s): ", provider, scopeOf(proj)))
					if err != nil {
						return err
					}
					sec, err := client(c).SetSecret(ctx(c), provider, proj, string(v))
					clear(v)
					if err != nil {
						return err
					}
					return out(c, sec, func(w io.Writer) {
						fmt.Fprintf(w, "stored %s (%s), fingerprint %s\n", sec.Provider, scopeOf(sec.Project), sec.Fingerprint)
					})
				}},
			{Name: "list", Usage: "list the stored credentials: provider, scope, kind, when set, fingerprint",
				Flags: []cli.Flag{&cli.StringFlag{Name: "project", Aliases: []string{"p"}, Usage: "only what applies to this project (its own and the global ones)"}},
				Action: func(c *cli.Context) error {
					list, err := client(c).Secrets(ctx(c), c.String("project"))
					if err != nil {
						return err
					}
					return out(c, list, func(w io.Writer) {
						var rows [][]string
						for _, s := range list {
							status := "ok"
							if s.Problem != "" {
								status = s.Problem
							}
							rows = append(rows, []string{s.Provider, scopeOf(s.Project), s.Kind, s.SetAt.Local().Format(time.DateTime), s.Fingerprint, status})
						}
						table(w, "PROVIDER\tSCOPE\tKIND\tSET\tFINGERPRINT\tSTATUS", rows)
					})
				}},
			{Name: "rm", Usage: "remove a provider's credential", ArgsUsage: "PROVIDER", Flags: []cli.Flag{project},
				Action: func(c *cli.Context) error {
					sec, err := client(c).RemoveSecret(ctx(c), c.Args().First(), c.String("project"))
					if err != nil {
						return err
					}
					return out(c, sec, func(w io.Writer) {
						fmt.Fprintf(w, "removed %s (%s), fingerprint %s\n", sec.Provider, scopeOf(sec.Project), sec.Fingerprint)
					})
				}},
			{Name: "login", Usage: "log in to a provider's subscription: the vault runs the login and alone refreshes it (only providers whose file declares a login; terok secret providers shows which)",
				ArgsUsage: "PROVIDER [-]",
				Flags:     []cli.Flag{project, &cli.BoolFlag{Name: "paste", Usage: "paste a refresh token (read like secret set) instead of the device flow"}},
				Action:    login},
			{Name: "providers", Usage: "list the providers the vault knows (a project names them in agent.providers)",
				Action: func(c *cli.Context) error {
					list, err := client(c).Providers(ctx(c))
					if err != nil {
						return err
					}
					return out(c, list, func(w io.Writer) { providerTable(w, list) })
				}},
		},
	}
}

func providerTable(w io.Writer, list []vaultapi.Provider) {
	var rows [][]string
	for _, p := range list {
		var env []string
		for _, e := range p.Env {
			env = append(env, e.Name)
		}
		login := "-"
		if p.Login != nil {
			login = strings.Join(p.Login.Flows, ",")
		}
		rows = append(rows, []string{p.Name, p.Upstream, orDash(strings.Join(env, ",")), login, p.Source})
	}
	table(w, "PROVIDER\tUPSTREAM\tVARIABLES\tLOGIN\tSOURCE", rows)
}

// loginTimeout bounds a whole login (the device code's own expiry ends
// it sooner).
const loginTimeout = 30 * time.Minute

// login runs a subscription login through terok-web: the device flow
// (print where to go and the code, then wait) or a pasted refresh token.
func login(c *cli.Context) error {
	provider, proj := c.Args().First(), c.String("project")
	req := webapi.LoginRequest{Flow: vaultapi.FlowDevice}
	if c.Bool("paste") {
		v, err := readValue(c, fmt.Sprintf("%s refresh token (%s): ", provider, scopeOf(proj)))
		if err != nil {
			return err
		}
		req.Flow, req.RefreshToken = vaultapi.FlowRefreshToken, string(v)
		clear(v)
	} else if c.Args().Len() > 1 {
		return kcli.Usagef(c, "the device flow takes no value; use --paste to give a refresh token")
	}
	lctx, cancel := context.WithTimeout(ctx(c), loginTimeout)
	defer cancel()
	cl := client(c)
	st, err := cl.StartLogin(lctx, provider, proj, req)
	req.RefreshToken = ""
	if err != nil {
		return err
	}
	if st.State == vaultapi.LoginPending {
		w := c.App.Writer
		fmt.Fprintf(w, "Open %s and enter the code %s\n", st.VerificationURI, st.UserCode)
		if st.VerificationURIComplete != "" {
			fmt.Fprintf(w, "(or open %s)\n", st.VerificationURIComplete)
		}
		fmt.Fprintf(w, "Waiting until %s ...\n", st.Expires.Local().Format(time.TimeOnly))
	}
	// Bounded by the code's expiry (the vault ends the login) and lctx.
	for st.State == vaultapi.LoginPending && lctx.Err() == nil {
		if st, err = cl.Login(lctx, st.ID, 30*time.Second); err != nil {
			return err
		}
	}
	if st.State != vaultapi.LoginDone || st.Secret == nil {
		return cli.Exit("login failed: "+orDash(st.Error), kcli.ExitFailed)
	}
	return out(c, st, func(w io.Writer) {
		fmt.Fprintf(w, "logged in: %s (%s), fingerprint %s; the vault refreshes it from now on\n", provider, scopeOf(proj), st.Secret.Fingerprint)
	})
}
