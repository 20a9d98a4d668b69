package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestBinaryServeAndCLI builds terok-gate, runs `serve` as a process and
// drives it through the CLI forms scripts rely on, then clones with the
// URL the banner prints.
func TestBinaryServeAndCLI(t *testing.T) {
	testkit.RequireCommand(t, "git")
	testkit.RequireCommand(t, "go")
	dir, err := os.MkdirTemp("", "tkgate-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "terok-gate")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"TEROK_RUN_DIR=" + filepath.Join(dir, "run"), "TEROK_STATE_DIR=" + filepath.Join(dir, "state"),
		"TEROK_GATE_BIND=127.0.0.1:0", "GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.invalid",
		"GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.invalid"}
	srv := exec.CommandContext(ctx, bin, "serve")
	srv.Env = env
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var banner []string
	for len(banner) < 3 && sc.Scan() {
		banner = append(banner, sc.Text())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	text := strings.Join(banner, "\n")
	m := regexp.MustCompile(`git clone (http://(terok-admin-[0-9a-f]{32})@localhost:(\d+)/)<project>\.git`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("banner lacks the clone example:\n%s", text)
	}
	admin := m[2]
	if b, _ := os.ReadFile(filepath.Join(dir, "state", "gate", "admin-token")); strings.TrimSpace(string(b)) != admin {
		t.Fatal("banner token differs from the stored admin token")
	}

	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("terok-gate %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}
	git := func(wd string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Env, cmd.Dir = env, wd
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}

	cli("repo", "create", "demo")
	tok := cli("token", "mint", "--project", "demo", "--task", "t1")
	if !regexp.MustCompile(`^terok-g-[0-9a-f]{32}\n$`).MatchString(tok) {
		t.Fatalf("token mint must print only the token: %q", tok)
	}
	tok = strings.TrimSpace(tok)

	// Seed with the admin URL exactly as the banner prints it.
	work := filepath.Join(dir, "w")
	git(dir, "init", "-q", "-b", "main", work)
	os.WriteFile(filepath.Join(work, "f"), []byte("x\n"), 0o644)
	git(work, "add", "f")
	git(work, "commit", "-q", "-m", "one")
	git(work, "push", "-q", m[1]+"demo.git", "main")
	git(dir, "clone", "-q", strings.Replace(m[1], admin, tok, 1)+"demo.git", filepath.Join(dir, "clone"))

	upstream := filepath.Join(dir, "up.git")
	git(dir, "clone", "-q", "--bare", work, upstream)
	cli("repo", "mirror", "--upstream", upstream, "mirrored")
	var repos []gateapi.Repo
	if err := json.Unmarshal([]byte(cli("repo", "list", "--json")), &repos); err != nil || len(repos) != 2 || repos[1].Upstream != upstream {
		t.Fatalf("repo list: %+v %v", repos, err)
	}
	if out := cli("repo", "show", "mirrored"); !strings.Contains(out, "main") {
		t.Fatalf("repo show: %s", out)
	}
	if out := cli("repo", "log", "demo"); !strings.Contains(out, " one") {
		t.Fatalf("repo log: %s", out)
	}
	if out := cli("repo", "sync", "mirrored"); !strings.Contains(out, "up to date") {
		t.Fatalf("repo sync: %s", out)
	}
	if out := cli("token", "list"); !strings.Contains(out, "t1") || strings.Contains(out, tok) {
		t.Fatalf("token list: %s", out)
	}
	if out := cli("token", "revoke", "--project", "demo", "--task", "t1"); !strings.Contains(out, "revoked 1") {
		t.Fatalf("token revoke: %s", out)
	}
	if out := cli("repo", "rm", "mirrored"); !strings.Contains(out, "deleted mirrored") {
		t.Fatalf("repo rm: %s", out)
	}
	// A bad name is a clear error and a non-zero exit.
	bad := exec.CommandContext(ctx, bin, "repo", "create", "../x")
	bad.Env = env
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "must not contain") && !strings.Contains(string(out), "may only hold") {
		t.Fatalf("bad name: %v %s", err, out)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve exited with %v after SIGTERM", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "gate.sock")); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}
