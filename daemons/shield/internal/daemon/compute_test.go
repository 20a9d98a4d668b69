package daemon

import (
	"context"
	"net/netip"
	"testing"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

func TestComputePrivateRanges(t *testing.T) {
	m, err := New(Options{StateDir: t.TempDir(), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	c := &container{st: State{
		Static:  []string{"0.0.0.0/0", "10.1.2.3", "192.168.5.0/24", "fe80::1"},
		Allowed: []shieldapi.Entry{{Target: "203.0.113.0/24"}},
		Denied:  []shieldapi.Entry{{Target: "203.0.113.7"}},
	}}
	sn := m.compute(context.Background(), c)
	allow, deny := sn.allow, sn.deny
	in := func(rs []iprange.Range, a string) bool {
		for _, r := range rs {
			if r.Contains(netip.MustParseAddr(a)) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		addr string
		want bool
	}{
		{"8.8.8.8", true},      // the wide entry
		{"10.1.2.3", true},     // explicit private address
		{"10.1.2.4", false},    // the rest of 10/8 stays closed
		{"192.168.5.9", true},  // explicit private network
		{"192.168.6.1", false}, // not named
		{"172.16.0.1", false},  // never named
		{"169.254.1.2", false}, // link-local, unless an endpoint
		{"100.64.0.1", false},  // shared address space
		{"fe80::1", true},      // explicit
		{"203.0.113.7", true},  // in the allow set; the deny set wins at lookup time
	} {
		if got := in(allow, c.addr); got != c.want {
			t.Errorf("%s allowed = %v, want %v", c.addr, got, c.want)
		}
	}
	if !in(deny, "203.0.113.7") || len(deny) != 1 {
		t.Errorf("deny = %+v", deny)
	}
}
