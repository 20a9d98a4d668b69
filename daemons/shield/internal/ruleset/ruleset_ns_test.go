package ruleset_test

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
)

func pr(s string) iprange.Range { return iprange.FromPrefix(netip.MustParsePrefix(s), time.Time{}) }

func mustRefused(t *testing.T, tp *nstest.Topo, addr string) {
	t.Helper()
	// ECONNREFUSED shows the reset came at once (a drop ends in a
	// timeout), so the bound can be generous.
	r := tp.Dial(addr, 20*time.Second)
	if !errors.Is(r.Err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: want connection refused, got %v after %v", addr, r.Err, r.Elapsed)
	}
}

func mustConnect(t *testing.T, tp *nstest.Topo, addr string) {
	t.Helper()
	if r := tp.Dial(addr, 20*time.Second); r.Err != nil {
		t.Fatalf("dial %s: want connected, got %v after %v", addr, r.Err, r.Elapsed)
	}
}

func TestLoadUpdateRender(t *testing.T) {
	tp := nstest.New(t, "203.0.113.1", "203.0.113.2", "203.0.113.3")
	for _, h := range []string{"203.0.113.1:80", "203.0.113.2:80", "203.0.113.3:80", "198.51.100.1:9418", "198.51.100.1:9419"} {
		tp.Listen(tp.Inet, h)
	}
	tp.Listen(tp.Task, "127.0.0.1:8080")
	mustConnect(t, tp, "203.0.113.2:80") // before arming everything flows

	ns, err := netns.Open(tp.TaskPID)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nft, err := ruleset.Open(ns.Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer ruleset.CloseConn(nft)
	spec := ruleset.Spec{
		Mode:      ruleset.ModeUp,
		Endpoints: []ruleset.Endpoint{{Addr: netip.MustParseAddr("198.51.100.1"), Proto: "tcp", Port: 9418}},
		Allow:     []iprange.Range{pr("203.0.113.1/32"), pr("2001:db8::/32")},
		LogGroup:  77,
	}
	if err := ruleset.Load(nft, spec); err != nil {
		t.Fatalf("load: %v", err)
	}
	mustConnect(t, tp, "203.0.113.1:80")
	mustConnect(t, tp, "198.51.100.1:9418")
	mustConnect(t, tp, "127.0.0.1:8080")
	mustRefused(t, tp, "203.0.113.2:80")
	mustRefused(t, tp, "198.51.100.1:9419")

	// Live change: allow .2 and a CIDR, deny .1.
	if err := ruleset.Update(nft,
		ruleset.SetChange{Name: ruleset.Allow4, Old: spec.Allow[:1], New: []iprange.Range{pr("203.0.113.0/30")}},
		ruleset.SetChange{Name: ruleset.Deny4, New: []iprange.Range{pr("203.0.113.1/32")}},
	); err != nil {
		t.Fatalf("update: %v", err)
	}
	mustConnect(t, tp, "203.0.113.2:80")
	mustConnect(t, tp, "203.0.113.3:80")
	mustRefused(t, tp, "203.0.113.1:80")

	// A timed element lapses in the kernel by itself, no daemon needed.
	// Seeing it before it lapses is only checked while the 8 s clearly
	// have not run out; the lapse itself is waited for.
	added := time.Now()
	timed := iprange.FromPrefix(netip.MustParsePrefix("198.51.100.1/32"), added.Add(8*time.Second))
	if err := ruleset.Update(nft, ruleset.SetChange{Name: ruleset.Allow4, New: []iprange.Range{timed}}); err != nil {
		t.Fatalf("timed allow: %v", err)
	}
	if r := tp.Dial("198.51.100.1:9419", 10*time.Second); r.Err != nil && time.Since(added) < 6*time.Second {
		t.Fatalf("timed element does not let the connection through: %v", r.Err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for tp.Dial("198.51.100.1:9419", 10*time.Second).Err == nil {
		if time.Now().After(deadline) {
			t.Fatal("timed element never lapsed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustRefused(t, tp, "198.51.100.1:9419")

	txt, err := ruleset.Render(nft)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	for _, want := range []string{"table inet terok_shield", "set allow4", "203.0.113.0/30", "2001:db8::/32", "set deny4", "203.0.113.1",
		"ip daddr 198.51.100.1 meta l4proto tcp th dport 9418 accept", "ip daddr @deny4 jump refuse", "reject with tcp reset",
		`log prefix "tks-blocked" group 77`, "policy drop"} {
		if !strings.Contains(txt, want) {
			t.Errorf("rendered ruleset lacks %q:\n%s", want, txt)
		}
	}
	// nft, an independent reader, agrees the table is there.
	if out, err := nstest.Nft(tp.Task, "list", "table", "inet", ruleset.TableName); err != nil || !strings.Contains(out, "203.0.113.0/30") {
		t.Errorf("nft list: %v\n%s", err, out)
	}

	// Re-load replaces in one batch: block mode drops even the allowed host.
	spec.Mode = ruleset.ModeBlock
	if err := ruleset.Load(nft, spec); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if r := tp.Dial("203.0.113.1:80", 3*time.Second); r.Err == nil {
		t.Fatalf("block mode let a connection through")
	}
	mustConnect(t, tp, "127.0.0.1:8080")

	if err := ruleset.Remove(nft); err != nil {
		t.Fatal(err)
	}
	if ok, err := ruleset.Present(nft); err != nil || ok {
		t.Fatalf("present after remove: %v %v", ok, err)
	}
	mustConnect(t, tp, "203.0.113.2:80")
}

func TestLargeAllowlist(t *testing.T) {
	tp := nstest.New(t, "203.0.113.9")
	tp.Listen(tp.Inet, "203.0.113.9:80")
	ns, err := netns.Open(tp.TaskPID)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nft, err := ruleset.Open(ns.Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer ruleset.CloseConn(nft)
	var allow []iprange.Range
	// 10,000 separate /32s in 11.0.0.0/8 (every other address, so none merge) plus the host.
	for i := 0; len(allow) < 10000; i += 2 {
		a := netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
		allow = append(allow, iprange.Range{Lo: a, Hi: a})
	}
	allow = append(allow, pr("203.0.113.9/32"))
	start := time.Now()
	if err := ruleset.Load(nft, ruleset.Spec{Mode: ruleset.ModeUp, Allow: iprange.Merge(allow), LogGroup: 1}); err != nil {
		t.Fatalf("load 10k: %v", err)
	}
	t.Logf("10,001-entry allowlist loaded in %v", time.Since(start))
	mustConnect(t, tp, "203.0.113.9:80")
	out, err := nstest.Nft(tp.Task, "list", "set", "inet", ruleset.TableName, ruleset.Allow4)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "11."); n < 10000 {
		t.Fatalf("nft lists %d of 10000 entries", n)
	}
}
