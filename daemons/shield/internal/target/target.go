package target

import (
	"fmt"
	"net/netip"
	"strings"
)

// Target is one parsed entry: either a prefix (an IP is a full-length
// prefix) or a domain name.
type Target struct {
	Prefix netip.Prefix // valid when Domain is empty
	Domain string       // lower case, no trailing dot
}

// IsDomain reports whether t names a domain (or a wildcard of domains).
func (t Target) IsDomain() bool { return t.Domain != "" }

// IsWildcard reports whether t is a "*.example.com" entry: every name
// below example.com, not example.com itself. Only the task's resolver can
// use it (there is no address to look up ahead of time).
func (t Target) IsWildcard() bool { return strings.HasPrefix(t.Domain, "*.") }

// Matches reports whether the query name (lower case, no trailing dot)
// falls under t: the same name, or for a wildcard any name below its
// suffix.
func (t Target) Matches(name string) bool {
	if t.IsWildcard() {
		return strings.HasSuffix(name, t.Domain[1:])
	}
	return t.Domain != "" && name == t.Domain
}

// String gives the canonical form: the domain, the address of a full-length
// prefix, or the masked CIDR.
func (t Target) String() string {
	if t.IsDomain() {
		return t.Domain
	}
	if t.Prefix.IsSingleIP() {
		return t.Prefix.Addr().String()
	}
	return t.Prefix.String()
}

// Parse reads one entry. Whitespace around it is ignored.
func Parse(s string) (Target, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, fmt.Errorf("empty entry: %w", ErrInvalid)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Target{}, fmt.Errorf("%q: %w", s, ErrInvalid)
		}
		p = p.Masked()
		if p.Addr().Is4In6() {
			return Target{}, fmt.Errorf("%q: IPv4-mapped IPv6 prefix: %w", s, ErrInvalid)
		}
		return Target{Prefix: p}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return Target{}, fmt.Errorf("%q: zoned address: %w", s, ErrInvalid)
		}
		a = a.Unmap()
		return Target{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	d := strings.ToLower(strings.TrimSuffix(s, "."))
	if rest, ok := strings.CutPrefix(d, "*."); ok {
		if !validDomain(rest) {
			return Target{}, fmt.Errorf("%q: a wildcard is *. followed by a domain with a dot, like *.example.com: %w", s, ErrInvalid)
		}
		return Target{Domain: d}, nil
	}
	if !validDomain(d) {
		return Target{}, fmt.Errorf("%q: %w", s, ErrInvalid)
	}
	return Target{Domain: d}, nil
}

// ParseList parses a list of entries and fails on the first bad one.
func ParseList(ss []string) ([]Target, error) {
	out := make([]Target, 0, len(ss))
	for _, s := range ss {
		t, err := Parse(s)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func validDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	labels := strings.Split(d, ".")
	for i, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return false
			}
		}
		// The last label (TLD) is never all digits: that would be a mistyped IP.
		if i == len(labels)-1 && strings.Trim(l, "0123456789") == "" {
			return false
		}
	}
	return true
}
