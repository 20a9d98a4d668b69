package itest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type checkOut struct {
	Preflight struct {
		Checks []struct {
			Name, Status, Detail, Fix string
		} `json:"checks"`
		Decision map[string]string `json:"decision"`
	} `json:"preflight"`
	HooksDir string `json:"hooks_dir"`
	Error    string `json:"error"`
}

func runCheck(t *testing.T, e *env, args ...string) (checkOut, error) {
	t.Helper()
	cmd := e.command(binary(t), append([]string{"check", "--json", "--hooks-dir", e.hooks}, args...)...)
	out, err := cmd.Output()
	var co checkOut
	if jerr := json.Unmarshal(out, &co); jerr != nil {
		t.Fatalf("check --json output: %v\n%s", jerr, out)
	}
	return co, err
}

func status(co checkOut, name string) (string, string, string) {
	for _, c := range co.Preflight.Checks {
		if c.Name == name {
			return c.Status, c.Detail, c.Fix
		}
	}
	return "", "", ""
}

// TestPreflight runs `check` as tkpodman on this machine (all good), then
// with a subuid file lacking the user and a tun device the user cannot
// open, both made in a temp dir: the failures name the fix, and serve
// refuses to start.
func TestPreflight(t *testing.T) {
	e := newEnv(t, tiers[0])
	co, err := runCheck(t, e)
	if err != nil {
		t.Fatalf("check on a good machine failed: %v %+v", err, co)
	}
	if st, _, _ := status(co, "hooks-dir"); st != "ok" || co.HooksDir != e.hooks {
		t.Fatalf("hooks-dir not reported: %+v", co)
	}
	if co.Preflight.Decision["runtime"] == "" || co.Preflight.Decision["storage_driver"] == "" || co.Preflight.Decision["cgroup_manager"] == "" {
		t.Fatalf("no decision: %+v", co.Preflight.Decision)
	}

	subuid := filepath.Join(e.base, "subuid")
	os.WriteFile(subuid, []byte("someoneelse:100000:65536\n"), 0o644)
	tun := filepath.Join(e.base, "tun")
	if err := syscall.Mknod(tun, syscall.S_IFCHR|0o600, 10<<8|200); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	co, err = runCheck(t, e, "--subuid-file", subuid, "--tun-device", tun)
	if err == nil {
		t.Fatal("check passed with no subuid range and an unusable tun device")
	}
	st, detail, fix := status(co, "subuid")
	if st != "fail" || !strings.Contains(detail, "no subuid range for tkpodman") || !strings.Contains(fix, "usermod --add-subuids") {
		t.Fatalf("subuid check: %s %q %q", st, detail, fix)
	}
	st, detail, fix = status(co, "tun")
	if st != "fail" || !strings.Contains(detail, "permission denied") || !strings.Contains(fix, "chmod 0666 "+tun) {
		t.Fatalf("tun check: %s %q %q", st, detail, fix)
	}
	if st, _, _ := status(co, "subgid"); st != "ok" {
		t.Fatalf("subgid should still pass: %+v", co)
	}

	out, err := e.command(binary(t), "serve", "--hooks-dir", e.hooks, "--subuid-file", subuid).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "preflight failed") || !strings.Contains(string(out), "usermod --add-subuids") {
		t.Fatalf("serve with a failing preflight: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(e.home, ".config", "containers", "containers.conf")); err == nil {
		t.Fatal("serve wrote containers.conf although preflight failed")
	}
}

// TestUnwritableSocketDir asks for sockets in a directory tkpodman cannot
// write: a clear error naming the directory and the fix.
func TestUnwritableSocketDir(t *testing.T) {
	e := newEnv(t, tiers[0])
	locked := filepath.Join(e.base, "locked")
	os.Mkdir(locked, 0o755) // owned by root
	out, err := e.command(binary(t), "serve", "--hooks-dir", e.hooks, "--socket", filepath.Join(locked, "podman-service.sock")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot create files in socket directory "+locked) || !strings.Contains(string(out), "TEROK_RUN_DIR") {
		t.Fatalf("unwritable socket dir: %v\n%s", err, out)
	}
}
