package daemon_test

import (
	"context"
	"net"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// TestBlockedThenDisarmed is a task that is refused and ends at once: its
// container is disarmed within milliseconds of the blocked packet, and
// the blocked record must still be in its audit (the copy is queued on
// the watcher's socket by then and is read before the socket closes).
// Each round repeats it; before the drain, the copy was batched for up to
// 50 ms in the kernel and lost with the socket.
func TestBlockedThenDisarmed(t *testing.T) {
	tp := nstest.New(t, "203.0.113.2")
	tp.Listen(tp.Inet, "203.0.113.2:80")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upDNS := dnstest.Start(pc, 1)
	defer upDNS.Close()
	h := newHarness(t, upDNS.Addr)
	ctx := context.Background()
	for round := range 5 {
		id := "tksdrain" + string(rune('a'+round)) + "0123456789"
		if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Project: "demo"}); err != nil {
			t.Fatalf("arm %s: %v", id, err)
		}
		refused(t, tp, "203.0.113.2:80")
		if err := h.c.Disarm(ctx, id); err != nil {
			t.Fatalf("disarm %s: %v", id, err)
		}
		var blocked, disarmed bool
		if err := h.c.Audit(ctx, id, false, func(ev shieldapi.Event) error {
			blocked = blocked || (ev.Kind == shieldapi.EventBlocked && ev.Dest == "203.0.113.2")
			disarmed = disarmed || ev.Kind == shieldapi.EventDisarmed
			return nil
		}); err != nil {
			t.Fatalf("audit of %s: %v", id, err)
		}
		if !disarmed || !blocked {
			t.Fatalf("round %d: audit of a container disarmed right after a refused connection: disarmed %v, blocked record %v (want both)", round, disarmed, blocked)
		}
	}
}
