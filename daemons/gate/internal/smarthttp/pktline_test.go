package smarthttp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestReadCommands(t *testing.T) {
	z := strings.Repeat("0", 40)
	a := strings.Repeat("a", 40)
	body := pktS(z+" "+a+" refs/heads/x\x00report-status side-band-64k\n") + pktS(a+" "+z+" refs/heads/y\n") + "0000PACKDATA"
	br := bufio.NewReader(strings.NewReader(body))
	cmds, raw, err := readCommands(br)
	if err != nil || len(cmds) != 2 || cmds[0].Ref != "refs/heads/x" || cmds[1].New != z {
		t.Fatalf("%+v %v", cmds, err)
	}
	rest, _ := io.ReadAll(br)
	if string(raw)+string(rest) != body {
		t.Fatal("raw bytes plus rest must replay the body")
	}
	for _, bad := range []string{"", "zz", pktS("nonsense\n") + "0000", pktS(z + " " + a + "\n"), "0010short"} {
		if _, _, err := readCommands(bufio.NewReader(strings.NewReader(bad))); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParsePath(t *testing.T) {
	good := map[string]route{
		"/p.git/info/refs":  {"p", "info/refs"},
		"/a.b-c_d.git/HEAD": {"a.b-c_d", "HEAD"},
	}
	for p, want := range good {
		if got, err := parsePath(p); err != nil || got != want {
			t.Errorf("%s: %+v %v", p, got, err)
		}
	}
	for p, msg := range map[string]string{
		"":                           `path "" must start with /<project>.git/`,
		"p.git/HEAD":                 `path "p.git/HEAD" must start with /<project>.git/`,
		"/p/HEAD":                    `path "/p/HEAD": use /<project>.git/…`,
		"/../p.git/HEAD":             `path "/../p.git/HEAD": use /<project>.git/…`,
		"/...git/HEAD":               `project ".." must not contain ".."`,
		"//p.git/HEAD":               `path "//p.git/HEAD": use /<project>.git/…`,
		"/p\x00.git/HEAD":            `project "p\x00" may only hold`,
		"/.git/HEAD":                 `project is empty`,
		"/p.git":                     `path "/p.git": use /<project>.git/…`,
		"/x.git.git/git-upload-pack": `project "x.git" must not end in ".git": the gate adds it in clone URLs (…/x.git); name the project "x"`,
	} {
		_, err := parsePath(p)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error saying %q", p, err, msg)
		}
	}
}

func pktS(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }
