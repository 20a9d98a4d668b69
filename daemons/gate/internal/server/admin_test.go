package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func TestAdminAPIErrors(t *testing.T) {
	g := startGate(t, tempDir(t))
	ctx := g.ctx()
	st, err := g.api.Health(ctx)
	if err != nil || st.Name != "terok-gate" || st.Status != "ok" || st.Details["repos"] != float64(0) {
		t.Fatalf("health: %+v %v", st, err)
	}
	// Each bad request: the sentinel a caller matches and the message a
	// user reads.
	check := func(what string, err, is error, msg string) { t.Helper(); wantErr(t, what, err, is, msg) }
	_, err = g.api.MintToken(ctx, "nope", "t")
	check("mint for a missing repo", err, unixhttp.ErrNotFound,
		`no such repository: nope: create the repository first: POST /v1/repos {"name": "nope"} (HTTP 404)`)
	g.createRepo("p")
	for _, c := range []struct{ p, task, msg string }{
		{"../p", "t", `project "../p" may only hold letters, digits, '.', '_' and '-'`},
		{"p", "", "task is empty"},
		{"p", "a/b", `task "a/b" may only hold`},
		{"", "t", "project is empty"},
		{"p.git", "t", `project "p.git" must not end in ".git": the gate adds it in clone URLs (…/p.git); name the project "p"`},
	} {
		_, err := g.api.MintToken(ctx, c.p, c.task)
		check(fmt.Sprintf("mint %q %q", c.p, c.task), err, unixhttp.ErrBadRequest, c.msg)
	}
	for name, msg := range map[string]string{
		"..":                     `project ".." must not contain ".."`,
		"a/b":                    `project "a/b" may only hold`,
		"-x":                     `project "-x" must not start with '.' or '-'`,
		".x":                     `project ".x" must not start with '.' or '-'`,
		"a b":                    `project "a b" may only hold`,
		strings.Repeat("x", 101): "project is longer than 100 characters",
		"foo.git":                `project "foo.git" must not end in ".git": the gate adds it in clone URLs (…/foo.git); name the project "foo"`,
	} {
		_, _, err := g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: name})
		check(fmt.Sprintf("create %q", name), err, unixhttp.ErrBadRequest, msg)
	}
	if _, _, err := g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: strings.Repeat("x", 100)}); err != nil {
		t.Errorf("a name of exactly 100 characters: %v", err)
	}
	_, _, err = g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "q", Policy: "yolo"})
	check("bad policy", err, unixhttp.ErrBadRequest, `invalid request: policy "yolo": use "gatekeeping" or "online"`)
	_, _, err = g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "q", Upstream: "--upload-pack=evil"})
	check("option-like upstream", err, unixhttp.ErrBadRequest, `invalid request: upstream "--upload-pack=evil" is not a URL or path`)
	_, _, err = g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "q", DefaultBranch: "a..b"})
	check("bad default branch", err, unixhttp.ErrBadRequest, `branch "a..b" is not a valid short branch name`)
	_, err = g.api.RevokeProject(ctx, "")
	check("revoke without project", err, unixhttp.ErrBadRequest, "project is empty; use letters, digits, '.', '_' or '-': revoke needs ?project=P and optionally &task=T (HTTP 400)")
	// Unknown JSON fields are refused, naming the field.
	err = g.api.Unix().Post(ctx, "/v1/tokens", map[string]string{"project": "p", "taks": "x"}, nil)
	check("typo field", err, unixhttp.ErrBadRequest, `decode request body: json: unknown field "taks"`)
	// An encoded slash in a repository name is one path segment holding
	// "../..": a bad name, not a route.
	err = g.api.Unix().Do(ctx, http.MethodGet, "/v1/repos/..%2f..", nil, nil)
	check("odd repo path", err, unixhttp.ErrBadRequest, `project "../.." may only hold`)
	// An unknown route is JSON too.
	err = g.api.Unix().Get(ctx, "/v1/nope", nil)
	check("unknown route", err, unixhttp.ErrNotFound, "no such route: GET /v1/nope")
	// Mint, list without secret, revoke project.
	a, err := g.api.MintToken(ctx, "p", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.api.MintToken(ctx, "p", "t2"); err != nil {
		t.Fatal(err)
	}
	list, err := g.api.Tokens(ctx, "p")
	if err != nil || len(list) != 2 || list[0].ID != a.ID || !strings.HasPrefix(a.Secret, "terok-g-") {
		t.Fatalf("tokens: %+v %v", list, err)
	}
	if n, err := g.api.RevokeProject(ctx, "p"); n != 2 || err != nil {
		t.Fatalf("revoke project: %d %v", n, err)
	}
	repos, err := g.api.Repos(ctx)
	if err != nil || len(repos) != 2 || repos[0].Name != "p" || repos[0].DefaultBranch != "main" {
		t.Fatalf("repos: %+v %v", repos, err)
	}
	// A gate that is not running: the sentinel and the socket's name.
	g.stop()
	_, err = g.api.Health(context.Background())
	check("gate stopped", err, unixhttp.ErrUnavailable, "cannot reach "+g.cfg.Socket+" (is the daemon running?)")
}

func TestPollingSyncsMirrors(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	upBare, upWork := upstream(t, gr)
	g.stop()
	// Restart with a short poll tick and interval.
	g = startGateWith(t, g.cfg.Root, 200*time.Millisecond, func(c *cfgT) { c.PollInterval = cfgDuration(time.Second) })
	if _, _, err := g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "m", Upstream: upBare}); err != nil {
		t.Fatal(err)
	}
	want := gr.commit(upWork, "z", "z\n", "polled")
	gr.run(upWork, "push", "-q", "origin", "main")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, _ := gr.try("", "--git-dir", g.srvDir("m"), "rev-parse", "refs/heads/main"); strings.TrimSpace(out) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("poller did not sync within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDiskFullPush pushes into a gate whose state lives on a 2 MiB tmpfs:
// the client gets an error, the repository stays valid and unchanged.
func TestDiskFullPush(t *testing.T) {
	testkit.RequireRoot(t)
	gr := newGit(t)
	mnt := tempDir(t)
	if err := syscall.Mount("tkgate-full", mnt, "tmpfs", 0, "size=2m"); err != nil {
		testkit.Require(t, false, "mount tmpfs: "+err.Error())
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	root := filepath.Join(mnt, "gate")
	g := startGate(t, root)
	seedDir := seed(t, g, gr, "proj")
	head := gr.run(seedDir, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(seedDir, "huge.bin"), randomBytes(3<<20), 0o644)
	gr.run(seedDir, "add", ".")
	gr.run(seedDir, "commit", "-q", "-m", "too big for the disk")
	out, err := gr.try(seedDir, "push", "origin", "HEAD:main")
	if err == nil {
		t.Fatalf("push onto a full disk succeeded:\n%s", out)
	}
	if !strings.Contains(out, "No space left on device") || !strings.Contains(out, "[remote rejected] HEAD -> main") {
		t.Errorf("push error does not say why:\n%s", out)
	}
	g.stop()
	if got := gr.run(g.srvDir("proj"), "rev-parse", "refs/heads/main"); got != head {
		t.Fatalf("main moved: %s", got)
	}
	gr.run(g.srvDir("proj"), "fsck", "--no-progress", "--no-dangling")

}
