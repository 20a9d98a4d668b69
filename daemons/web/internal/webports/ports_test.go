package webports

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// TestAllocator allocates over a real range of host ports, one of which
// another program holds: it is skipped; a full range is a clear error;
// release frees; the table rebuilds through Restore.
func TestAllocator(t *testing.T) {
	base := testkit.FreeBlock(t, 3)
	a, err := NewAllocator(base, base+2)
	if err != nil {
		t.Fatal(err)
	}
	// Another program on the middle port, on loopback only: still taken.
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+1))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	p1, err := a.Allocate("t1")
	if err != nil || p1 != base {
		t.Fatalf("t1: %d %v, want the first port", p1, err)
	}
	if again, err := a.Allocate("t1"); err != nil || again != p1 {
		t.Fatalf("t1 again: %d %v, want its own port", again, err)
	}
	p2, err := a.Allocate("t2")
	if err != nil || p2 != base+2 {
		t.Fatalf("t2: %d %v, want the third port (the second is in use)", p2, err)
	}
	_, err = a.Allocate("t3")
	if !errors.Is(err, ErrNoFreePort) || !strings.Contains(err.Error(), "t3") || !strings.Contains(err.Error(), "1 by other programs") {
		t.Fatalf("full range: %v", err)
	}
	if got, ok := a.HostPort("t2"); !ok || got != p2 {
		t.Fatalf("HostPort t2: %d %v", got, ok)
	}
	a.Release("t1")
	if _, ok := a.HostPort("t1"); ok {
		t.Fatal("t1 still has a port after release")
	}
	p3, err := a.Allocate("t3")
	if err != nil || p3 != base {
		t.Fatalf("t3 after release: %d %v, want the released port", p3, err)
	}

	// Rebuild from containers' labels, as after a restart of terok-web.
	cs := []podmanapi.ContainerSummary{
		{Labels: map[string]string{"terok.task": "t2", LabelWebPort: strconv.Itoa(p2)}},
		{Labels: map[string]string{"terok.task": "t3", LabelWebPort: strconv.Itoa(p3)}},
		{Labels: map[string]string{"terok.task": "headless"}},
		{Labels: map[string]string{"terok.task": "garbled", LabelWebPort: "port"}},
		{Labels: map[string]string{LabelWebPort: "7860"}},
	}
	found := PortsFromContainers(cs, "terok.task")
	if len(found) != 2 || found["t2"] != p2 || found["t3"] != p3 {
		t.Fatalf("ports from containers: %v", found)
	}
	b, _ := NewAllocator(base, base+2)
	if err := b.Restore(found); err != nil {
		t.Fatal(err)
	}
	for task, want := range map[string]int{"t2": p2, "t3": p3} {
		if got, ok := b.HostPort(task); !ok || got != want {
			t.Fatalf("restored %s: %d %v, want %d", task, got, ok, want)
		}
	}
	if _, err := b.Allocate("t4"); !errors.Is(err, ErrNoFreePort) {
		t.Fatalf("restored ports were handed out again: %v", err)
	}

	// Bad tables change nothing.
	c, _ := NewAllocator(base, base+2)
	if err := c.Restore(map[string]int{"a": base, "b": base}); !errors.Is(err, ErrBadPort) {
		t.Fatalf("one port for two tasks: %v", err)
	}
	if err := c.Restore(map[string]int{"a": base, "b": base + 3}); !errors.Is(err, ErrBadPort) || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("port outside the range: %v", err)
	}
	for _, task := range []string{"a", "b"} {
		if p, ok := c.HostPort(task); ok {
			t.Fatalf("a refused Restore kept %s on %d", task, p)
		}
	}
	if _, err := NewAllocator(7880, 7860); !errors.Is(err, ErrBadPort) {
		t.Fatalf("reversed range: %v", err)
	}
	if _, err := a.Allocate(""); err == nil {
		t.Fatal("allocated for an empty task id")
	}
}

// TestAllocatorDefaultRange hands out a port of the contract range. A
// machine where other programs hold all of it cannot run the test (it
// skips, and fails under TEROK_TEST_STRICT=1); any other error fails.
func TestAllocatorDefaultRange(t *testing.T) {
	a, err := NewAllocator(FirstPort, LastPort)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Allocate("t")
	if errors.Is(err, ErrNoFreePort) {
		testkit.Require(t, false, fmt.Sprintf("every port of %d-%d is in use on this machine: %v", FirstPort, LastPort, err))
	}
	if err != nil {
		t.Fatal(err)
	}
	if p < FirstPort || p > LastPort {
		t.Fatalf("port %d outside %d-%d", p, FirstPort, LastPort)
	}
}
