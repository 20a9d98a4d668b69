package taskdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
)

// Verdict is what the policy decides for one query name.
type Verdict int

// Verdicts.
const (
	// Refuse answers REFUSED; nothing leaves the machine.
	Refuse Verdict = iota
	// Forward asks upstream and hands the answer's addresses to Answered
	// before the task gets them.
	Forward
)

// Addr is one address of an answer with its record's TTL.
type Addr struct {
	IP  netip.Addr
	TTL time.Duration
}

// Policy decides and records; the daemon implements it per task.
type Policy interface {
	// Check decides a query name (lower case, no trailing dot).
	Check(name string) Verdict
	// Answered gets the A and AAAA addresses of a forwarded answer before
	// it is handed back. An error withholds the answer: ErrRefused makes
	// it REFUSED, anything else SERVFAIL.
	Answered(name string, qtype uint16, addrs []Addr) error
	// Refused records a refused query.
	Refused(name string, qtype uint16)
}

// Server is one task's resolver.
type Server struct {
	upstream string
	timeout  time.Duration
	policy   atomic.Pointer[Policy]
	srvs     []*dns.Server
}

// SetPolicy replaces the policy (a re-arm of the same namespace keeps its
// resolver and hands it the new container).
func (s *Server) SetPolicy(p Policy) { s.policy.Store(&p) }

func (s *Server) pol() Policy { return *s.policy.Load() }

// Options configure Start.
type Options struct {
	Addr     string        // listen address inside the namespace (ResolverAddr)
	Upstream string        // HOST:PORT the allowed queries go to
	Timeout  time.Duration // per upstream exchange (default 3 s)
}

// Start opens UDP and TCP sockets on o.Addr port 53 inside ns and serves
// until Close. The sockets use IP_FREEBIND, so they bind even before the
// namespace's loopback is up.
func Start(ns *netns.NS, o Options, p Policy) (*Server, error) {
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Second
	}
	s := &Server{upstream: o.Upstream, timeout: o.Timeout}
	s.SetPolicy(p)
	addr := net.JoinHostPort(o.Addr, "53")
	lc := net.ListenConfig{Control: freebind}
	var pc net.PacketConn
	var ln net.Listener
	err := ns.Do(func() (err error) {
		if pc, err = lc.ListenPacket(context.Background(), "udp", addr); err != nil {
			return err
		}
		if ln, err = lc.Listen(context.Background(), "tcp", addr); err != nil {
			pc.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open task resolver %s in the namespace: %w", addr, err)
	}
	h := dns.HandlerFunc(s.serve)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h, ReadTimeout: 5 * time.Second}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan error, 1)
		go func() { done <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-done:
			s.Close()
			pc.Close()
			ln.Close()
			return nil, fmt.Errorf("serve task resolver: %w", err)
		}
		s.srvs = append(s.srvs, srv)
	}
	return s, nil
}

func freebind(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
	}); err != nil {
		return err
	}
	return serr
}

// Close stops serving and closes the sockets.
func (s *Server) Close() {
	for _, srv := range s.srvs {
		_ = srv.Shutdown()
	}
	s.srvs = nil
}

func reply(w dns.ResponseWriter, r *dns.Msg, rcode int) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	_ = w.WriteMsg(m)
}

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	if r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 {
		reply(w, r, dns.RcodeNotImplemented)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	p := s.pol()
	if p.Check(name) != Forward {
		p.Refused(name, q.Qtype)
		reply(w, r, dns.RcodeRefused)
		return
	}
	// Upstream over UDP; a truncated answer is asked again over TCP when
	// the task asked over TCP (a UDP asker gets the truncated answer and
	// retries over TCP itself, as resolvers do).
	resp, _, err := (&dns.Client{Timeout: s.timeout}).Exchange(r, s.upstream)
	if _, tcp := w.LocalAddr().(*net.TCPAddr); err == nil && resp.Truncated && tcp {
		resp, _, err = (&dns.Client{Net: "tcp", Timeout: s.timeout}).Exchange(r, s.upstream)
	}
	if err != nil {
		reply(w, r, dns.RcodeServerFailure)
		return
	}
	var addrs []Addr
	for _, rr := range resp.Answer {
		var a netip.Addr
		switch v := rr.(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(v.AAAA)
		default:
			continue
		}
		if a.IsValid() {
			addrs = append(addrs, Addr{IP: a.Unmap(), TTL: time.Duration(rr.Header().Ttl) * time.Second})
		}
	}
	if err := p.Answered(name, q.Qtype, addrs); err != nil {
		if errors.Is(err, ErrRefused) {
			reply(w, r, dns.RcodeRefused)
		} else {
			reply(w, r, dns.RcodeServerFailure)
		}
		return
	}
	resp.Id = r.Id
	_ = w.WriteMsg(resp)
}
