package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// gitIn runs git in dir with an isolated configuration.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func isolate(t *testing.T) string {
	t.Helper()
	testkit.RequireCommand(t, "git")
	home := t.TempDir()
	for k, v := range map[string]string{"HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.invalid",
		"GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.invalid", "TEROK_TASK_ID": "k7qz3m"} {
		t.Setenv(k, v)
	}
	return home
}

// TestTaskBranch: the first run checks out agent/<id> from the default
// branch and a plain `git push` lands there, not on main; a follow-up in
// the same workspace stays on it; a fresh workspace of the same task
// takes the branch from the gate; an empty repository starts the branch
// with its first commit.
func TestTaskBranch(t *testing.T) {
	home := isolate(t)
	bare := filepath.Join(home, "gate.git")
	seed := filepath.Join(home, "seed")
	gitIn(t, home, "init", "-q", "--bare", "-b", "main", bare)
	gitIn(t, home, "init", "-q", "-b", "main", seed)
	gitIn(t, seed, "commit", "-q", "--allow-empty", "-m", "user's first")
	gitIn(t, seed, "push", "-q", bare, "main")
	main := gitIn(t, bare, "rev-parse", "main")

	workspace = filepath.Join(home, "ws")
	os.MkdirAll(workspace, 0o755)
	if err := prepare(bare); err != nil {
		t.Fatal(err)
	}
	if b := gitIn(t, workspace, "symbolic-ref", "--short", "HEAD"); b != "agent/k7qz3m" {
		t.Fatalf("first run is on %s", b)
	}
	gitIn(t, workspace, "commit", "-q", "--allow-empty", "-m", "agent work")
	gitIn(t, workspace, "push", "-q")
	work := gitIn(t, workspace, "rev-parse", "HEAD")
	if got := gitIn(t, bare, "rev-parse", "agent/k7qz3m"); got != work {
		t.Fatalf("plain git push: agent/k7qz3m is %s, want %s", got, work)
	}
	if got := gitIn(t, bare, "rev-parse", "main"); got != main {
		t.Fatalf("plain git push moved main: %s", got)
	}

	// Follow-up in the same workspace: still the task's branch.
	if err := prepare(bare); err != nil {
		t.Fatal(err)
	}
	if b := gitIn(t, workspace, "symbolic-ref", "--short", "HEAD"); b != "agent/k7qz3m" {
		t.Fatalf("follow-up is on %s", b)
	}
	gitIn(t, workspace, "commit", "-q", "--allow-empty", "-m", "more work")
	gitIn(t, workspace, "push", "-q", "origin", "HEAD")
	if got, want := gitIn(t, bare, "rev-parse", "agent/k7qz3m"), gitIn(t, workspace, "rev-parse", "HEAD"); got != want {
		t.Fatalf("git push origin HEAD: %s, want %s", got, want)
	}

	// A fresh workspace of the same task: the branch comes from the gate.
	workspace = filepath.Join(home, "ws2")
	os.MkdirAll(workspace, 0o755)
	if err := prepare(bare); err != nil {
		t.Fatal(err)
	}
	if got, want := gitIn(t, workspace, "rev-parse", "HEAD"), gitIn(t, bare, "rev-parse", "agent/k7qz3m"); got != want {
		t.Fatalf("fresh workspace starts at %s, want the task's branch %s", got, want)
	}
	gitIn(t, workspace, "pull", "-q")

	// An empty repository.
	empty := filepath.Join(home, "empty.git")
	gitIn(t, home, "init", "-q", "--bare", "-b", "main", empty)
	workspace = filepath.Join(home, "ws3")
	os.MkdirAll(workspace, 0o755)
	if err := prepare(empty); err != nil {
		t.Fatal(err)
	}
	gitIn(t, workspace, "commit", "-q", "--allow-empty", "-m", "first ever")
	gitIn(t, workspace, "push", "-q")
	if out := gitIn(t, empty, "for-each-ref", "--format=%(refname)"); out != "refs/heads/agent/k7qz3m" {
		t.Fatalf("empty repository after the first push: %q", out)
	}
}

// stderrOf runs f with os.Stderr captured and returns what it wrote.
func stderrOf(t *testing.T, f func()) string {
	t.Helper()
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = wr
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(rd)
		done <- string(b)
	}()
	defer func() { os.Stderr = old }()
	f()
	wr.Close()
	return <-done
}

// TestAgentSettings: the settings in $TEROK_AGENT_SETTINGS are in the
// agent's config file when its command runs (the command copies what it
// finds), and stderr names the file and key, never the value; a setting
// that cannot be written ends the task (125) before the command runs, in
// headless and interactive mode alike.
func TestAgentSettings(t *testing.T) {
	const url = "http://10.0.2.2:9419/openai/v1"
	const settings = `[{"file":"~/.codex/config.toml","key":"openai_base_url","value":"` + url + `"}]`
	for _, tc := range []struct {
		name, mode string
		blocked    bool // ~/.codex is a file: the setting cannot be written
	}{
		{"applied", "", false},
		{"headless, cannot write", "", true},
		{"interactive, cannot write", "interactive", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.RequireCommand(t, "sh")
			home := t.TempDir()
			workspace = filepath.Join(home, "ws")
			if err := os.WriteFile(filepath.Join(home, ".codex-before"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.blocked {
				if err := os.WriteFile(filepath.Join(home, ".codex"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for k, v := range map[string]string{"HOME": home, "TEROK_GATE_URL": "", "TEROK_MODE": tc.mode, "TEROK_AGENT_SETTINGS": settings,
				"TEROK_AGENT_COMMAND": `cp "$HOME/.codex/config.toml" seen.toml; touch ran`} {
				t.Setenv(k, v)
			}
			var code int
			out := stderrOf(t, func() { code = run() })
			_, ranErr := os.Stat(filepath.Join(workspace, "ran"))
			if strings.Contains(out, url) {
				t.Errorf("stderr shows the value:\n%s", out)
			}
			if tc.blocked {
				if code != 125 || ranErr == nil {
					t.Fatalf("exit %d, command ran: %v; want 125 before the command\n%s", code, ranErr == nil, out)
				}
				if !strings.Contains(out, "terok-entry: ") || !strings.Contains(out, "openai_base_url") || !strings.Contains(out, "~/.codex/config.toml") {
					t.Fatalf("stderr does not name the file and key:\n%s", out)
				}
				return
			}
			if code != 0 || ranErr != nil {
				t.Fatalf("exit %d, ran: %v\n%s", code, ranErr, out)
			}
			seen, err := os.ReadFile(filepath.Join(workspace, "seen.toml"))
			if err != nil {
				t.Fatal(err)
			}
			if string(seen) != "openai_base_url = \""+url+"\"\n" {
				t.Fatalf("the command saw %q", seen)
			}
			if !strings.Contains(out, "terok-entry: set openai_base_url in ~/.codex/config.toml") {
				t.Fatalf("stderr lacks the setting:\n%s", out)
			}
		})
	}
}
