package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seed creates project on g and pushes one commit to main as admin; it
// returns a work tree with the gate as origin (admin URL).
func seed(t *testing.T, g *gate, gr *gitRunner, project string) string {
	t.Helper()
	g.createRepo(project)
	w := filepath.Join(tempDir(t), "seed")
	gr.run("", "init", "-q", "-b", "main", w)
	gr.commit(w, "README", "hello\n", "first")
	gr.commit(w, "src/a.txt", "a\n", "second")
	gr.commit(w, "src/b.txt", "b\n", "third")
	gr.run(w, "remote", "add", "origin", g.url(g.admin, project))
	gr.run(w, "push", "-q", "origin", "main")
	return w
}

func TestCloneFetchPushWithTaskToken(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seedDir := seed(t, g, gr, "proj")
	head := gr.run(seedDir, "rev-parse", "HEAD")
	tok := g.mint("proj", "task1")
	work := tempDir(t)

	// Full clones over protocol v2 (git's default) and v0, URL exactly as
	// the docs write it: token as user name, no password.
	for _, v := range []string{"2", "0"} {
		dst := filepath.Join(work, "full-v"+v)
		gr.run("", "-c", "protocol.version="+v, "clone", "-q", g.url(tok, "proj"), dst)
		if got := gr.run(dst, "rev-parse", "HEAD"); got != head {
			t.Fatalf("v%s clone HEAD %s, want %s", v, got, head)
		}
		if n := gr.run(dst, "rev-list", "--count", "HEAD"); n != "3" {
			t.Fatalf("v%s clone has %s commits", v, n)
		}
	}
	if !strings.Contains(g.logs.String(), `"service":"git-upload-pack"`) || strings.Contains(g.logs.String(), tok) {
		t.Fatal("access log must name the service and never the token")
	}

	// Shallow: --depth and --shallow-since, both protocols.
	for _, v := range []string{"2", "0"} {
		dst := filepath.Join(work, "shallow-v"+v)
		gr.run("", "-c", "protocol.version="+v, "clone", "-q", "--depth", "1", g.url(tok, "proj"), dst)
		if n := gr.run(dst, "rev-list", "--count", "HEAD"); n != "1" {
			t.Fatalf("v%s --depth 1 clone has %s commits", v, n)
		}
		if s := gr.run(dst, "rev-parse", "--is-shallow-repository"); s != "true" {
			t.Fatalf("not shallow: %s", s)
		}
		gr.run(dst, "fetch", "-q", "--deepen", "1")
		if n := gr.run(dst, "rev-list", "--count", "HEAD"); n != "2" {
			t.Fatalf("deepen: %s commits", n)
		}
	}
	dst := filepath.Join(work, "since")
	gr.run("", "clone", "-q", "--shallow-since", "2000-01-01", g.url(tok, "proj"), dst)
	if n := gr.run(dst, "rev-list", "--count", "HEAD"); n != "3" {
		t.Fatalf("shallow-since: %s commits", n)
	}

	// Partial clone: blobs fetched on demand.
	dst = filepath.Join(work, "partial")
	gr.run("", "clone", "-q", "--filter=blob:none", g.url(tok, "proj"), dst)
	if b, err := os.ReadFile(filepath.Join(dst, "src", "b.txt")); err != nil || string(b) != "b\n" {
		t.Fatalf("partial clone checkout: %q %v", b, err)
	}

	// Fetch picks up a new commit.
	clone := filepath.Join(work, "full-v2")
	newHead := gr.commit(seedDir, "c.txt", "c\n", "fourth")
	gr.run(seedDir, "push", "-q", "origin", "main")
	gr.run(clone, "fetch", "-q")
	if got := gr.run(clone, "rev-parse", "origin/main"); got != newHead {
		t.Fatalf("fetch: origin/main %s want %s", got, newHead)
	}

	// Task pushes a new branch of its own; main stays the user's (the
	// hostile cases are in hostile_test.go).
	gr.run(clone, "merge", "-q", "--ff-only", "origin/main")
	gr.run(clone, "checkout", "-q", "-b", "task/feature")
	feat := gr.commit(clone, "feat.txt", "f\n", "feature")
	gr.run(clone, "push", "-q", "origin", "task/feature")
	if got := gr.run(seedDir, "ls-remote", "origin", "refs/heads/task/feature"); !strings.HasPrefix(got, feat) {
		t.Fatalf("task branch after push: %s", got)
	}
	out, err := gr.try(clone, "push", "origin", "task/feature:main")
	if err == nil || !strings.Contains(out, "remote: terok-gate: cannot update main: it is the default branch") {
		t.Fatalf("fast-forward of main by a task must be refused; got %v\n%s", err, out)
	}
	if got := gr.run(seedDir, "ls-remote", "origin", "refs/heads/main"); !strings.HasPrefix(got, newHead) {
		t.Fatalf("main changed by a refused push: %s", got)
	}
	// A push bigger than git's 1 MiB post buffer arrives chunked.
	gr.run(clone, "checkout", "-q", "-b", "task/big")
	if err := os.WriteFile(filepath.Join(clone, "big.bin"), randomBytes(3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	gr.run(clone, "add", "big.bin")
	gr.run(clone, "commit", "-q", "-m", "big")
	bigHead := gr.run(clone, "rev-parse", "HEAD")
	gr.run(clone, "push", "-q", "origin", "task/big")
	if got := gr.run(g.srvDir("proj"), "rev-parse", "refs/heads/task/big"); got != bigHead {
		t.Fatalf("chunked push: %s want %s", got, bigHead)
	}
	gr.run(clone, "checkout", "-q", "task/feature")
	// The task's own branches may be rewritten and deleted by the task.
	gr.run(clone, "commit", "-q", "--amend", "-m", "rewritten")
	gr.run(clone, "push", "-q", "-f", "origin", "HEAD:task/feature")
	gr.run(clone, "push", "-q", "origin", ":task/feature")

	// The admin token may rewrite main.
	gr.run(clone, "push", "-q", "-f", g.url(g.admin, "proj"), "HEAD:main")
	rewritten := gr.run(clone, "rev-parse", "HEAD")
	if got := gr.run(seedDir, "ls-remote", "origin", "refs/heads/main"); !strings.HasPrefix(got, rewritten) {
		t.Fatalf("admin force push did not land: %s", got)
	}
	gr.run(g.srvDir("proj"), "fsck", "--no-progress")
}

func (g *gate) srvDir(project string) string {
	return filepath.Join(g.cfg.Root, "repos", project+".git")
}
