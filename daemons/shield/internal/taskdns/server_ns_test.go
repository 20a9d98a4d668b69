package taskdns_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/taskdns"
)

// policy allows names in allow; Answered can hold the reply back or fail.
type policy struct {
	allow    map[string]bool
	mu       sync.Mutex
	refused  []string
	answered map[string][]taskdns.Addr
	hold     chan struct{} // Answered waits on it when set
	called   chan struct{} // Answered signals its call when set
	err      error
	dropped  uint64 // sum of what Dropped was told
	inside   int    // calls of Answered under way now
	most     int    // the most ever under way at once
}

func (p *policy) Dropped(n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped += n
}

func (p *policy) Check(name string) taskdns.Verdict {
	if p.allow[name] {
		return taskdns.Forward
	}
	return taskdns.Refuse
}

func (p *policy) Refused(name string, _ uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refused = append(p.refused, name)
}

func (p *policy) Answered(name string, _ uint16, addrs []taskdns.Addr, _ []string) error {
	p.mu.Lock()
	p.answered[name] = addrs
	hold, called, err := p.hold, p.called, p.err
	p.inside++
	p.most = max(p.most, p.inside)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inside--
		p.mu.Unlock()
	}()
	if called != nil {
		called <- struct{}{}
	}
	if hold != nil {
		<-hold
	}
	return err
}

// upstream starts our DNS server on the host's loopback (answers with TTL
// 42) until the test ends.
func upstream(t *testing.T) *dnstest.Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := dnstest.Start(pc, 42)
	t.Cleanup(up.Close)
	return up
}

// taskNS opens the network namespace of a topology's task.
func taskNS(t *testing.T, tp *nstest.Topo) *netns.NS {
	t.Helper()
	ns, err := netns.Open(tp.TaskPID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func TestServer(t *testing.T) {
	tp := nstest.New(t)
	ns := taskNS(t, tp)
	up := upstream(t)
	up.Set("ok.example.test", "203.0.113.5", "2001:db8::5")
	p := &policy{allow: map[string]bool{"ok.example.test": true, "gone.example.test": true}, answered: map[string][]taskdns.Addr{}}
	srv, err := taskdns.Start(ns, taskdns.Options{Addr: "127.0.0.53", Upstream: up.Addr, Timeout: 2 * time.Second}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	ask := func(m *dns.Msg, tcp bool) (*dns.Msg, error) {
		c := &dns.Client{Timeout: 10 * time.Second}
		if tcp {
			c.Net = "tcp"
		}
		var r *dns.Msg
		err := nstest.In(tp.Task, func() (err error) { r, _, err = c.Exchange(m, "127.0.0.53:53"); return })
		return r, err
	}
	q := func(name string, qt uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qt)
		return m
	}

	for _, tcp := range []bool{false, true} {
		r, err := ask(q("OK.example.test", dns.TypeA), tcp)
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("allowed name (tcp %v): %v %v", tcp, r, err)
		}
		p.mu.Lock()
		got := p.answered["ok.example.test"]
		p.mu.Unlock()
		if len(got) != 1 || got[0].IP.String() != "203.0.113.5" || got[0].TTL != 42*time.Second {
			t.Fatalf("Answered got %+v", got)
		}
	}
	if r, err := ask(q("ok.example.test", dns.TypeAAAA), false); err != nil || len(r.Answer) != 1 {
		t.Fatalf("AAAA: %v %v", r, err)
	}

	r, err := ask(q("leak.example.test", dns.TypeA), false)
	if err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("unlisted name: %v %v", r, err)
	}
	p.mu.Lock()
	refused := append([]string(nil), p.refused...)
	p.mu.Unlock()
	if up.Asked("leak.example.test") || len(refused) != 1 || refused[0] != "leak.example.test" {
		t.Fatalf("refused name: upstream log %v, refused %v", up.Queries(), refused)
	}

	// Two questions in one message (no stub resolver sends that, and it
	// must not smuggle a second name out): refused as malformed.
	m := q("ok.example.test", dns.TypeA)
	m.Question = append(m.Question, dns.Question{Name: "leak2.example.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	if r, err := ask(m, false); err != nil || (r.Rcode != dns.RcodeFormatError && r.Rcode != dns.RcodeNotImplemented) {
		t.Fatalf("two questions: %v %v", r, err)
	}
	if up.Asked("leak2.example.test") {
		t.Fatal("the second question left the machine")
	}

	// The answer is held until Answered returns (the sets are updated
	// before the task gets the address).
	p.mu.Lock()
	p.hold, p.called = make(chan struct{}), make(chan struct{}, 1)
	p.mu.Unlock()
	done := make(chan *dns.Msg, 1)
	go func() { r, _ := ask(q("ok.example.test", dns.TypeA), false); done <- r }()
	select {
	case <-p.called:
	case <-time.After(20 * time.Second):
		t.Fatal("Answered never called")
	}
	select {
	case r := <-done:
		t.Fatalf("the answer came back before Answered returned: %v", r)
	case <-time.After(time.Second):
	}
	close(p.hold)
	select {
	case r := <-done:
		if r == nil || r.Rcode != dns.RcodeSuccess {
			t.Fatalf("held answer: %v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("held answer never came")
	}

	// Answered failing withholds the answer.
	for _, c := range []struct {
		err   error
		rcode int
	}{{taskdns.ErrRefused, dns.RcodeRefused}, {errors.New("netlink says no"), dns.RcodeServerFailure}} {
		p.mu.Lock()
		p.hold, p.called, p.err = nil, nil, c.err
		p.mu.Unlock()
		if r, err := ask(q("ok.example.test", dns.TypeA), false); err != nil || r.Rcode != c.rcode || len(r.Answer) != 0 {
			t.Fatalf("Answered error %v: %v %v", c.err, r, err)
		}
	}

	// An upstream that does not answer: SERVFAIL, not a hang.
	up.Close()
	p.mu.Lock()
	p.err = nil
	p.mu.Unlock()
	if r, err := ask(q("gone.example.test", dns.TypeA), false); err != nil || r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("upstream down: %v %v", r, err)
	}

	// Closed: nothing answers any more.
	srv.Close()
	if _, err := ask(q("ok.example.test", dns.TypeA), true); err == nil {
		t.Fatal("a closed resolver answered")
	}
}

// TestServerBoundsAFlood: a task that asks far faster than its limits gets
// no more than Workers queries handled at once, the rest wait in the
// socket's small buffer and are dropped by the kernel when it is full;
// the drops are counted and handed to the policy.
func TestServerBoundsAFlood(t *testing.T) {
	tp := nstest.New(t)
	ns := taskNS(t, tp)
	up := upstream(t)
	up.Set("ok.example.test", "203.0.113.5")
	p := &policy{allow: map[string]bool{"ok.example.test": true}, answered: map[string][]taskdns.Addr{},
		hold: make(chan struct{}), called: make(chan struct{}, 1000)}
	lim := taskdns.Limits{Rate: 1000, Burst: 1000, Workers: 3, Buffer: 8 << 10}
	srv, err := taskdns.Start(ns, taskdns.Options{Addr: "127.0.0.53", Upstream: up.Addr, Timeout: 2 * time.Second, Limits: lim}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	// 5,000 queries sent without waiting for answers, while every
	// answer is held: three are handled, the buffer fills, the kernel
	// drops the rest.
	m := new(dns.Msg)
	m.SetQuestion("ok.example.test.", dns.TypeA)
	b, _ := m.Pack()
	if err := nstest.In(tp.Task, func() error {
		c, err := net.Dial("udp", "127.0.0.53:53")
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < 5000; i++ {
			_, _ = c.Write(b)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < lim.Workers; i++ {
		select {
		case <-p.called:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d queries reached the policy", i)
		}
	}
	// Bounded: give a fourth call every chance to show up.
	select {
	case <-p.called:
		t.Fatalf("more than %d queries handled at once", lim.Workers)
	case <-time.After(500 * time.Millisecond):
	}
	deadline := time.Now().Add(20 * time.Second)
	for srv.Dropped() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if srv.Dropped() == 0 {
		t.Fatal("a flood past the buffer counted no drops")
	}
	for time.Now().Before(deadline) {
		p.mu.Lock()
		d := p.dropped
		p.mu.Unlock()
		if d > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.mu.Lock()
	got, most := p.dropped, p.most
	p.mu.Unlock()
	if got == 0 || got > srv.Dropped() {
		t.Fatalf("the policy was told of %d drops; the server counted %d", got, srv.Dropped())
	}
	if most > lim.Workers {
		t.Fatalf("%d queries handled at once, limit %d", most, lim.Workers)
	}
	close(p.hold)
	// Released, it answers again.
	p.mu.Lock()
	p.hold, p.called = nil, nil
	p.mu.Unlock()
	deadline = time.Now().Add(30 * time.Second)
	for {
		c := &dns.Client{Timeout: 2 * time.Second}
		var r *dns.Msg
		err := nstest.In(tp.Task, func() (err error) { r, _, err = c.Exchange(m, "127.0.0.53:53"); return })
		if err == nil && r.Rcode == dns.RcodeSuccess {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resolver does not answer after the flood: %v %v", r, err)
		}
	}
}

// TestServerBeforeLoopbackUp: a resolver opened while the namespace's
// loopback is still down (as the OCI hook may find it) answers from its
// own address once the loopback is up, so a stub resolver (a connected
// socket) takes the answer.
func TestServerBeforeLoopbackUp(t *testing.T) {
	nstest.Require(t)
	name := fmt.Sprintf("tks2-lo-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ns, err := netns.OpenPath("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	up := upstream(t)
	up.Set("ok.example.test", "203.0.113.5")
	p := &policy{allow: map[string]bool{"ok.example.test": true}, answered: map[string][]taskdns.Addr{}}
	srv, err := taskdns.Start(ns, taskdns.Options{Addr: "127.0.0.53", Upstream: up.Addr, Timeout: 2 * time.Second}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	m := new(dns.Msg)
	m.SetQuestion("ok.example.test.", dns.TypeA)
	var r *dns.Msg
	if err := nstest.In(name, func() (err error) {
		r, _, err = (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, "127.0.0.53:53")
		return err
	}); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("a stub's query: %v %v", r, err)
	}
}
