// Package dnstest is a small authoritative DNS server for the shield's
// tests and benchmark (never imported by the terok-shield binary): it
// answers A and AAAA from a table the test may change while it runs, can
// rotate a name's addresses from one answer to the next, and logs every
// query it receives.
package dnstest

import (
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Server is the test DNS server.
type Server struct {
	Addr    string
	mu      sync.Mutex
	recs    map[string][]netip.Addr
	rotate  map[string]int // next index of a rotating name; absent: answer all
	cname   map[string]string
	ttl     uint32
	queries []string
	srv     *dns.Server
}

// Start serves on pc (a UDP socket the caller opened, possibly inside a
// test namespace) with the given TTL.
func Start(pc net.PacketConn, ttl uint32) *Server {
	s := &Server{Addr: pc.LocalAddr().String(), recs: map[string][]netip.Addr{}, rotate: map[string]int{}, cname: map[string]string{}, ttl: ttl}
	started := make(chan struct{})
	s.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve), NotifyStartedFunc: func() { close(started) }}
	go func() { _ = s.srv.ActivateAndServe() }()
	<-started
	return s
}

// Set replaces the addresses of name (an empty list makes it NXDOMAIN).
func (s *Server) Set(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(name, addrs)
	delete(s.rotate, dns.Fqdn(strings.ToLower(name)))
}

// SetCNAME makes name an alias of target: its answers hold the CNAME
// record and target's addresses, as a recursive resolver's do.
func (s *Server) SetCNAME(name, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cname[dns.Fqdn(strings.ToLower(name))] = dns.Fqdn(strings.ToLower(target))
}

// SetRotating makes name answer one of addrs per query, in turn (as a CDN
// hands different clients different addresses).
func (s *Server) SetRotating(name string, addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(name, addrs)
	s.rotate[dns.Fqdn(strings.ToLower(name))] = 0
}

// SetTTL changes the TTL of later answers.
func (s *Server) SetTTL(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = ttl
}

func (s *Server) set(name string, addrs []string) {
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	s.recs[dns.Fqdn(strings.ToLower(name))] = as
}

// Queries returns every query name received so far (lower case, no
// trailing dot), in order.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// Asked reports whether name was ever queried.
func (s *Server) Asked(name string) bool {
	for _, q := range s.Queries() {
		if q == strings.ToLower(name) {
			return true
		}
	}
	return false
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Shutdown() }

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(r.Question) == 1 {
		q := r.Question[0]
		key := strings.ToLower(q.Name)
		s.queries = append(s.queries, strings.TrimSuffix(key, "."))
		owner := q.Name
		if tgt, ok := s.cname[key]; ok {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: s.ttl}, Target: tgt})
			key, owner = tgt, tgt
		}
		addrs, ok := s.recs[key]
		if !ok || len(addrs) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		if i, rot := s.rotate[key]; rot && len(addrs) > 0 && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA) {
			var fam []netip.Addr
			for _, a := range addrs {
				if a.Is4() == (q.Qtype == dns.TypeA) {
					fam = append(fam, a)
				}
			}
			if len(fam) > 0 {
				addrs = []netip.Addr{fam[i%len(fam)]}
				s.rotate[key] = i + 1
			}
		}
		for _, a := range addrs {
			h := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: s.ttl}
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
