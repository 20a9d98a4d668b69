package daemon_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// query asks server (HOST:PORT) from inside namespace ns.
func query(ns, server, name string, qtype uint16, tcp bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Timeout: 5 * time.Second}
	if tcp {
		c.Net = "tcp"
	}
	var r *dns.Msg
	err := nstest.In(ns, func() (err error) { r, _, err = c.Exchange(m, server); return })
	return r, err
}

var taskResolver = net.JoinHostPort(shieldapi.ResolverAddr, "53")

// lookup resolves name through the task's resolver and wants an answer.
func lookup(t *testing.T, tp *nstest.Topo, name string, qtype uint16) []string {
	t.Helper()
	r, err := query(tp.Task, taskResolver, name, qtype, false)
	if err != nil {
		t.Fatalf("query %s through the task resolver: %v", name, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("query %s: rcode %s, want NOERROR", name, dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out
}

func refusedLookup(t *testing.T, tp *nstest.Topo, name string) {
	t.Helper()
	r, err := query(tp.Task, taskResolver, name, dns.TypeA, false)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Fatalf("query %s: rcode %s with %d answers, want REFUSED", name, dns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

// auditHas reports whether the container's audit log holds a matching event.
func auditHas(t *testing.T, h *harness, id string, match func(shieldapi.Event) bool) func() bool {
	return func() bool {
		found := false
		if err := h.c.Audit(context.Background(), id, false, func(ev shieldapi.Event) error {
			found = found || match(ev)
			return nil
		}); err != nil {
			t.Fatalf("read audit: %v", err)
		}
		return found
	}
}

func rulesOf(t *testing.T, h *harness, id string) string {
	t.Helper()
	r, err := h.c.Rules(context.Background(), id)
	if err != nil {
		t.Fatalf("rules: %v", err)
	}
	return r.Text
}

// setLine returns the elements line of set name in a rendered ruleset. A
// missing set fails the test: a check that a set lacks an address must not
// pass because the set is gone or was renamed.
func setLine(t *testing.T, txt, name string) string {
	t.Helper()
	i := strings.Index(txt, "set "+name+" {")
	if i < 0 {
		t.Fatalf("the ruleset has no set %s:\n%s", name, txt)
	}
	rest := txt[i:]
	end := strings.Index(rest, "\t}\n")
	if end < 0 {
		return rest
	}
	return rest[:end]
}

func TestTaskResolver(t *testing.T) {
	hosts := []string{"203.0.113.21", "203.0.113.22", "203.0.113.23", "203.0.113.24", "203.0.113.25", "203.0.113.26", "2001:db8:7::20"}
	tp := nstest.New(t, hosts...)
	for _, hst := range hosts {
		tp.Listen(tp.Inet, net.JoinHostPort(hst, "80"))
	}
	tp.Listen(tp.Inet, "203.0.113.21:853")

	// The upstream: our own DNS server on the daemon's side (the only side
	// the daemon asks from). Its query log shows what left the machine.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := dnstest.Start(pc, 1)
	defer up.Close()
	up.Set("api.example.test", "203.0.113.21")
	up.Set("x.cdn.example.test", "203.0.113.22")
	up.SetRotating("rot.cdn.example.test", "203.0.113.23", "203.0.113.24", "203.0.113.25")
	up.Set("v6.cdn.example.test", "2001:db8:7::20")
	up.Set("lan.cdn.example.test", "10.1.2.3")
	up.Set("mcast.cdn.example.test", "224.0.0.251", "255.255.255.255", "ff02::fb")
	up.Set("late.example.test", "203.0.113.26")
	up.Set("y.cdn.example.test", "203.0.113.26")
	up.Set("secret-1234.attacker.test", "203.0.113.26")
	// Another resolver the task might try directly: it must never be reached.
	var otherPC net.PacketConn
	if err := nstest.In(tp.Inet, func() (err error) { otherPC, err = net.ListenPacket("udp", nstest.RouterAddr+":53"); return }); err != nil {
		t.Fatal(err)
	}
	other := dnstest.Start(otherPC, 60)
	defer other.Close()
	other.Set("secret-5678.attacker.test", "203.0.113.26")

	h := newHarness(t, up.Addr)
	if err := os.MkdirAll(filepath.Join(h.cfg.ConfigDir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.cfg.ConfigDir, "profiles", "cdn.txt"), []byte("# wildcard\n*.cdn.example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := "tksres0123456789"
	st, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Profiles: []string{"cdn"}, Allow: []string{"api.example.test"}})
	if err != nil {
		t.Fatalf("arm: %v", err)
	}
	if st.Resolver != shieldapi.ResolverAddr {
		t.Fatalf("status names no task resolver: %+v", st)
	}

	t.Run("allowed name resolves and is reachable", func(t *testing.T) {
		if got := lookup(t, tp, "api.example.test", dns.TypeA); len(got) != 1 || got[0] != "203.0.113.21" {
			t.Fatalf("answer %v", got)
		}
		connects(t, tp, "203.0.113.21:80")
		eventually(t, 10*time.Second, "receipt of the allowed connection", auditHas(t, h, id, func(ev shieldapi.Event) bool {
			return ev.Kind == shieldapi.EventConnection && ev.Dest == "203.0.113.21" && ev.Port == 80 && ev.Proto == "tcp"
		}))
		eventually(t, 10*time.Second, "lookup receipt", auditHas(t, h, id, func(ev shieldapi.Event) bool {
			return ev.Kind == shieldapi.EventLookup && ev.Target == "api.example.test" && strings.Contains(ev.Detail, "203.0.113.21")
		}))
	})

	t.Run("wildcard profile entry, address follows the answer", func(t *testing.T) {
		// Never looked up before: the daemon cannot know it ahead.
		refused(t, tp, "203.0.113.22:80")
		if got := lookup(t, tp, "X.CDN.example.test", dns.TypeA); len(got) != 1 || got[0] != "203.0.113.22" {
			t.Fatalf("answer %v", got)
		}
		connects(t, tp, "203.0.113.22:80")
		if l := setLine(t, rulesOf(t, h, id), ruleset.DNS4); !strings.Contains(l, "203.0.113.22 expires") {
			t.Errorf("dns4 lacks the answered address with a timeout:\n%s", l)
		}
		refusedLookup(t, tp, "cdn.example.test") // the wildcard covers names below it only
	})

	t.Run("rotating answers stay reachable", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 6; i++ {
			got := lookup(t, tp, "rot.cdn.example.test", dns.TypeA)
			if len(got) != 1 {
				t.Fatalf("answer %v", got)
			}
			seen[got[0]] = true
			connects(t, tp, got[0]+":80")
		}
		if len(seen) != 3 {
			t.Fatalf("rotation gave %v", seen)
		}
	})

	t.Run("IPv6 answer joins allow6", func(t *testing.T) {
		refused(t, tp, "[2001:db8:7::20]:80")
		if got := lookup(t, tp, "v6.cdn.example.test", dns.TypeAAAA); len(got) != 1 || got[0] != "2001:db8:7::20" {
			t.Fatalf("answer %v", got)
		}
		connects(t, tp, "[2001:db8:7::20]:80")
	})

	t.Run("answers never open private ranges", func(t *testing.T) {
		if got := lookup(t, tp, "lan.cdn.example.test", dns.TypeA); len(got) != 1 || got[0] != "10.1.2.3" {
			t.Fatalf("answer %v", got)
		}
		if l := setLine(t, rulesOf(t, h, id), ruleset.DNS4); strings.Contains(l, "10.1.2.3") {
			t.Fatalf("a private answer joined dns4:\n%s", l)
		}
		// Multicast and broadcast answers neither (nothing but global unicast).
		if got := lookup(t, tp, "mcast.cdn.example.test", dns.TypeA); len(got) != 2 {
			t.Fatalf("answer %v", got)
		}
		if got := lookup(t, tp, "mcast.cdn.example.test", dns.TypeAAAA); len(got) != 1 {
			t.Fatalf("answer %v", got)
		}
		txt := rulesOf(t, h, id)
		if l4, l6 := setLine(t, txt, ruleset.DNS4), setLine(t, txt, ruleset.DNS6); strings.Contains(l4, "224.0.0.251") ||
			strings.Contains(l4, "255.255.255.255") || strings.Contains(l6, "ff02::fb") {
			t.Fatalf("a multicast or broadcast answer joined the sets:\n%s\n%s", l4, l6)
		}
	})

	t.Run("unlisted name never leaves and is audited", func(t *testing.T) {
		refusedLookup(t, tp, "secret-1234.attacker.test")
		r, err := query(tp.Task, taskResolver, "secret-1234.attacker.test", dns.TypeTXT, true) // TCP too
		if err != nil || r.Rcode != dns.RcodeRefused {
			t.Fatalf("TCP query: %v %v", r, err)
		}
		if up.Asked("secret-1234.attacker.test") {
			t.Fatalf("the upstream saw the unlisted name: %v", up.Queries())
		}
		if !up.Asked("api.example.test") {
			t.Fatalf("the upstream log misses an allowed name (is it the upstream at all?): %v", up.Queries())
		}
		eventually(t, 10*time.Second, "refused lookup in the audit", auditHas(t, h, id, func(ev shieldapi.Event) bool {
			return ev.Kind == shieldapi.EventRefused && ev.Target == "secret-1234.attacker.test"
		}))
	})

	t.Run("other resolvers and DNS over TLS are refused", func(t *testing.T) {
		_, err := query(tp.Task, nstest.RouterAddr+":53", "secret-5678.attacker.test", dns.TypeA, false)
		if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("direct UDP query to another resolver: want refused, got %v", err)
		}
		_, err = query(tp.Task, nstest.RouterAddr+":53", "secret-5678.attacker.test", dns.TypeA, true)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("direct TCP query to another resolver: want refused, got %v", err)
		}
		if other.Asked("secret-5678.attacker.test") {
			t.Fatal("the other resolver was reached")
		}
		refused(t, tp, "203.0.113.21:853") // an allowed address, but DNS over TLS
	})

	t.Run("ICMP echo only within its rate; other protocols refused", func(t *testing.T) {
		sent, replies := ping(t, tp, "203.0.113.21", 100)
		if replies == 0 || replies > ruleset.EchoBurst+ruleset.EchoRate*3 {
			t.Fatalf("%d of %d echo requests answered; want some, at most about the burst", replies, sent)
		}
		if _, n := ping(t, tp, "203.0.113.99", 3); n != 0 {
			t.Fatalf("ping to an address not allowed answered %d times", n)
		}
		// A protocol other than TCP, UDP and ICMP to an allowed address.
		rawSend(t, tp, "203.0.113.21", 253)
		eventually(t, 10*time.Second, "blocked record of protocol 253", auditHas(t, h, id, func(ev shieldapi.Event) bool {
			return ev.Kind == shieldapi.EventBlocked && ev.Dest == "203.0.113.21" && ev.Proto == "253"
		}))
	})

	t.Run("live allow of a name, deny of a name", func(t *testing.T) {
		// Allow by name (the web UI's answer to a refused lookup): the
		// resolver answers the name from its next lookup, and the answer's
		// address is let through, which it was not before.
		refusedLookup(t, tp, "late.example.test")
		refused(t, tp, "203.0.113.26:80")
		if _, err := h.c.Allow(ctx, id, "late.example.test", ""); err != nil {
			t.Fatal(err)
		}
		if got := lookup(t, tp, "late.example.test", dns.TypeA); len(got) != 1 || got[0] != "203.0.113.26" {
			t.Fatalf("answer after allow: %v", got)
		}
		connects(t, tp, "203.0.113.26:80")
		lookup(t, tp, "x.cdn.example.test", dns.TypeA)
		if _, err := h.c.Deny(ctx, id, "x.cdn.example.test"); err != nil {
			t.Fatal(err)
		}
		refusedLookup(t, tp, "x.cdn.example.test")
		if l := setLine(t, rulesOf(t, h, id), ruleset.DNS4); strings.Contains(l, "203.0.113.22") {
			t.Fatalf("a denied name's answer stays in dns4:\n%s", l)
		}
		refused(t, tp, "203.0.113.22:80")
		// The rest of the wildcard still resolves.
		if got := lookup(t, tp, "y.cdn.example.test.", dns.TypeA); len(got) != 1 || got[0] != "203.0.113.26" {
			t.Fatalf("answer for another name of the wildcard: %v", got)
		}
	})

	t.Run("TTL expiry removes the address after grace", func(t *testing.T) {
		// TTL 1 s, grace 3 s (the harness): gone within a few seconds.
		lookup(t, tp, "rot.cdn.example.test", dns.TypeA)
		eventually(t, 30*time.Second, "answers lapsed", func() bool {
			return !strings.Contains(setLine(t, rulesOf(t, h, id), ruleset.DNS4), "203.0.113.2")
		})
		refused(t, tp, "203.0.113.23:80")
		refused(t, tp, "203.0.113.24:80")
	})

	t.Run("restart: the resolver comes back with the re-armed task", func(t *testing.T) {
		up.SetTTL(300)
		got := lookup(t, tp, "rot.cdn.example.test", dns.TypeA)
		h.stop()
		if _, err := query(tp.Task, taskResolver, "api.example.test", dns.TypeA, false); err == nil {
			t.Fatal("the resolver answered with the daemon stopped")
		}
		connects(t, tp, got[0]+":80") // the kernel set outlives the daemon
		h.start()
		if got := lookup(t, tp, "api.example.test", dns.TypeA); len(got) != 1 {
			t.Fatalf("answer after restart: %v", got)
		}
		connects(t, tp, got[0]+":80") // carried over the re-arm
		refusedLookup(t, tp, "secret-1234.attacker.test")
	})

	t.Run("down mode resolves every name and audits it", func(t *testing.T) {
		if _, err := h.c.SetMode(ctx, id, shieldapi.ModeDown); err != nil {
			t.Fatal(err)
		}
		lookup(t, tp, "secret-1234.attacker.test", dns.TypeA)
		eventually(t, 10*time.Second, "lookup record in down mode", auditHas(t, h, id, func(ev shieldapi.Event) bool {
			return ev.Kind == shieldapi.EventLookup && ev.Target == "secret-1234.attacker.test"
		}))
		refusedLookup(t, tp, "x.cdn.example.test") // a deny holds in down mode too
		if _, err := h.c.SetMode(ctx, id, shieldapi.ModeBlock); err != nil {
			t.Fatal(err)
		}
		refusedLookup(t, tp, "api.example.test")
	})
}

// ping sends n ICMP echo requests to dst from the task namespace as fast as
// it can and counts the replies that come back within a few seconds.
func ping(t *testing.T, tp *nstest.Topo, dst string, n int) (sent, replies int) {
	t.Helper()
	var fd int
	if err := nstest.In(tp.Task, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
		return
	}); err != nil {
		t.Fatalf("raw ICMP socket: %v", err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{}
	copy(to.Addr[:], net.ParseIP(dst).To4())
	for i := 0; i < n; i++ {
		pkt := []byte{8, 0, 0, 0, 0x12, 0x34, byte(i >> 8), byte(i)}
		binary.BigEndian.PutUint16(pkt[2:], icmpChecksum(pkt))
		if err := unix.Sendto(fd, pkt, 0, to); err == nil {
			sent++
		}
	}
	tv := unix.NsecToTimeval((3 * time.Second).Nanoseconds())
	// Without the timeout the loop below would wait for the package's.
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatalf("receive timeout of the ICMP socket: %v", err)
	}
	buf := make([]byte, 1500)
	for i := 0; i < 4*n; i++ { // bounded: every packet we could see, and then some
		k, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			break
		}
		f, ok := from.(*unix.SockaddrInet4)
		ihl := int(buf[0]&0x0f) * 4
		if ok && net.IP(f.Addr[:]).String() == dst && k > ihl && buf[ihl] == 0 && buf[ihl+4] == 0x12 && buf[ihl+5] == 0x34 {
			replies++
		}
	}
	return sent, replies
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// rawSend sends one packet of IP protocol proto to dst from the task
// namespace (the kernel may refuse the send itself once the shield rejects it).
func rawSend(t *testing.T, tp *nstest.Topo, dst string, proto int) {
	t.Helper()
	err := nstest.In(tp.Task, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, proto)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		to := &unix.SockaddrInet4{}
		copy(to.Addr[:], net.ParseIP(dst).To4())
		if err := unix.Sendto(fd, []byte("tks-covert"), 0, to); err != nil && !errors.Is(err, syscall.EPERM) {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("raw send of protocol %d: %v", proto, err)
	}
}

// TestUnknownContainerNoLookup: an allow for a container the daemon does
// not know is answered "unknown container" before any lookup, and nothing
// is re-resolved for it later (while names of a real container are).
func TestUnknownContainerNoLookup(t *testing.T) {
	tp := nstest.New(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := dnstest.Start(pc, 1)
	defer up.Close()
	up.Set("example.org", "203.0.113.41")
	up.Set("ctl.example.test", "203.0.113.42")
	h := newHarness(t, up.Addr)
	ctx := context.Background()
	_, err = h.c.Allow(ctx, "nope", "example.org", "")
	if !errors.Is(err, unixhttp.ErrNotFound) || !strings.Contains(err.Error(), "unknown container") {
		t.Fatalf("allow for an unknown container: %v, want 404 unknown container", err)
	}
	if up.Asked("example.org") {
		t.Fatal("the daemon looked the name up for a container it does not know")
	}
	// The control: a real container's name (TTL 1 s) is re-resolved.
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksctl", PID: tp.TaskPID, Allow: []string{"ctl.example.test"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the armed container's name re-resolved", func() bool {
		n := 0
		for _, q := range up.Queries() {
			if q == "ctl.example.test" {
				n++
			}
		}
		return n >= 4 // A and AAAA at arm, then again by TTL
	})
	if up.Asked("example.org") {
		t.Fatalf("the unknown container's name was resolved later: %v", up.Queries())
	}
}

// TestReceiptsOff: with receipts off, answered lookups and allowed
// connections leave no record (refusals still do).
func TestReceiptsOff(t *testing.T) {
	tp := nstest.New(t, "203.0.113.51")
	tp.Listen(tp.Inet, "203.0.113.51:80")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := dnstest.Start(pc, 60)
	defer up.Close()
	up.Set("quiet.example.test", "203.0.113.51")
	h := newHarness(t, up.Addr, func(c *config.Config) { c.Receipts = false })
	ctx := context.Background()
	id := "tksquiet"
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Allow: []string{"*.example.test"}}); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, tp, "quiet.example.test", dns.TypeA); len(got) != 1 {
		t.Fatalf("answer %v", got)
	}
	connects(t, tp, "203.0.113.51:80")
	refusedLookup(t, tp, "loud.attacker.test")
	// The record of an answered lookup is written before the answer goes
	// back, so it would be there now; the refusal is, the lookup is not.
	if auditHas(t, h, id, func(ev shieldapi.Event) bool { return ev.Kind == shieldapi.EventLookup })() {
		t.Fatal("an answered lookup was recorded with receipts off")
	}
	if !auditHas(t, h, id, func(ev shieldapi.Event) bool { return ev.Kind == shieldapi.EventRefused })() {
		t.Fatal("the refused lookup was not recorded")
	}
	// Allowed connections are not logged by the rules at all.
	if txt := rulesOf(t, h, id); strings.Contains(txt, `"tks-conn"`) {
		t.Fatalf("up mode logs connections with receipts off:\n%s", txt)
	}
}
