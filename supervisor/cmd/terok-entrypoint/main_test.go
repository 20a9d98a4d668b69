package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsernsWarning: the entrypoint prints podman-service's userns
// failure (detail and fix) as a warning, and nothing when the check
// passes or podman-service is not there.
func TestUsernsWarning(t *testing.T) {
	dir := t.TempDir()
	fake := func(name, script string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	refused := fake("refused", `[ "$*" = "check --only userns --json" ] || exit 2
echo '{"name":"userns","status":"fail","detail":"user namespaces cannot be created in this container (clone: operation not permitted)","fix":"start the container again with docker run --privileged"}'
exit 1`)
	allowed := fake("allowed", `echo '{"name":"userns","status":"ok","detail":"user namespaces can be created"}'`)
	uid, gid := os.Getuid(), os.Getgid()
	w := usernsWarning(refused, uid, gid)
	if !strings.Contains(w, "terok-entrypoint: WARNING: user namespaces cannot be created in this container") ||
		!strings.Contains(w, "fix: start the container again with docker run --privileged") {
		t.Fatalf("warning %q", w)
	}
	if w := usernsWarning(allowed, uid, gid); w != "" {
		t.Fatalf("a passing check warned: %q", w)
	}
	if w := usernsWarning(filepath.Join(dir, "missing"), uid, gid); w != "" {
		t.Fatalf("no podman-service warned: %q", w)
	}
}
