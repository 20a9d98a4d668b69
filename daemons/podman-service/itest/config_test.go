package itest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHooksDirMoves runs serve with one hooks directory, stops it, and
// runs it with another (as `make run` with another TEROK_DEV_DIR does):
// the second run starts and containers.conf names the new directory. A
// hooks_dir the user then edits is theirs: a run whose directory it leaves
// out is refused with the fix, and the file is left as the user wrote it.
func TestHooksDirMoves(t *testing.T) {
	e := newEnv(t, tiers[0])
	conf := filepath.Join(e.home, ".config", "containers", "containers.conf")
	hooksA := e.hooks
	e.start().stop(t)
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), fmt.Sprintf("hooks_dir = [%q]", hooksA)) {
		t.Fatalf("first run did not write its hooks_dir:\n%s", b)
	}

	hooksB := filepath.Join(e.base, "hooks-b")
	if err := os.Mkdir(hooksB, 0o755); err != nil {
		t.Fatal(err)
	}
	e.hooks = hooksB
	s := e.start()
	st, err := s.status.Status(ctxT(t, 10*time.Second))
	if err != nil || st.HooksDir != hooksB {
		t.Fatalf("status after the move: %+v %v", st, err)
	}
	if !strings.Contains(s.logs(), "replaces the value podman-service wrote before") {
		t.Errorf("the update is not logged:\n%s", s.logs())
	}
	s.stop(t)
	b, _ := os.ReadFile(conf)
	if !strings.Contains(string(b), fmt.Sprintf("hooks_dir = [%q]", hooksB)) || strings.Contains(string(b), strconv.Quote(hooksA)) {
		t.Fatalf("containers.conf after a run with %s:\n%s", hooksB, b)
	}

	edited := strings.Replace(string(b), fmt.Sprintf("hooks_dir = [%q]", hooksB), `hooks_dir = ["/usr/share/containers/oci/hooks.d"]`, 1)
	if err := os.WriteFile(conf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.runBounded(60*time.Second, "serve", "--hooks-dir", hooksA)
	if err == nil || !strings.Contains(out, "hooks_dir in containers.conf leaves out terok's hooks directory") ||
		!strings.Contains(out, fmt.Sprintf("add %q to that list", hooksA)) {
		t.Fatalf("serve with a user's hooks_dir that leaves ours out: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(conf); string(b) != edited {
		t.Fatalf("the refused run changed containers.conf:\n%s", b)
	}
}

// runBounded runs podman-service as tkpodman and returns its output; a run
// still going after d is stopped and reported as an error.
func (e *env) runBounded(d time.Duration, args ...string) (string, error) {
	cmd := e.serveCommand(args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(d):
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return buf.String(), fmt.Errorf("still running after %s", d)
}
