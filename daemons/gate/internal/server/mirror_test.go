package server_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// upstream makes a bare repository with two commits on main and a work
// tree pushing to it.
func upstream(t *testing.T, gr *gitRunner) (bare, work string) {
	t.Helper()
	d := tempDir(t)
	bare, work = filepath.Join(d, "up.git"), filepath.Join(d, "up-work")
	gr.run("", "init", "-q", "--bare", "-b", "main", bare)
	gr.run("", "init", "-q", "-b", "main", work)
	gr.commit(work, "a", "a\n", "up one")
	gr.commit(work, "b", "b\n", "up two")
	gr.run(work, "remote", "add", "origin", bare)
	gr.run(work, "push", "-q", "origin", "main")
	return bare, work
}

func TestMirrorSyncPromote(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	upBare, upWork := upstream(t, gr)
	ctx := g.ctx()

	repo, created, err := g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "mir", Upstream: upBare})
	if err != nil || !created || repo.DefaultBranch != "main" || repo.Policy != gateapi.PolicyGatekeeping || repo.Created.IsZero() {
		t.Fatalf("mirror: %+v %v %v", repo, created, err)
	}
	// Idempotent; a different upstream is a conflict.
	if _, created, err := g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "mir", Upstream: upBare}); err != nil || created {
		t.Fatalf("ensure again: %v %v", created, err)
	}
	_, _, err = g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "mir", Upstream: "/elsewhere"})
	wantErr(t, "other upstream", err, unixhttp.ErrConflict,
		fmt.Sprintf(`repository exists with other settings: mir has upstream %q, asked for "/elsewhere"; delete it first to change the upstream`, upBare))
	// The new mirror has a reachability bitmap, so upload-pack need not
	// walk the history for every clone.
	if bm, _ := filepath.Glob(filepath.Join(g.srvDir("mir"), "objects", "pack", "pack-*.bitmap")); len(bm) != 1 {
		t.Fatalf("mirror: want one pack bitmap, have %v", bm)
	}
	tok := g.mint("mir", "t1")
	clone := filepath.Join(tempDir(t), "c")
	gr.run("", "clone", "-q", g.url(tok, "mir"), clone)
	if got, want := gr.run(clone, "rev-parse", "HEAD"), gr.run(upWork, "rev-parse", "HEAD"); got != want {
		t.Fatalf("mirror HEAD %s, upstream %s", got, want)
	}

	// Upstream moves on; sync picks it up.
	newUp := gr.commit(upWork, "c", "c\n", "up three")
	gr.run(upWork, "push", "-q", "origin", "main")
	gr.run(upWork, "push", "-q", "origin", "main:release")
	res, err := g.api.Sync(ctx, "mir")
	if err != nil || len(res.Errors) != 0 || len(res.Updated) != 2 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	gr.run(clone, "pull", "-q", "--ff-only")
	if got := gr.run(clone, "rev-parse", "HEAD"); got != newUp {
		t.Fatalf("after sync clone HEAD %s want %s", got, newUp)
	}

	// Task work in the gate: a branch ahead of upstream main.
	gr.run(clone, "checkout", "-q", "-b", "feature")
	gr.commit(clone, "f1", "1\n", "feat one")
	feat := gr.commit(clone, "f2", "2\n", "feat two")
	gr.run(clone, "push", "-q", "origin", "feature")
	d, err := g.api.Repo(ctx, "mir")
	if err != nil {
		t.Fatal(err)
	}
	fb := branchOf(d, "feature")
	if fb == nil || fb.Ahead == nil || *fb.Ahead != 2 || *fb.Behind != 0 || fb.Head != feat || fb.Subject != "feat two" {
		t.Fatalf("show feature: %+v", fb)
	}
	if d.UpstreamHead != newUp || d.LastSync == nil {
		t.Fatalf("show: %+v", d)
	}
	log, err := g.api.Log(ctx, "mir", "feature", 3)
	if err != nil || len(log) != 3 || log[0].Hash != feat || log[0].Subject != "feat two" || log[2].Subject != "up three" || len(log[0].Parents) != 1 {
		t.Fatalf("log: %+v %v", log, err)
	}
	if all, err := g.api.Log(ctx, "mir", "", 0); err != nil || len(all) != 3 || all[0].Hash != newUp {
		t.Fatalf("default-branch log: %+v %v", all, err)
	}
	_, err = g.api.Log(ctx, "mir", "nope", 0)
	wantErr(t, "log of a missing branch", err, unixhttp.ErrNotFound, "no such branch: nope in mir")
	_, err = g.api.Log(ctx, "mir", "a..b", 0)
	wantErr(t, "log of a bad branch", err, unixhttp.ErrBadRequest, `branch "a..b" is not a valid short branch name`)
	// Upstream main moves again: feature is now one behind.
	gr.commit(upWork, "d", "d\n", "up four")
	gr.run(upWork, "push", "-q", "origin", "main")
	if _, err := g.api.Sync(ctx, "mir"); err != nil {
		t.Fatal(err)
	}
	d, err = g.api.Repo(ctx, "mir")
	if err != nil {
		t.Fatal(err)
	}
	if fb = branchOf(d, "feature"); fb == nil || fb.Ahead == nil || fb.Behind == nil || *fb.Ahead != 2 || *fb.Behind != 1 {
		t.Fatalf("feature after upstream moved: %+v (in %+v)", fb, d.Branches)
	}

	// Gatekeeping: the push stayed in the gate until promoted.
	if out, _ := gr.try("", "--git-dir", upBare, "rev-parse", "--verify", "-q", "refs/heads/feature"); out != "" {
		t.Fatalf("feature reached upstream before promotion: %s", out)
	}
	pr, err := g.api.Promote(ctx, "mir", gateapi.PromoteRequest{Branch: "feature"})
	if err != nil || pr.Commit != feat {
		t.Fatalf("promote: %+v %v", pr, err)
	}
	if got := gr.run("", "--git-dir", upBare, "rev-parse", "refs/heads/feature"); got != feat {
		t.Fatalf("upstream feature %s want %s", got, feat)
	}
	_, err = g.api.Promote(ctx, "mir", gateapi.PromoteRequest{Branch: "nope"})
	wantErr(t, "promote unknown branch", err, unixhttp.ErrNotFound, "no such branch: nope in mir")
	_, err = g.api.Promote(ctx, "mir", gateapi.PromoteRequest{Branch: "../x"})
	wantErr(t, "promote bad branch", err, unixhttp.ErrBadRequest, `branch "../x" is not a valid short branch name`)
	// Promoting feature onto upstream main is not a fast-forward.
	_, err = g.api.Promote(ctx, "mir", gateapi.PromoteRequest{Branch: "feature", Target: "main"})
	wantErr(t, "non-ff promote", err, unixhttp.ErrUnavailable, "upstream failed: push to "+upBare+": non-fast-forward update")

	// Diverged gate branch: sync reports it and leaves it alone.
	gr.run(clone, "checkout", "-q", "release")
	gr.run(clone, "reset", "-q", "--hard", "HEAD~1")
	local := gr.commit(clone, "r", "r\n", "gate-only release work")
	gr.run(clone, "push", "-q", "-f", g.url(g.admin, "mir"), "release")
	gr.commit(upWork, "e", "e\n", "upstream release work")
	gr.run(upWork, "push", "-q", "origin", "HEAD:release")
	res, err = g.api.Sync(ctx, "mir")
	if err != nil || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "release diverged") {
		t.Fatalf("diverged sync: %+v %v", res, err)
	}
	if got := gr.run(g.srvDir("mir"), "rev-parse", "refs/heads/release"); got != local {
		t.Fatal("sync overwrote diverged gate work")
	}

	// Unreachable upstream: sync reports it, the gate keeps serving.
	moved := upBare + ".gone"
	if err := os.Rename(upBare, moved); err != nil {
		t.Fatal(err)
	}
	res, err = g.api.Sync(ctx, "mir")
	if err != nil || len(res.Errors) == 0 {
		t.Fatalf("sync of missing upstream: %+v %v", res, err)
	}
	if d, _ := g.api.Repo(ctx, "mir"); d.LastSyncError == "" {
		t.Fatal("last sync error not recorded")
	}
	gr.run("", "clone", "-q", g.url(tok, "mir"), filepath.Join(tempDir(t), "still"))
	os.Rename(moved, upBare)

	// A mirror of an upstream that does not exist fails and leaves nothing.
	missing := filepath.Join(tempDir(t), "missing.git")
	_, _, err = g.api.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: "ghost", Upstream: missing})
	wantErr(t, "mirror of missing upstream", err, unixhttp.ErrUnavailable, "upstream failed: list "+missing+": ")
	if _, err := os.Stat(g.srvDir("ghost")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("failed mirror left a repository")
	}
	// Sync of a repository without upstream.
	g.createRepo("plain")
	_, err = g.api.Sync(ctx, "plain")
	wantErr(t, "sync plain", err, unixhttp.ErrConflict, "repository has no upstream: plain is not a mirror; nothing to sync")

	// Delete revokes tokens and removes the repository.
	del, err := g.api.DeleteRepo(ctx, "mir")
	if err != nil || del.TokensRevoked != 1 {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if st, _ := g.raw("GET /mir.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n" + basic(g.admin) + "Connection: close\r\n\r\n"); st != 404 {
		t.Fatalf("deleted repo: %d", st)
	}
	_, err = g.api.Repo(ctx, "mir")
	wantErr(t, "show deleted", err, unixhttp.ErrNotFound, "no such repository: mir")
}

func TestOnlineForwardsPushes(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	upBare, _ := upstream(t, gr)
	if _, _, err := g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "on", Upstream: upBare, Policy: gateapi.PolicyOnline}); err != nil {
		t.Fatal(err)
	}
	_, _, err := g.api.EnsureRepo(g.ctx(), gateapi.EnsureRepoRequest{Name: "bad", Policy: gateapi.PolicyOnline})
	wantErr(t, "online without upstream", err, unixhttp.ErrBadRequest, "invalid request: policy online needs an upstream to forward to")
	tok := g.mint("on", "t1")
	clone := filepath.Join(tempDir(t), "c")
	gr.run("", "clone", "-q", g.url(tok, "on"), clone)
	gr.run(clone, "checkout", "-q", "-b", "work")
	head := gr.commit(clone, "w", "w\n", "online work")
	gr.run(clone, "push", "-q", "origin", "work")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := gr.try("", "--git-dir", upBare, "rev-parse", "--verify", "-q", "refs/heads/work")
		if strings.TrimSpace(out) == head {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("push not forwarded upstream within 30s; upstream has %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var d gateapi.RepoDetail
	for i := 0; i < 50; i++ { // the record is written right after the push
		d, _ = g.api.Repo(g.ctx(), "on")
		if d.LastForward != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.LastForward == nil || d.LastForward.Error != "" || len(d.LastForward.Refs) != 1 {
		t.Fatalf("last forward: %+v", d.LastForward)
	}
}

func TestTokensSurviveRestart(t *testing.T) {
	gr := newGit(t)
	root := tempDir(t)
	g := startGate(t, root)
	seed(t, g, gr, "proj")
	admin := g.admin
	keep := g.mint("proj", "keep")
	gone := g.mint("proj", "gone")
	if _, err := g.api.RevokeTask(g.ctx(), "proj", "gone"); err != nil {
		t.Fatal(err)
	}
	g.stop()

	g2 := startGate(t, root)
	if g2.admin != admin {
		t.Fatalf("admin token changed across restart: %s -> %s", admin, g2.admin)
	}
	gr.run("", "clone", "-q", g2.url(keep, "proj"), filepath.Join(tempDir(t), "c"))
	if out, err := gr.try("", "clone", "-q", g2.url(gone, "proj"), filepath.Join(tempDir(t), "d")); err == nil {
		t.Fatalf("revoked token works after restart:\n%s", out)
	}
	list, err := g2.api.Tokens(g2.ctx(), "proj")
	if err != nil || len(list) != 1 || list[0].Task != "keep" {
		t.Fatalf("tokens after restart: %+v %v", list, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "tokens.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "admin-token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", fi, err)
	}
}

func TestParallelClonesAndPushes(t *testing.T) {
	gr := newGit(t)
	// Thirty git commands at once with one token: above the default limit
	// of connections per token (TestHostileSlowloris tests that limit).
	g := startGate(t, tempDir(t), func(c *cfgT) { c.Listener.MaxConnsPerCredential = 64 })
	seedDir := seed(t, g, gr, "proj")
	for i := 0; i < 20; i++ {
		gr.commit(seedDir, fmt.Sprintf("f/%d.txt", i), strings.Repeat(fmt.Sprintf("line %d\n", i), 500), fmt.Sprintf("c%d", i))
	}
	gr.run(seedDir, "push", "-q", "origin", "main")
	head := gr.run(seedDir, "rev-parse", "HEAD")
	tok := g.mint("proj", "par")
	work := tempDir(t)

	// Prepare the pushers' clones first, so the parallel phase is 20
	// clones and 10 pushes at once.
	pushers := make([]string, 10)
	for i := range pushers {
		pushers[i] = filepath.Join(work, fmt.Sprintf("p%d", i))
		gr.run("", "clone", "-q", g.url(tok, "proj"), pushers[i])
		gr.run(pushers[i], "checkout", "-q", "-b", fmt.Sprintf("task/%d", i))
		gr.commit(pushers[i], fmt.Sprintf("mine-%d", i), "x\n", fmt.Sprintf("push %d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			dst := filepath.Join(work, fmt.Sprintf("c%d", i))
			if out, err := gr.try("", "clone", "-q", g.url(tok, "proj"), dst); err != nil {
				errs <- fmt.Errorf("clone %d: %v\n%s", i, err, out)
				return
			}
			if out, _ := gr.try(dst, "rev-parse", "HEAD"); strings.TrimSpace(out) != head {
				errs <- fmt.Errorf("clone %d HEAD %s", i, out)
			}
		}(i)
	}
	for i := range pushers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if out, err := gr.try(pushers[i], "push", "-q", "origin", fmt.Sprintf("task/%d", i)); err != nil {
				errs <- fmt.Errorf("push %d: %v\n%s", i, err, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	srv := g.srvDir("proj")
	gr.run(srv, "fsck", "--no-progress", "--no-dangling")
	for i := range pushers {
		want := gr.run(pushers[i], "rev-parse", "HEAD")
		if got := gr.run(srv, "rev-parse", fmt.Sprintf("refs/heads/task/%d", i)); got != want {
			t.Errorf("task/%d is %s, want %s", i, got, want)
		}
	}
	if got := gr.run(srv, "rev-parse", "refs/heads/main"); got != head {
		t.Errorf("main moved: %s", got)
	}
}

// TestMirrorOverHTTP mirrors a repository served by another gate over
// HTTP (go-git's HTTP client against our smart HTTP handlers, token in
// the URL), then promotes a branch back through it.
func TestMirrorOverHTTP(t *testing.T) {
	gr := newGit(t)
	a := startGate(t, tempDir(t))
	seedDir := seed(t, a, gr, "src")
	head := gr.run(seedDir, "rev-parse", "HEAD")
	b := startGate(t, tempDir(t))
	upURL := a.url(a.admin, "src")
	repo, created, err := b.api.EnsureRepo(b.ctx(), gateapi.EnsureRepoRequest{Name: "dst", Upstream: upURL})
	if err != nil || !created {
		t.Fatalf("mirror over http: %v", err)
	}
	if strings.Contains(repo.Upstream, a.admin) || !strings.Contains(repo.Upstream, "redacted@") {
		t.Fatalf("upstream credentials not redacted: %s", repo.Upstream)
	}
	if list, _ := b.api.Repos(b.ctx()); strings.Contains(fmt.Sprint(list), a.admin) {
		t.Fatal("repo list shows upstream credentials")
	}
	tok := b.mint("dst", "t")
	clone := filepath.Join(tempDir(t), "c")
	gr.run("", "clone", "-q", b.url(tok, "dst"), clone)
	if got := gr.run(clone, "rev-parse", "HEAD"); got != head {
		t.Fatalf("mirror HEAD %s want %s", got, head)
	}
	gr.run(clone, "checkout", "-q", "-b", "via-http")
	feat := gr.commit(clone, "h", "h\n", "over http")
	gr.run(clone, "push", "-q", "origin", "via-http")
	if _, err := b.api.Promote(b.ctx(), "dst", gateapi.PromoteRequest{Branch: "via-http"}); err != nil {
		t.Fatalf("promote over http: %v", err)
	}
	if got := gr.run(a.srvDir("src"), "rev-parse", "refs/heads/via-http"); got != feat {
		t.Fatalf("promoted branch on the upstream gate: %s want %s", got, feat)
	}
	gr.run(a.srvDir("src"), "fsck", "--no-progress", "--no-dangling")
	// A wrong token in the upstream URL: the mirror fails cleanly.
	bad := strings.Replace(upURL, a.admin, "terok-g-00000000000000000000000000000000", 1)
	_, _, err = b.api.EnsureRepo(b.ctx(), gateapi.EnsureRepoRequest{Name: "dst2", Upstream: bad})
	wantErr(t, "mirror with a bad token", err, unixhttp.ErrUnavailable, "upstream failed: list http://redacted@")
	if err != nil && strings.Contains(err.Error(), "terok-g-0000") {
		t.Fatalf("error shows the credential: %v", err)
	}
}

// branchOf returns the named branch of d, or nil.
func branchOf(d gateapi.RepoDetail, name string) *gateapi.Branch {
	for i := range d.Branches {
		if d.Branches[i].Name == name {
			return &d.Branches[i]
		}
	}
	return nil
}
