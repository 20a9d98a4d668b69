package preflight

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// TestUsernsRefused: Docker's seccomp refuses clone(CLONE_NEWUSER) in a
// container without --privileged; the check fails naming the cause and,
// in a container, the docker run options; natively the sysctls.
func TestUsernsRefused(t *testing.T) {
	refused := func() error { return fmt.Errorf("clone: %w", syscall.EPERM) }
	c := CheckUserns(Env{ProbeUserns: refused, InContainer: true})
	if c.Status != Fail || !strings.Contains(c.Detail, "user namespaces cannot be created in this container (clone: operation not permitted)") ||
		!strings.Contains(c.Fix, "docker run --privileged") || !strings.Contains(c.Fix, "--security-opt seccomp=unconfined") {
		t.Fatalf("in a container: %+v", c)
	}
	c = CheckUserns(Env{ProbeUserns: refused})
	if c.Status != Fail || strings.Contains(c.Fix, "docker") || !strings.Contains(c.Fix, "user.max_user_namespaces") {
		t.Fatalf("natively: %+v", c)
	}
	if c := CheckUserns(Env{ProbeUserns: func() error { return nil }}); c.Status != OK {
		t.Fatalf("allowed: %+v", c)
	}
}

// TestBlockedOnlyByUserns: the refused user namespace alone makes the
// report Blocked (podman-service stays up to say so); with another
// failure it is an ordinary failed preflight.
func TestBlockedOnlyByUserns(t *testing.T) {
	userns := Check{Name: "userns", Status: Fail, Detail: "no"}
	r := Report{Checks: []Check{{Name: "user", Status: OK}, userns, {Name: "fuse", Status: Warn}}}
	if c, ok := r.Blocked(); !ok || c.Name != "userns" {
		t.Fatalf("Blocked() = %+v %v", c, ok)
	}
	r.Checks = append(r.Checks, Check{Name: "subuid", Status: Fail})
	if _, ok := r.Blocked(); ok {
		t.Fatal("Blocked with another failure too")
	}
	if _, ok := (Report{Checks: []Check{{Name: "user", Status: OK}}}).Blocked(); ok {
		t.Fatal("Blocked without a failure")
	}
}

// TestProbeUsernsHere runs the real probe: on the machines of this
// project (Debian, unprivileged user namespaces allowed) it works.
// TestMain stands in for podman-service's main when ProbeUserns runs this
// binary as its child: without it the child would run every test again,
// probing in a namespace nested one deeper each time until the kernel's
// limit.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == UsernsArg {
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestProbeUsernsHere(t *testing.T) {
	err := ProbeUserns()
	testkit.Require(t, err == nil, fmt.Sprintf("user namespaces are not allowed here: %v", err))
}
