package audit

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

func TestParsePacket(t *testing.T) {
	// IPv4 TCP SYN 198.51.100.2 -> 203.0.113.2:80
	v4, _ := hex.DecodeString("4500003c1c4640004006b1e6c6336402cb007102" + "c35000500000000000000000a002faf000000000")
	p, ok := ParsePacket(v4)
	if !ok || p.Dest.String() != "203.0.113.2" || p.Port != 80 || p.Proto != "tcp" {
		t.Fatalf("v4: %+v %v", p, ok)
	}
	// IPv6 UDP to 2001:db8::1 port 53
	v6, _ := hex.DecodeString("6000000000081140" + "20010db8000000000000000000000002" + "20010db8000000000000000000000001" + "d4310035000800000")
	p, ok = ParsePacket(v6[:48])
	if !ok || p.Dest.String() != "2001:db8::1" || p.Port != 53 || p.Proto != "udp" {
		t.Fatalf("v6: %+v %v", p, ok)
	}
	if _, ok := ParsePacket([]byte{0x45, 0}); ok {
		t.Fatal("short packet parsed")
	}
}

func TestHubFollow(t *testing.T) {
	h, err := NewHub(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Write(shieldapi.Event{Container: "abc123", Kind: shieldapi.EventArmed}); err != nil {
		t.Fatal(err)
	}
	evs, ch, cancel, err := h.Read("abc123", true)
	if err != nil || len(evs) != 1 {
		t.Fatalf("read: %v %v", evs, err)
	}
	defer cancel()
	_ = h.Write(shieldapi.Event{Container: "abc123", Kind: shieldapi.EventBlocked, Dest: "203.0.113.2"})
	select {
	case ev := <-ch:
		if ev.Kind != shieldapi.EventBlocked || ev.Dest != "203.0.113.2" {
			t.Fatalf("followed %+v", ev)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no live record")
	}
	if id, err := h.Resolve("abc"); err != nil || id != "abc123" {
		t.Fatalf("resolve: %q %v", id, err)
	}
	if _, err := h.Resolve("*"); err == nil {
		t.Fatal("glob resolved")
	}
	if _, err := h.Resolve("../x"); err == nil {
		t.Fatal("path traversal resolved")
	}
}
