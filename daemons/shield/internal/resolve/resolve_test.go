package resolve_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/resolve"
)

func TestLookup(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := dnstest.Start(pc, 5)
	defer s.Close()
	s.Set("api.example.test", "203.0.113.5", "2001:db8::5", "203.0.113.4")
	r := &resolve.Resolver{Server: s.Addr, MinTTL: time.Second}
	a, err := r.Lookup(context.Background(), "api.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Addrs) != 3 || a.Addrs[0].String() != "203.0.113.4" || a.TTL != 5*time.Second {
		t.Fatalf("answer %+v", a)
	}
	if _, err := r.Lookup(context.Background(), "gone.example.test"); !errors.Is(err, resolve.ErrNoAddress) {
		t.Fatalf("missing name: %v", err)
	}
}

func TestAddrOf(t *testing.T) {
	for _, tc := range []struct {
		rr   string
		want string // "" for no address
	}{
		{"a.test. 60 IN A 203.0.113.7", "203.0.113.7"},
		{"a.test. 60 IN AAAA 2001:db8::7", "2001:db8::7"},
		{"a.test. 60 IN AAAA ::ffff:203.0.113.8", "203.0.113.8"}, // a mapped address is the IPv4 one
		{"a.test. 60 IN CNAME b.test.", ""},
		{"a.test. 60 IN TXT \"203.0.113.9\"", ""},
	} {
		rr, err := dns.NewRR(tc.rr)
		if err != nil {
			t.Fatal(err)
		}
		a, ok := resolve.AddrOf(rr)
		if got := map[bool]string{true: a.String(), false: ""}[ok]; got != tc.want {
			t.Errorf("%s: %q, want %q", tc.rr, got, tc.want)
		}
	}
	if _, ok := resolve.AddrOf(&dns.A{Hdr: dns.RR_Header{Name: "a.test.", Rrtype: dns.TypeA}}); ok {
		t.Error("an A record without an address gave one")
	}
}
