package cli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// testApp records what each action saw.
func testApp(got *string) *ucli.App {
	rec := func(c *ucli.Context) error {
		*got = fmt.Sprintf("%s sock=%s branch=%s json=%v args=%v", c.Command.Name,
			c.String("socket"), c.String("default-branch"), c.Bool("json"), c.Args().Slice())
		return nil
	}
	return &ucli.App{
		Name:  "tool",
		Flags: []ucli.Flag{&ucli.StringFlag{Name: "socket"}},
		Commands: []*ucli.Command{
			{Name: "serve", Action: rec},
			{Name: "repo", Subcommands: []*ucli.Command{
				{Name: "create", ArgsUsage: "NAME", Action: rec, Flags: []ucli.Flag{
					&ucli.StringFlag{Name: "default-branch"}, &ucli.BoolFlag{Name: "json"}}},
				{Name: "list", Action: rec},
				{Name: "log", ArgsUsage: "NAME [BRANCH]", Action: rec},
				{Name: "rm", ArgsUsage: "NAME...", Action: rec},
			}},
			{Name: "down", Action: func(*ucli.Context) error {
				return fmt.Errorf("call: %w", &unixhttp.DialError{Socket: "/x.sock", Err: fmt.Errorf("refused")})
			}},
			{Name: "missing", Action: func(*ucli.Context) error {
				return fmt.Errorf("show: %w", &unixhttp.APIError{Status: 404, Message: "no repo x"})
			}},
			{Name: "fails", Action: func(*ucli.Context) error { return fmt.Errorf("boom") }},
		},
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		args    string
		code    int
		got     string // what the action saw ("" = not run)
		errPart string
	}{
		{"serve", 0, "serve sock= branch= json=false args=[]", ""},
		{"--socket /a serve", 0, "serve sock=/a branch= json=false args=[]", ""},
		{"serve --socket /a", 0, "serve sock=/a branch= json=false args=[]", ""},
		{"serve --socket=/a", 0, "serve sock=/a branch= json=false args=[]", ""},
		{"repo create demo --default-branch dev", 0, "create sock= branch=dev json=false args=[demo]", ""},
		{"repo create --default-branch dev demo --json", 0, "create sock= branch=dev json=true args=[demo]", ""},
		{"repo create demo --socket /s", 0, "create sock=/s branch= json=false args=[demo]", ""},
		{"repo create -- --weird", 0, "create sock= branch= json=false args=[--weird]", ""},
		{"repo log demo", 0, "log sock= branch= json=false args=[demo]", ""},
		{"repo log demo main", 0, "log sock= branch= json=false args=[demo main]", ""},
		{"repo rm a b c", 0, "rm sock= branch= json=false args=[a b c]", ""},
		{"bogus", 2, "", `tool: unknown command "bogus" (commands: down, fails, missing, repo, serve); see 'tool --help'`},
		{"repo bogus", 2, "", `tool: unknown command "bogus" (commands: create, list, log, rm); see 'tool repo --help'`},
		{"serve extra", 2, "", `tool: unexpected argument "extra" (this command takes none); see 'tool serve --help'`},
		{"repo create", 2, "", `tool: missing argument: needs NAME; see 'tool repo create --help'`},
		{"repo create a b", 2, "", `tool: unexpected argument "b" (takes NAME)`},
		{"repo log a b c", 2, "", `unexpected argument "c" (takes NAME [BRANCH])`},
		{"repo rm", 2, "", `missing argument: needs NAME...`},
		{"serve --nope", 2, "", `flag provided but not defined: -nope`},
		{"down", 3, "", "cannot reach /x.sock (is the daemon running?)"},
		{"missing", 4, "", "show: no repo x (HTTP 404)"},
		{"fails", 1, "", "tool: boom"},
	}
	for _, tc := range cases {
		t.Run(tc.args, func(t *testing.T) {
			var got string
			app := testApp(&got)
			var out, errb bytes.Buffer
			app.Writer, app.ErrWriter = &out, &errb
			code := Run(app, append([]string{"tool"}, strings.Fields(tc.args)...))
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errb.String())
			}
			if got != tc.got {
				t.Fatalf("action saw %q, want %q", got, tc.got)
			}
			if !strings.Contains(errb.String(), tc.errPart) {
				t.Fatalf("stderr %q lacks %q", errb.String(), tc.errPart)
			}
			if tc.code == 2 && strings.Contains(errb.String()+out.String(), "USAGE:") {
				t.Fatalf("a usage error prints one line, not the help: %q", errb.String()+out.String())
			}
		})
	}
}

func TestArgBounds(t *testing.T) {
	for usage, want := range map[string][2]int{
		"": {0, 0}, "NAME": {1, 1}, "NAME [BRANCH]": {1, 2}, "[NAME]": {0, 1},
		"ID...": {1, -1}, "[ARGS...]": {0, -1}, "PROJECT ID": {2, 2}, "[A B]": {0, 2},
	} {
		min, max := argBounds(usage)
		if min != want[0] || max != want[1] {
			t.Errorf("%q: got %d,%d want %v", usage, min, max, want)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"tool"}, {"tool", "--help"}, {"tool", "repo"}, {"tool", "repo", "create", "--help"}} {
		var got string
		app := testApp(&got)
		var out bytes.Buffer
		app.Writer, app.ErrWriter = &out, &out
		if code := Run(app, args); code != 0 || !strings.Contains(out.String(), "USAGE") {
			t.Fatalf("%v: exit %d, output %q", args, code, out.String())
		}
	}
	_ = context.Background()
}
