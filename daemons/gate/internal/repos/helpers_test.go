package repos

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// newManager returns a manager over a fresh root.
func newManager(t *testing.T) *Manager {
	t.Helper()
	testkit.RequireCommand(t, "git")
	root := t.TempDir()
	m, err := New(root, filepath.Join(root, "ssh"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// run runs the git CLI in dir, isolated from the user's configuration,
// and returns its trimmed output; a failure ends the test.
func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.invalid",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.invalid")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes file=content in work tree dir and commits it.
func commit(t *testing.T, dir, file, content, msg string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "add", file)
	run(t, dir, "commit", "-q", "-m", msg)
	return run(t, dir, "rev-parse", "HEAD")
}

// workTree clones repository dir into a new work tree.
func workTree(t *testing.T, dir string) string {
	t.Helper()
	w := filepath.Join(t.TempDir(), "w")
	run(t, "", "clone", "-q", dir, w)
	return w
}

// wantErr checks the sentinel and the message of err.
func wantErr(t *testing.T, what string, err, is error, msg string) {
	t.Helper()
	if !errors.Is(err, is) || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: got %v, want %v saying %q", what, err, is, msg)
	}
}
