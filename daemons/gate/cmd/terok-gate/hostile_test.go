package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestHostileGateOutputHoldsNoToken runs the gate as the supervisor does
// (stdout and stderr captured as its program log) with a generated and
// with a configured admin token, pushes and clones with the admin token
// and a task token, and checks that neither token appears anywhere in
// what the gate printed: whoever reads the program log (terok-web's
// daemon log view, a task page that reached it) must not get the admin
// token from it. The banner says where the token is kept instead.
func TestHostileGateOutputHoldsNoToken(t *testing.T) {
	testkit.RequireCommand(t, "git")
	bin := gateBin(t)
	for _, fixed := range []string{"", "terok-fixed-admin-0123456789"} {
		t.Run(fmt.Sprintf("fixed=%v", fixed != ""), func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
				"TEROK_RUN_DIR=" + filepath.Join(dir, "run"), "TEROK_STATE_DIR=" + filepath.Join(dir, "state"),
				"TEROK_GATE_BIND=127.0.0.1:0", "GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.invalid",
				"GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.invalid"}
			if fixed != "" {
				env = append(env, "TEROK_GATE_ADMIN_TOKEN="+fixed)
			}
			out := &testkit.SyncBuffer{}
			srv := exec.CommandContext(ctx, bin, "serve")
			srv.Env, srv.Stdout, srv.Stderr = env, out, out
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer srv.Process.Kill()
			var port string
			for i := 0; i < 200 && port == ""; i++ { // bounded: 20 s
				if m := regexp.MustCompile(`git smart HTTP on 127\.0\.0\.1:(\d+)`).FindStringSubmatch(out.String()); m != nil &&
					strings.Contains(out.String(), "clone with:") {
					port = m[1]
				}
				time.Sleep(100 * time.Millisecond)
			}
			if port == "" {
				t.Fatalf("no banner:\n%s", out.String())
			}
			tokenFile := filepath.Join(dir, "state", "gate", "admin-token")
			admin := fixed
			if fixed == "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					t.Fatal(err)
				}
				admin = strings.TrimSpace(string(b))
				if !strings.Contains(out.String(), "admin token generated now, kept in "+tokenFile) {
					t.Errorf("banner does not say where the admin token is kept:\n%s", out.String())
				}
			} else if !strings.Contains(out.String(), "admin token set by TEROK_GATE_ADMIN_TOKEN") {
				t.Errorf("banner does not say where the admin token comes from:\n%s", out.String())
			}
			run := func(wd string, name string, args ...string) string {
				t.Helper()
				cmd := exec.CommandContext(ctx, name, args...)
				cmd.Env, cmd.Dir = env, wd
				b, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
				}
				return strings.TrimSpace(string(b))
			}
			url := func(tok string) string { return "http://" + tok + "@localhost:" + port + "/demo.git" }
			run(dir, bin, "repo", "create", "demo")
			task := run(dir, bin, "token", "mint", "--project", "demo", "--task", "t1")
			w := filepath.Join(dir, "w")
			run(dir, "git", "init", "-q", "-b", "main", w)
			run(w, "git", "commit", "-q", "--allow-empty", "-m", "one")
			run(w, "git", "push", "-q", url(admin), "main")
			run(dir, "git", "clone", "-q", url(task), filepath.Join(dir, "c"))
			run(w, "git", "push", "-q", url(task), "main:agent/t1")
			// A refused push and a bad token are logged too.
			exec.Command("git", "-C", w, "push", "-q", url(task), "main:main").Run()
			exec.Command("git", "-C", w, "push", "-q", url(task+"x"), "main:other").Run()
			if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			_ = srv.Wait()
			for what, secret := range map[string]string{"admin token": admin, "task token": task} {
				if strings.Contains(out.String(), secret) {
					t.Errorf("the gate's output holds the %s:\n%s", what, out.String())
				}
			}
			if !strings.Contains(out.String(), `"task":"t1"`) {
				t.Errorf("the log does not name the task that pushed:\n%s", out.String())
			}
		})
	}
}
