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

func TestMain(m *testing.M) { testkit.Main(m) }

// gateBin builds terok-gate once for this test binary.
func gateBin(t *testing.T) string {
	t.Helper()
	testkit.RequireCommand(t, "go")
	return testkit.BuildDaemon(t, ".")
}

// TestBinaryServeAndCLI builds terok-gate, runs `serve` as a process and
// drives it through the CLI forms scripts rely on, then clones with the
// URL the banner prints.
func TestBinaryServeAndCLI(t *testing.T) {
	testkit.RequireCommand(t, "git")
	bin := gateBin(t)
	dir, err := os.MkdirTemp("", "tkgate-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
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
	m := regexp.MustCompile(`git clone http://<admin-token>@localhost:(\d+)/<project>\.git`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("banner lacks the clone example:\n%s", text)
	}
	tokenFile := filepath.Join(dir, "state", "gate", "admin-token")
	if !strings.Contains(text, "terok-gate: admin token generated now, kept in "+tokenFile+"\n") {
		t.Fatalf("banner does not say where the admin token is kept:\n%s", text)
	}
	b, _ := os.ReadFile(tokenFile)
	admin := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^terok-admin-[0-9a-f]{32}$`).MatchString(admin) {
		t.Fatalf("admin token file holds %q", admin)
	}
	// m[1] is the clone URL's base with the admin token filled in.
	m[1] = "http://" + admin + "@localhost:" + m[1] + "/"

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
	// Promote pushes the commit the reviewer saw: a branch that moved
	// since is refused (exit 1) with its new head named.
	git(work, "push", "-q", strings.Replace(m[1], "demo.git", "", 1)+"mirrored.git", "main:feature")
	reviewed := git(work, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(work, "f"), []byte("x\nmoved\n"), 0o644)
	git(work, "commit", "-q", "-am", "moved after review")
	git(work, "push", "-q", m[1]+"mirrored.git", "main:feature")
	moved := git(work, "rev-parse", "HEAD")
	cmd := exec.CommandContext(ctx, bin, "repo", "promote", "mirrored", "feature", "--expect", reviewed[:12])
	cmd.Env = env
	if stdout, stderr, code := testkit.Run(cmd); code != 1 || stdout != "" || stderr != "terok-gate: branch moved since it was reviewed: feature is now at "+
		moved+", not at "+reviewed[:12]+" as reviewed; review the new head and promote it (terok-gate repo diff mirrored feature) (HTTP 409)\n" {
		t.Fatalf("promote --expect stale: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if out, _ := exec.Command("git", "--git-dir", upstream, "rev-parse", "-q", "--verify", "refs/heads/feature").Output(); len(out) != 0 {
		t.Fatalf("a refused promote reached the upstream: %s", out)
	}
	if out := cli("repo", "promote", "mirrored", "feature", "--expect", moved); out != "promoted feature to upstream feature at "+moved[:12]+"\n" {
		t.Fatalf("promote --expect current: %q", out)
	}
	if out := cli("repo", "rm", "mirrored"); !strings.Contains(out, "deleted mirrored") {
		t.Fatalf("repo rm: %s", out)
	}
	// Flags after the positional name work (house rule).
	if out := cli("repo", "create", "dev-first", "--default-branch", "dev"); out != "created dev-first (default branch dev, policy gatekeeping)\n" {
		t.Fatalf("repo create NAME --default-branch: %q", out)
	}
	// A task branch, its diff and its push in the feed.
	tok2 := strings.TrimSpace(cli("token", "mint", "--project", "demo", "--task", "t2"))
	clone := filepath.Join(dir, "clone2")
	git(dir, "clone", "-q", strings.Replace(m[1], admin, tok2, 1)+"demo.git", clone)
	git(clone, "checkout", "-q", "-b", "task/t2")
	os.WriteFile(filepath.Join(clone, "f"), []byte("x\ny\n"), 0o644)
	git(clone, "commit", "-q", "-am", "add y")
	git(clone, "push", "-q", "origin", "task/t2")
	if out := cli("repo", "diff", "demo", "task/t2", "--stat"); !regexp.MustCompile(
		`^main\.\.\.task/t2  \([0-9a-f]{12}\.\.\.[0-9a-f]{12}\)  1 commit\(s\), 1 file\(s\), \+1 -0\n  [0-9a-f]{12} add y\n  modified  \+1 -0        f\n$`).MatchString(out) {
		t.Fatalf("repo diff --stat:\n%s", out)
	}
	if out := cli("repo", "diff", "demo", "task/t2"); !strings.Contains(out, "diff --git a/f b/f\n") || !strings.Contains(out, "\n+y\n") {
		t.Fatalf("repo diff:\n%s", out)
	}
	var evs []gateapi.Event
	for _, l := range strings.Split(strings.TrimSpace(cli("events", "--since", "3")), "\n") {
		var e gateapi.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("events line %q: %v", l, err)
		}
		evs = append(evs, e)
	}
	if len(evs) != 1 || evs[0].Seq != 4 || evs[0].Task != "t2" || evs[0].Ref != "refs/heads/task/t2" || evs[0].Commits != 1 {
		t.Fatalf("events --since 3: %+v", evs)
	}

	// Errors a user makes: the message, and the documented exit code.
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"repo", "create", "../x"}, 1, `terok-gate: bad name: project "../x" may only hold letters, digits, '.', '_' and '-' (HTTP 400)` + "\n"},
		{[]string{"repo", "create", "foo.git"}, 1, `terok-gate: bad name: project "foo.git" must not end in ".git": the gate adds it in clone URLs (…/foo.git); name the project "foo" (HTTP 400)` + "\n"},
		{[]string{"token", "mint", "--project", "nope", "--task", "t"}, 4,
			"terok-gate: no such repository: nope: create it first: terok-gate repo create nope (or terok-gate repo mirror --upstream URL nope) (HTTP 404)\n"},
		{[]string{"repo", "show", "nope"}, 4, "terok-gate: no such repository: nope (HTTP 404)\n"},
		{[]string{"repo", "diff", "demo", "nope"}, 4, "terok-gate: no such branch: nope in demo (HTTP 404)\n"},
		{[]string{"token", "revoke", "--project", ""}, 1,
			"terok-gate: bad name: project is empty; use letters, digits, '.', '_' or '-': name them with --project P and optionally --task T (HTTP 400)\n"},
		{[]string{"token", "mint", "--project", "demo"}, 2, "terok-gate: missing --task; see 'terok-gate token mint --help'\n"},
	} {
		cmd := exec.CommandContext(ctx, bin, c.args...)
		cmd.Env = env
		stdout, stderr, code := testkit.Run(cmd)
		if code != c.code || stderr != c.msg || stdout != "" {
			t.Errorf("terok-gate %s: exit %d, stderr %q, stdout %q; want exit %d, stderr %q", strings.Join(c.args, " "), code, stderr, stdout, c.code, c.msg)
		}
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

// TestCLIConventions runs the binary the way a user gets it wrong, without
// a gate: the one-line message and the exit code every terok CLI gives.
func TestCLIConventions(t *testing.T) {
	bin := gateBin(t)
	run := t.TempDir()
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"bogus"}, 2, `terok-gate: unknown command "bogus" (commands: events, repo, serve, token); see 'terok-gate --help'` + "\n"},
		{[]string{"repo", "bogus"}, 2, `terok-gate: unknown command "bogus" (commands: create, diff, list, log, mirror, promote, rm, show, sync); see 'terok-gate repo --help'` + "\n"},
		{[]string{"repo", "list", "extra"}, 2, `terok-gate: unexpected argument "extra" (this command takes none); see 'terok-gate repo list --help'` + "\n"},
		{[]string{"serve", "extra"}, 2, `terok-gate: unexpected argument "extra" (this command takes none); see 'terok-gate serve --help'` + "\n"},
		{[]string{"repo", "create"}, 2, "terok-gate: missing argument: needs NAME; see 'terok-gate repo create --help'\n"},
		{[]string{"repo", "promote", "demo"}, 2, "terok-gate: missing argument: needs NAME BRANCH; see 'terok-gate repo promote --help'\n"},
		{[]string{"repo", "log", "a", "b", "c"}, 2, `terok-gate: unexpected argument "c" (takes NAME [BRANCH]); see 'terok-gate repo log --help'` + "\n"},
		{[]string{"repo", "mirror", "demo"}, 2, "terok-gate: missing --upstream; see 'terok-gate repo mirror --help'\n"},
		{[]string{"token", "mint"}, 2, "terok-gate: missing --project and --task; see 'terok-gate token mint --help'\n"},
		{[]string{"serve", "--nope"}, 2, "terok-gate: flag provided but not defined: -nope; see 'terok-gate serve --help'\n"},
		// The gate is not running: exit 3 naming the socket, whether the
		// flag comes before or after the name.
		{[]string{"repo", "show", "demo", "--socket", run + "/gate.sock"}, 3,
			"terok-gate: cannot reach " + run + "/gate.sock (is the daemon running?): dial unix " + run + "/gate.sock: connect: no such file or directory\n"},
		{[]string{"repo", "list"}, 3,
			"terok-gate: cannot reach " + run + "/gate.sock (is the daemon running?): dial unix " + run + "/gate.sock: connect: no such file or directory\n"},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Env = append(os.Environ(), "TEROK_RUN_DIR="+run)
		stdout, stderr, code := testkit.Run(cmd)
		if code != c.code || stderr != c.stderr {
			t.Errorf("terok-gate %s: exit %d, stderr %q; want exit %d, stderr %q", strings.Join(c.args, " "), code, stderr, c.code, c.stderr)
		}
		if strings.Contains(stdout+stderr, "USAGE:") {
			t.Errorf("terok-gate %s: a usage error is one line, not the help:\n%s%s", strings.Join(c.args, " "), stdout, stderr)
		}
	}
	// Help exits 0 and shows the positional arguments.
	stdout, _, code := testkit.Run(exec.Command(bin, "repo", "promote", "--help"))
	if code != 0 || !strings.Contains(stdout, "terok-gate repo promote [command options] NAME BRANCH") {
		t.Errorf("help: exit %d\n%s", code, stdout)
	}
}
