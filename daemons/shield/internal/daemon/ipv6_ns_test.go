package daemon_test

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// TestDaemonIPv6 drives IPv6 connections from an armed task namespace:
// the documentation prefix 2001:db8::/32 stands in for the internet, and
// one unique local address (fc00::/7, only inside the test namespace)
// stands in for the user's LAN.
func TestDaemonIPv6(t *testing.T) {
	const (
		allowed = "2001:db8:5:1::1"   // allowed at arm
		other   = "2001:db8:5:1::2"   // never allowed by an entry naming it
		liveA   = "2001:db8:5:2::1"   // inside the CIDR allowed live
		liveB   = "2001:db8:5:2::2"   // same CIDR, denied live afterwards
		ula     = "fd00:db8:5::1"     // private: refused unless named explicitly
		liveNet = "2001:db8:5:2::/64" // the CIDR allowed live
	)
	hosts := []string{allowed, other, liveA, liveB, ula}
	tp := nstest.New(t, hosts...)
	for _, h := range hosts {
		tp.Listen(tp.Inet, net.JoinHostPort(h, "80"))
	}
	// Unarmed, every host is reachable over IPv6: what follows is the shield's doing.
	for _, h := range hosts {
		connects(t, tp, net.JoinHostPort(h, "80"))
	}

	h := newHarness(t, "127.0.0.1:9")
	ctx := context.Background()
	id := "tks2v6000000000001"
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Project: "v6", Allow: []string{allowed}}); err != nil {
		t.Fatalf("arm: %v", err)
	}
	hp := func(a string) string { return net.JoinHostPort(a, "80") }

	connects(t, tp, hp(allowed))
	for _, a := range []string{other, liveA, liveB, ula} {
		refused(t, tp, hp(a))
	}

	// A live allow of an IPv6 CIDR takes effect at once.
	if _, err := h.c.Allow(ctx, id, liveNet, ""); err != nil {
		t.Fatalf("allow %s: %v", liveNet, err)
	}
	connects(t, tp, hp(liveA))
	connects(t, tp, hp(liveB))
	refused(t, tp, hp(other))

	// A live deny of one address inside it wins at once.
	if _, err := h.c.Deny(ctx, id, liveB); err != nil {
		t.Fatalf("deny %s: %v", liveB, err)
	}
	refused(t, tp, hp(liveB))
	connects(t, tp, hp(liveA))

	// Allowing all of IPv6 still leaves the private ranges out ...
	if _, err := h.c.Allow(ctx, id, "::/0", ""); err != nil {
		t.Fatalf("allow ::/0: %v", err)
	}
	connects(t, tp, hp(other))
	refused(t, tp, hp(ula))
	r, err := h.c.Rules(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "ipv6_addr") {
		t.Fatalf("live ruleset has no IPv6 set:\n%s", r.Text)
	}

	// ... until an entry names the ULA address explicitly.
	if _, err := h.c.Allow(ctx, id, ula, ""); err != nil {
		t.Fatalf("allow %s: %v", ula, err)
	}
	connects(t, tp, hp(ula))
}
