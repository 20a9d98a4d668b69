package daemon

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/taskdns"
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

// TestDenyList: the deny list (the task's and the daemon's) is cut out of
// the allow sets and joins the deny sets; its names are refused in every
// mode but a live allow of what it withholds is refused, a wider one is
// not.
func TestDenyList(t *testing.T) {
	global, _ := target.ParseList([]string{"*.blocked.test"})
	m, err := New(Options{StateDir: t.TempDir(), Log: zerolog.Nop(), DenyNames: global})
	if err != nil {
		t.Fatal(err)
	}
	st := State{Static: []string{"203.0.113.0/24", "api.provider.test"}, DenyList: []string{"203.0.113.7", "api.provider.test", "10.9.0.0/16"}}
	c := m.newContainer(st, nil, nil, nil)
	sn := m.compute(context.Background(), c)
	c.withheld = sn.withheld
	in := func(rs []iprange.Range, a string) bool { return inRanges(rs, netip.MustParseAddr(a)) }
	if in(sn.allow, "203.0.113.7") || !in(sn.allow, "203.0.113.6") || !in(sn.allow, "203.0.113.8") {
		t.Errorf("allow %+v: want 203.0.113.0/24 without .7", sn.allow)
	}
	if !in(sn.deny, "203.0.113.7") || !in(sn.deny, "10.9.1.1") || in(sn.deny, "203.0.113.8") {
		t.Errorf("deny %+v: want .7 and 10.9/16 (private ranges too)", sn.deny)
	}
	for _, c2 := range []struct {
		allow, want string
	}{
		{"api.provider.test", "api.provider.test"},
		{"x.blocked.test", "*.blocked.test"},
		{"*.a.blocked.test", "*.blocked.test"},
		{"*.blocked.test", "*.blocked.test"},
		{"203.0.113.7", "203.0.113.7"},
		{"10.9.3.0/24", "10.9.0.0/16"},
		{"*.provider.test", ""},     // wider: taken, the listed name still refused
		{"203.0.113.0/24", ""},      // wider: taken, the deny set still wins
		{"blocked.test", ""},        // not below the wildcard
		{"other.provider.test", ""}, // another name
	} {
		tg, err := target.Parse(c2.allow)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.withholds(tg); got != c2.want {
			t.Errorf("withholds(%s) = %q, want %q", c2.allow, got, c2.want)
		}
	}
	for _, mode := range []shieldapi.Mode{shieldapi.ModeUp, shieldapi.ModeDown} {
		c.st.Mode = mode
		for _, n := range []string{"api.provider.test", "x.blocked.test"} {
			if c.verdict(n) != taskdns.Refuse || !strings.Contains(c.denied(n), "denied by policy") {
				t.Errorf("mode %s: %s: verdict %v, %q", mode, n, c.verdict(n), c.denied(n))
			}
		}
	}
	if got := canonical(c.denyList); strings.Join(got, " ") != "*.blocked.test 203.0.113.7 api.provider.test 10.9.0.0/16" {
		t.Errorf("deny list in force %q", got)
	}
	if _, err := parseDenyList([]string{"api.provider.test", "https://api.provider.test"}); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), shieldapi.AnnotationDeny) {
		t.Errorf("a bad deny list: %v", err)
	}
}
