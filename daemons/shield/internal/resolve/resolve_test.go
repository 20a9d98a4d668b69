package resolve_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

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
