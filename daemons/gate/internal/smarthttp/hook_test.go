package smarthttp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestHostileHookFailsClosed runs the installed pre-receive hook the way
// git would without the gate's socket (a receive-pack the gate did not
// start, or fd 3 gone): the push is refused, with the reason in git's
// output, and the ref does not move.
func TestHostileHookFailsClosed(t *testing.T) {
	testkit.RequireCommand(t, "git")
	dir := t.TempDir()
	hooks := filepath.Join(dir, "hooks")
	if _, err := NewGitBackend("git", hooks); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.invalid")
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	bare, work := filepath.Join(dir, "srv.git"), filepath.Join(dir, "w")
	for _, a := range [][]string{{"init", "-q", "--bare", bare}, {"init", "-q", "-b", "main", work},
		{"-C", work, "commit", "-q", "--allow-empty", "-m", "one"}} {
		if out, err := git(a...); err != nil {
			t.Fatalf("git %v: %v\n%s", a, err, out)
		}
	}
	out, err := git("-C", work, "push", "--receive-pack=git -c core.hooksPath="+hooks+" receive-pack", bare, "main")
	if err == nil || !strings.Contains(out, "remote: terok-gate: the gate's push policy is not reachable; push refused") ||
		!strings.Contains(out, "(pre-receive hook declined)") {
		t.Fatalf("push without the gate: %v\n%s", err, out)
	}
	if out, _ := git("--git-dir", bare, "for-each-ref"); out != "" {
		t.Fatalf("refs moved: %s", out)
	}
}

// TestCheckHook refuses to start receive-pack without the policy hook.
func TestCheckHook(t *testing.T) {
	dir := t.TempDir()
	if err := checkHook(dir); err == nil || !strings.Contains(err.Error(), "restart the gate to reinstall it") {
		t.Fatalf("missing hook: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pre-receive"), []byte("#!/bin/sh\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := checkHook(dir); err == nil {
		t.Fatal("a hook that is not executable passed")
	}
	if _, err := NewGitBackend("git", dir); err != nil {
		t.Fatal(err)
	}
	if err := checkHook(dir); err != nil {
		t.Fatalf("installed hook: %v", err)
	}
}
