// Package testkit decides what a test does when the real component it needs
// (root, Podman, nft, a Python supervisord) is missing on this machine.
//
// Locally such a test skips with the reason. In CI (TEROK_TEST_STRICT=1, set
// by .ci/run through `make test`) it fails instead, so a missing install step
// can never turn the privileged tiers into silent skips.
package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// EnvStrict makes missing prerequisites fail tests instead of skipping them.
const EnvStrict = "TEROK_TEST_STRICT"

// Strict reports whether missing prerequisites are failures.
func Strict() bool { return os.Getenv(EnvStrict) == "1" }

// Require skips (or, in strict mode, fails) t unless ok; why names what is
// missing and how to get it.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if Strict() {
		t.Fatalf("prerequisite missing (%s=1): %s", EnvStrict, why)
	}
	t.Skipf("prerequisite missing: %s", why)
}

// RequireRoot needs euid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "this test must run as root (CI runs it as root)")
}

// RequireCommand needs an executable on PATH and returns its path.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, err == nil, name+" is not installed; run `make deps` as root")
	return p
}
