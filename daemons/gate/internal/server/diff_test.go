package server_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func TestDiffOfTaskBranch(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t))
	seedDir := seed(t, g, gr, "proj") // main: README, src/a.txt, src/b.txt
	fork := gr.commit(seedDir, "src/long.txt", strings.Repeat("long line\n", 20), "long")
	gr.run(seedDir, "push", "-q", "origin", "main")
	tok := g.mint("proj", "t1")
	clone := filepath.Join(tempDir(t), "c")
	gr.run("", "clone", "-q", g.url(tok, "proj"), clone)

	// The task's branch: edit, rename with an edit, delete, add text and
	// binary files, over two commits.
	gr.run(clone, "checkout", "-q", "-b", "task/fix")
	if err := os.WriteFile(filepath.Join(clone, "src/b.txt"), []byte("b\n"+strings.Repeat("line\n", 19)), 0o644); err != nil {
		t.Fatal(err)
	}
	gr.run(clone, "add", ".")
	gr.run(clone, "commit", "-q", "-m", "grow b")
	gr.run(clone, "mv", "src/long.txt", "src/renamed.txt")
	gr.run(clone, "rm", "-q", "README")
	if err := os.WriteFile(filepath.Join(clone, "src/renamed.txt"), []byte(strings.Repeat("long line\n", 20)+"tail\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clone, "blob.bin"), []byte{0, 1, 2, 0, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clone, "src/a.txt"), []byte("a\nmore a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(clone, "new file.txt"), []byte("x\ny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gr.run(clone, "add", "-A")
	gr.run(clone, "commit", "-q", "-m", "rename, delete, add")
	head := gr.run(clone, "rev-parse", "HEAD")
	gr.run(clone, "push", "-q", "origin", "task/fix")
	// main moves on after the fork: its change is not the task's.
	gr.commit(seedDir, "src/a.txt", "a changed on main\n", "main moves")
	mainNow := gr.run(seedDir, "rev-parse", "HEAD")
	gr.run(seedDir, "push", "-q", "origin", "main")

	d, err := g.api.Diff(g.ctx(), "proj", "", "task/fix")
	if err != nil {
		t.Fatal(err)
	}
	if d.Repo != "proj" || d.Base != "main" || d.Head != "task/fix" || d.BaseCommit != mainNow || d.HeadCommit != head || d.MergeBase != fork {
		t.Fatalf("diff header: %+v", d)
	}
	var subjects []string
	for _, c := range d.Commits {
		subjects = append(subjects, c.Subject)
	}
	if !reflect.DeepEqual(subjects, []string{"rename, delete, add", "grow b"}) || d.Commits[0].Hash != head ||
		d.Commits[0].Author != "Test" || len(d.Commits[0].Parents) != 1 || d.CommitsTruncated {
		t.Fatalf("commits: %+v", d.Commits)
	}
	wantFiles := []gateapi.FileChange{
		{Path: "README", Status: "deleted", Removed: 1},
		{Path: "blob.bin", Status: "added", Binary: true},
		{Path: "new file.txt", Status: "added", Added: 2},
		{Path: "src/a.txt", Status: "modified", Added: 1},
		{Path: "src/b.txt", Status: "modified", Added: 19},
		{Path: "src/renamed.txt", OldPath: "src/long.txt", Status: "renamed", Added: 1},
	}
	if !reflect.DeepEqual(d.Files, wantFiles) {
		t.Fatalf("files:\n got  %+v\n want %+v", d.Files, wantFiles)
	}
	if d.Added != 23 || d.Removed != 1 || d.Truncated || d.FilesTruncated {
		t.Fatalf("totals: +%d -%d truncated %v", d.Added, d.Removed, d.Truncated)
	}
	// The patch is what git itself shows for base...head.
	gr.run(clone, "fetch", "-q")
	oracle := gr.run(clone, "-c", "core.quotePath=false", "diff", "-M", "--no-ext-diff", "--no-textconv", "--no-color", "origin/main...origin/task/fix")
	if strings.TrimSpace(d.Patch) != oracle {
		t.Fatalf("patch differs from git diff main...task/fix:\n--- gate\n%s\n--- git\n%s", d.Patch, oracle)
	}
	if strings.Contains(d.Patch, "changed on main") {
		t.Fatal("the patch holds main's own change: not diffed from the merge base")
	}

	// A patch over the bound is cut at a line end and says so; the totals
	// still count everything.
	gr.run(clone, "checkout", "-q", "-b", "task/big", "origin/main")
	var big bytes.Buffer
	for i := 0; big.Len() < gateapi.MaxPatchBytes+100<<10; i++ {
		big.WriteString(strings.Repeat("x", 60) + "\n")
	}
	lines := strings.Count(big.String(), "\n")
	if err := os.WriteFile(filepath.Join(clone, "big.txt"), big.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gr.run(clone, "add", "big.txt")
	gr.run(clone, "commit", "-q", "-m", "big")
	gr.run(clone, "push", "-q", "origin", "task/big")
	d, err = g.api.Diff(g.ctx(), "proj", "main", "task/big")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Truncated || len(d.Patch) > gateapi.MaxPatchBytes || !strings.HasSuffix(d.Patch, "\n") ||
		!strings.HasPrefix(d.Patch, "diff --git a/big.txt b/big.txt\n") || d.Added != lines || len(d.Files) != 1 {
		t.Fatalf("big diff: truncated %v, %d patch bytes, +%d (want %d), files %+v", d.Truncated, len(d.Patch), d.Added, lines, d.Files)
	}

	// Unrelated histories: everything on head is new, no merge base.
	gr.run(clone, "checkout", "-q", "--orphan", "task/orphan")
	gr.run(clone, "rm", "-rq", "--cached", ".")
	gr.commit(clone, "only.txt", "only\n", "orphan")
	gr.run(clone, "push", "-q", "origin", "task/orphan")
	d, err = g.api.Diff(g.ctx(), "proj", "main", "task/orphan")
	if err != nil {
		t.Fatal(err)
	}
	if d.MergeBase != "" || len(d.Commits) != 1 || !reflect.DeepEqual(d.Files, []gateapi.FileChange{{Path: "only.txt", Status: "added", Added: 1}}) {
		t.Fatalf("orphan diff: %+v", d)
	}
	// A branch against itself: nothing.
	d, err = g.api.Diff(g.ctx(), "proj", "main", "main")
	if err != nil || len(d.Files) != 0 || len(d.Commits) != 0 || d.Patch != "" {
		t.Fatalf("main...main: %+v %v", d, err)
	}

	// What a user gets wrong, and what they read.
	for _, c := range []struct {
		repo, base, head string
		is               error
		msg              string
	}{
		{"proj", "", "nope", unixhttp.ErrNotFound, "no such branch: nope in proj"},
		{"proj", "gone", "task/fix", unixhttp.ErrNotFound, "no such branch: gone in proj"},
		{"nope", "", "task/fix", unixhttp.ErrNotFound, "no such repository: nope"},
		{"proj", "", "a..b", unixhttp.ErrBadRequest, `branch "a..b" is not a valid short branch name`},
		{"proj", "", "", unixhttp.ErrBadRequest, "a diff needs the head branch to compare with main"},
		{"../x", "", "task/fix", unixhttp.ErrBadRequest, ""},
	} {
		_, err := g.api.Diff(g.ctx(), c.repo, c.base, c.head)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("diff %s %q...%q: %v, want %v containing %q", c.repo, c.base, c.head, err, c.is, c.msg)
		}
	}
}
