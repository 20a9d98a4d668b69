package iprange

import (
	"net/netip"
	"testing"
	"time"
)

func r(p string) Range { return FromPrefix(netip.MustParsePrefix(p), time.Time{}) }

func str(rs []Range) []string {
	var out []string
	for _, x := range rs {
		out = append(out, x.Lo.String()+"-"+x.Hi.String())
	}
	return out
}

func eq(t *testing.T, what string, got []Range, want ...string) {
	t.Helper()
	g := str(got)
	if len(g) != len(want) {
		t.Fatalf("%s = %v, want %v", what, g, want)
	}
	for i := range g {
		if g[i] != want[i] {
			t.Fatalf("%s = %v, want %v", what, g, want)
		}
	}
}

func TestFromPrefix(t *testing.T) {
	eq(t, "v4", []Range{r("198.51.100.0/24")}, "198.51.100.0-198.51.100.255")
	eq(t, "host", []Range{r("203.0.113.7/32")}, "203.0.113.7-203.0.113.7")
	eq(t, "v6", []Range{r("2001:db8::/126")}, "2001:db8::-2001:db8::3")
	eq(t, "all", []Range{r("0.0.0.0/0")}, "0.0.0.0-255.255.255.255")
}

func TestMerge(t *testing.T) {
	got := Merge([]Range{r("198.51.100.128/25"), r("198.51.100.7/32"), r("198.51.100.0/25"), r("203.0.113.1/32"), r("2001:db8::/64")})
	eq(t, "merge", got, "198.51.100.0-198.51.100.255", "203.0.113.1-203.0.113.1", "2001:db8::-2001:db8::ffff:ffff:ffff:ffff")
	soon := time.Now().Add(time.Minute)
	m := Merge([]Range{FromPrefix(netip.MustParsePrefix("203.0.113.1/32"), soon), r("203.0.113.2/32")})
	if len(m) != 1 || !m[0].Expires.IsZero() {
		t.Fatalf("a permanent range must win over a timed one: %+v", m)
	}
}

func TestSubtract(t *testing.T) {
	got := Subtract([]Range{r("0.0.0.0/0")}, Private())
	eq(t, "all minus private", Merge(got),
		"0.0.0.0-9.255.255.255", "11.0.0.0-100.63.255.255", "100.128.0.0-169.253.255.255",
		"169.255.0.0-172.15.255.255", "172.32.0.0-192.167.255.255", "192.169.0.0-255.255.255.255")
}

func TestDiff(t *testing.T) {
	del, add := Diff([]Range{r("198.51.100.1/32"), r("198.51.100.5/32")}, []Range{r("198.51.100.5/32"), r("203.0.113.0/24")})
	eq(t, "del", del, "198.51.100.1-198.51.100.1")
	eq(t, "add", add, "203.0.113.0-203.0.113.255")
}
