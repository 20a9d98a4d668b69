package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// asUser runs a shell command as the e2e user (the daemons' user) and
// returns its output and exit code.
func asUser(t *testing.T, env []string, sh string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", "-u", e2eUser, "--", "sh", "-c", sh)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("runuser %q: %v", sh, err)
	}
	return string(out), 0
}

// TestHostileNativeTreeUser: make run-native as root lays its tree out as
// the image does, so the user the daemons run as (what an escaped agent
// would control) cannot change what root reads, nor have the supervisor
// run a program as root; it can still look and restart.
func TestHostileNativeTreeUser(t *testing.T) {
	tr := startTree(t)
	tr.waitRunning(t)
	state, cfg := filepath.Join(tr.dev, "state"), filepath.Join(tr.dev, "config")
	t.Run("layout", func(t *testing.T) {
		want := map[string]string{
			tr.dev:                                   "root:root 755",
			tr.run:                                   "root:" + e2eUser + " 1775",
			filepath.Join(tr.dev, "log"):             "root:root 700",
			filepath.Join(tr.dev, "supervisor.d"):    "root:root 755",
			filepath.Join(tr.dev, "hooks.d"):         "root:root 755",
			state:                                    e2eUser + ":" + e2eUser + " 755",
			filepath.Join(state, "system"):           "root:root 755",
			filepath.Join(state, "system", "shield"): "root:root 700",
			filepath.Join(cfg, "system", "shield"):   "root:root 700",
		}
		for p, w := range want {
			out, err := exec.Command("stat", "-c", "%U:%G %a", p).CombinedOutput()
			if got := strings.TrimSpace(string(out)); err != nil || got != w {
				t.Errorf("%s: %q (%v), want %q", p, got, err, w)
			}
		}
		// the shield keeps its state in root's part
		if _, err := os.Stat(filepath.Join(state, "system", "shield", "containers")); err != nil {
			t.Errorf("the shield's state is not in system/shield: %v", err)
		}
	})
	env := append(os.Environ(), "TEROK_RUN_DIR="+tr.run, "HOME=/tmp")
	ctl := filepath.Join(tr.root, "bin", "supervisorctl")
	t.Run("plant or replace what root reads", func(t *testing.T) {
		// (double quotes inside: the shell commands below single-quote it)
		planted := `[program:evil]\ncommand = /bin/sh -c "id -u > /tmp/tke2e-evil-ran; exec sleep 1000"\n`
		for _, sh := range []string{
			fmt.Sprintf("printf '%s' > %s/supervisor.d/99-evil.conf", planted, tr.dev),
			fmt.Sprintf("mv %s/supervisor.d %s/supervisor.d.x", tr.dev, tr.dev),
			fmt.Sprintf("rm -f %s/supervisor.sock", tr.run),
			fmt.Sprintf("touch %s/system/shield/config.json", cfg),
			fmt.Sprintf("ln -s /etc/shadow %s/log/evil.log", tr.dev),
		} {
			if out, code := asUser(t, env, sh); code == 0 {
				t.Errorf("as %s, %q succeeded:\n%s", e2eUser, sh, out)
			}
		}
		for _, args := range []string{"update", "reread", "add evil", "shutdown"} {
			out, code := asUser(t, env, ctl+" "+args)
			if code == 0 || !strings.Contains(out, "needs root") {
				t.Errorf("as %s, supervisorctl %s: exit %d\n%s", e2eUser, args, code, out)
			}
		}
		if _, err := os.Stat("/tmp/tke2e-evil-ran"); err == nil {
			os.Remove("/tmp/tke2e-evil-ran")
			t.Fatal("the planted program ran")
		}
	})
	t.Run("what the user may do", func(t *testing.T) {
		if out, code := asUser(t, env, ctl+" restart terok-gate"); code != 0 || !strings.Contains(out, "terok-gate: started") {
			t.Errorf("restart as %s: exit %d\n%s", e2eUser, code, out)
		}
		tr.waitRunning(t)
		if out, code := asUser(t, env, ctl+" tail terok-gate"); code != 0 || out == "" {
			t.Errorf("tail as %s: exit %d\n%s", e2eUser, code, out)
		}
	})
}
