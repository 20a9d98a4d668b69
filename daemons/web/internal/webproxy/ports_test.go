package webproxy

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
)

// freeBlock finds n consecutive loopback-and-wildcard-free ports in a
// high range (bounded search), for an allocator that must not meet the
// real 7860-7880 other tests may use.
func freeBlock(t *testing.T, n int) int {
	t.Helper()
	for base := 23100; base < 23900; base += n {
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = !listening(p)
		}
		if ok {
			return base
		}
	}
	t.Fatal("no block of free ports in 23100-23900")
	return 0
}

// TestAllocator allocates over a real range of host ports, one of which
// another program holds: it is skipped; a full range is a clear error;
// release frees; the table rebuilds through Restore.
func TestAllocator(t *testing.T) {
	base := freeBlock(t, 3)
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
	if got := b.Assigned(); len(got) != 2 || got["t2"] != p2 || got["t3"] != p3 {
		t.Fatalf("restored table: %v", got)
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
	if got := c.Assigned(); len(got) != 0 {
		t.Fatalf("a refused Restore kept %v", got)
	}
	if _, err := NewAllocator(7880, 7860); !errors.Is(err, ErrBadPort) {
		t.Fatalf("reversed range: %v", err)
	}
	if _, err := a.Allocate(""); err == nil {
		t.Fatal("allocated for an empty task id")
	}
}

// TestAllocatorDefaultRange hands out a port of the contract range.
func TestAllocatorDefaultRange(t *testing.T) {
	a, err := NewAllocator(FirstPort, LastPort)
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Allocate("t")
	if err != nil {
		t.Skipf("every port of %d-%d is in use on this machine: %v", FirstPort, LastPort, err)
	}
	if p < FirstPort || p > LastPort {
		t.Fatalf("port %d outside %d-%d", p, FirstPort, LastPort)
	}
}
