package auth

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestLimiter: per-address and overall limits, tries coming back with
// time, and memory bounded whatever the number of addresses.
func TestLimiter(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(LimitOptions{PerAddrBurst: 2, PerAddrEvery: 10 * time.Second, GlobalBurst: 5, GlobalEvery: time.Second, MaxAddrs: 8, Now: clk.Now})
	if err := l.Check("a"); err != nil {
		t.Fatalf("fresh: %v", err)
	}
	l.Fail("a")
	if err := l.Check("a"); err != nil {
		t.Fatalf("one failure of two: %v", err)
	}
	l.Fail("a")
	var le *LimitedError
	if err := l.Check("a"); !errors.As(err, &le) || le.Global || le.Retry <= 0 || le.Retry > 10*time.Second {
		t.Fatalf("two failures: %v", err)
	}
	clk.Add(10 * time.Second)
	if err := l.Check("a"); err != nil {
		t.Fatalf("a try came back: %v", err)
	}
	// Overall: 5 failures from 5 addresses lock everyone out.
	clk.Add(time.Minute)
	for i := range 5 {
		l.Fail(fmt.Sprint("g", i))
	}
	if err := l.Check("fresh"); !errors.As(err, &le) || !le.Global {
		t.Fatalf("overall limit: %v", err)
	}
	clk.Add(2 * time.Second)
	if err := l.Check("fresh"); err != nil {
		t.Fatalf("overall tries came back: %v", err)
	}
	// Bounded: a thousand addresses, at most 8 remembered.
	for i := range 1000 {
		l.Fail(fmt.Sprint("spray", i))
	}
	if n := l.Addrs(); n > 8 {
		t.Fatalf("%d addresses remembered, want at most 8", n)
	}
	var nl *Limiter
	if nl.Check("x") != nil {
		t.Fatal("a nil limiter limits")
	}
	nl.Fail("x")
}
