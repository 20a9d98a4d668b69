package resolve

import (
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// TestServer is a tiny authoritative DNS server for tests: it answers A and
// AAAA from a table that the test may change while it runs.
type TestServer struct {
	Addr string
	mu   sync.Mutex
	recs map[string][]netip.Addr
	ttl  uint32
	srv  *dns.Server
}

// StartTestServer serves on pc (a UDP socket the caller opened, possibly
// inside a test namespace) with the given TTL.
func StartTestServer(pc net.PacketConn, ttl uint32) *TestServer {
	s := &TestServer{Addr: pc.LocalAddr().String(), recs: map[string][]netip.Addr{}, ttl: ttl}
	started := make(chan struct{})
	s.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve), NotifyStartedFunc: func() { close(started) }}
	go func() { _ = s.srv.ActivateAndServe() }()
	<-started
	return s
}

// Set replaces the addresses of name (an empty list makes it NXDOMAIN).
func (s *TestServer) Set(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	s.recs[dns.Fqdn(strings.ToLower(name))] = as
}

// Close stops the server.
func (s *TestServer) Close() { _ = s.srv.Shutdown() }

func (s *TestServer) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(r.Question) == 1 {
		q := r.Question[0]
		addrs, ok := s.recs[strings.ToLower(q.Name)]
		if !ok || len(addrs) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		for _, a := range addrs {
			h := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: s.ttl}
			switch {
			case a.Is4() && q.Qtype == dns.TypeA:
				h.Rrtype = dns.TypeA
				m.Answer = append(m.Answer, &dns.A{Hdr: h, A: a.AsSlice()})
			case a.Is6() && q.Qtype == dns.TypeAAAA:
				h.Rrtype = dns.TypeAAAA
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: h, AAAA: a.AsSlice()})
			}
		}
	}
	_ = w.WriteMsg(m)
}
