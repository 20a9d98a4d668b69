package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func TestAdminAPIErrors(t *testing.T) {
	g := startGate(t, tempDir(t))
	ctx := g.ctx()
	st, err := health.Check(ctx, g.api.Unix())
	if err != nil || st.Name != "terok-gate" || st.Status != "ok" {
		t.Fatalf("health: %+v %v", st, err)
	}
	if _, err := g.api.MintToken(ctx, "nope", "t"); unixhttp.StatusOf(err) != 404 {
		t.Fatalf("mint for missing repo: %v", err)
	}
	g.createRepo("p")
	for _, c := range []struct{ p, task string }{{"../p", "t"}, {"p", ""}, {"p", "a/b"}, {"", "t"}} {
		if _, err := g.api.MintToken(ctx, c.p, c.task); unixhttp.StatusOf(err) != 400 {
			t.Errorf("mint %q %q: %v", c.p, c.task, err)
		}
	}
	for _, name := range []string{"..", "a/b", "-x", ".x", "a b", strings.Repeat("x", 101)} {
		if _, _, err := g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: name}); unixhttp.StatusOf(err) != 400 {
			t.Errorf("create %q: %v", name, err)
		}
	}
	if _, _, err := g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "q", Policy: "yolo"}); unixhttp.StatusOf(err) != 400 {
		t.Errorf("bad policy: %v", err)
	}
	if _, _, err := g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "q", Upstream: "--upload-pack=evil"}); unixhttp.StatusOf(err) != 400 {
		t.Errorf("option-like upstream: %v", err)
	}
	if _, err := g.api.RevokeProject(ctx, ""); unixhttp.StatusOf(err) != 400 {
		t.Errorf("revoke without project: %v", err)
	}
	// Unknown JSON fields are refused.
	err = g.api.Unix().Post(ctx, "/v1/tokens", map[string]string{"project": "p", "taks": "x"}, nil)
	if unixhttp.StatusOf(err) != 400 {
		t.Errorf("typo field: %v", err)
	}
	if err := g.api.Unix().Do(ctx, http.MethodGet, "/v1/repos/..%2f..", nil, nil); unixhttp.StatusOf(err) != 400 && unixhttp.StatusOf(err) != 404 {
		t.Errorf("odd repo path: %v", err)
	}
	// Mint, list without secret, revoke project.
	a, _ := g.api.MintToken(ctx, "p", "t1")
	g.api.MintToken(ctx, "p", "t2")
	list, _ := g.api.Tokens(ctx, "p")
	if len(list) != 2 || list[0].ID != a.ID || !strings.HasPrefix(a.Secret, "terok-g-") {
		t.Fatalf("tokens: %+v", list)
	}
	if n, err := g.api.RevokeProject(ctx, "p"); n != 2 || err != nil {
		t.Fatalf("revoke project: %d %v", n, err)
	}
	repos, _ := g.api.Repos(ctx)
	if len(repos) != 1 || repos[0].Name != "p" || repos[0].DefaultBranch != "main" {
		t.Fatalf("repos: %+v", repos)
	}
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
	if !strings.Contains(out, "unpack") && !strings.Contains(out, "No space") && !strings.Contains(out, "space") {
		t.Errorf("push error does not say why:\n%s", out)
	}
	g.stop()
	if got := gr.run(g.srvDir("proj"), "rev-parse", "refs/heads/main"); got != head {
		t.Fatalf("main moved: %s", got)
	}
	gr.run(g.srvDir("proj"), "fsck", "--no-progress", "--no-dangling")

}
