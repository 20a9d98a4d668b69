package resolve

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// Resolver queries one DNS server (host:port) over UDP, falling back to TCP
// for truncated answers.
type Resolver struct {
	Server  string
	Timeout time.Duration
	MinTTL  time.Duration // floor for re-resolution (default 30 s)
	MaxTTL  time.Duration // ceiling (default 1 h)
}

// FromResolvConf returns the first nameserver of a resolv.conf file as host:53.
func FromResolvConf(path string) (string, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if len(cc.Servers) == 0 {
		return "", fmt.Errorf("%s lists no nameserver; pass --resolver HOST:PORT", path)
	}
	return net.JoinHostPort(cc.Servers[0], cc.Port), nil
}

// Answer is one lookup's result.
type Answer struct {
	Addrs []netip.Addr
	TTL   time.Duration // clamped to [MinTTL, MaxTTL]
}

// Lookup resolves name to its IPv4 and IPv6 addresses.
func (r *Resolver) Lookup(ctx context.Context, name string) (Answer, error) {
	minT, maxT := r.MinTTL, r.MaxTTL
	if minT == 0 {
		minT = 30 * time.Second
	}
	if maxT == 0 {
		maxT = time.Hour
	}
	to := r.Timeout
	if to == 0 {
		to = 3 * time.Second
	}
	var out Answer
	ttl := uint32(1<<32 - 1)
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qt)
		c := &dns.Client{Timeout: to}
		resp, _, err := c.ExchangeContext(ctx, m, r.Server)
		if err == nil && resp.Truncated {
			c.Net = "tcp"
			resp, _, err = c.ExchangeContext(ctx, m, r.Server)
		}
		if err != nil {
			return Answer{}, fmt.Errorf("resolve %s at %s: %w", name, r.Server, err)
		}
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			return Answer{}, fmt.Errorf("resolve %s at %s: %s", name, r.Server, dns.RcodeToString[resp.Rcode])
		}
		for _, rr := range resp.Answer {
			if a, ok := AddrOf(rr); ok {
				out.Addrs = append(out.Addrs, a)
				ttl = min(ttl, rr.Header().Ttl)
			}
		}
	}
	if len(out.Addrs) == 0 {
		return Answer{}, fmt.Errorf("resolve %s at %s: %w", name, r.Server, ErrNoAddress)
	}
	slices.SortFunc(out.Addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	out.Addrs = slices.Compact(out.Addrs)
	out.TTL = min(max(time.Duration(ttl)*time.Second, minT), maxT)
	return out, nil
}

// AddrOf is the address an A or AAAA record holds (IPv4 unmapped); ok is
// false for any other record, or one whose address does not parse.
func AddrOf(rr dns.RR) (a netip.Addr, ok bool) {
	switch v := rr.(type) {
	case *dns.A:
		a, ok = netip.AddrFromSlice(v.A.To4())
	case *dns.AAAA:
		a, ok = netip.AddrFromSlice(v.AAAA)
	}
	return a.Unmap(), ok && a.IsValid()
}
