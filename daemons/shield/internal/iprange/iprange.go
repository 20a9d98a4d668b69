package iprange

import (
	"net/netip"
	"slices"
	"time"
)

// Range is an inclusive address range of one family. A zero Expires means
// the range never lapses.
type Range struct {
	Lo, Hi  netip.Addr
	Expires time.Time
}

// FromPrefix returns the range a prefix covers.
func FromPrefix(p netip.Prefix, expires time.Time) Range {
	p = p.Masked()
	lo := p.Addr()
	hi := lo.AsSlice()
	bits := p.Bits()
	for i := range hi {
		for b := 0; b < 8; b++ {
			if i*8+b >= bits {
				hi[i] |= 0x80 >> b
			}
		}
	}
	h, _ := netip.AddrFromSlice(hi)
	return Range{Lo: lo, Hi: h, Expires: expires}
}

// Contains reports whether a is inside r.
func (r Range) Contains(a netip.Addr) bool {
	return r.Lo.BitLen() == a.BitLen() && r.Lo.Compare(a) <= 0 && a.Compare(r.Hi) <= 0
}

// Within reports whether r lies entirely inside o.
func (r Range) Within(o Range) bool { return o.Contains(r.Lo) && o.Contains(r.Hi) }

// Overlaps reports whether r and o share an address.
func (r Range) Overlaps(o Range) bool {
	return r.Lo.BitLen() == o.Lo.BitLen() && r.Lo.Compare(o.Hi) <= 0 && o.Lo.Compare(r.Hi) <= 0
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if a.After(b) {
		return a
	}
	return b
}

// Merge sorts ranges and joins those that overlap or touch; ranges that are
// joined keep the later expiry (never-expiring wins). The input is not changed.
func Merge(in []Range) []Range {
	rs := slices.Clone(in)
	slices.SortFunc(rs, func(a, b Range) int { return a.Lo.Compare(b.Lo) })
	var out []Range
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Lo.BitLen() == r.Lo.BitLen() && (r.Lo.Compare(last.Hi) <= 0 || last.Hi.Next() == r.Lo) {
				if r.Hi.Compare(last.Hi) > 0 {
					last.Hi = r.Hi
				}
				last.Expires = later(last.Expires, r.Expires)
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// Subtract removes every address of cut from the ranges in rs.
func Subtract(rs []Range, cut []Range) []Range {
	out := slices.Clone(rs)
	for _, c := range cut {
		var next []Range
		for _, r := range out {
			if !r.Overlaps(c) {
				next = append(next, r)
				continue
			}
			if r.Lo.Compare(c.Lo) < 0 {
				next = append(next, Range{Lo: r.Lo, Hi: c.Lo.Prev(), Expires: r.Expires})
			}
			if c.Hi.Compare(r.Hi) < 0 {
				next = append(next, Range{Lo: c.Hi.Next(), Hi: r.Hi, Expires: r.Expires})
			}
		}
		out = next
	}
	return out
}

// Diff returns the ranges of old not in new (to delete) and of new not in
// old (to add); ranges are equal when bounds and expiry are.
func Diff(old, new []Range) (del, add []Range) {
	key := func(r Range) string {
		return r.Lo.String() + "-" + r.Hi.String() + "@" + r.Expires.Format(time.RFC3339Nano)
	}
	in := func(rs []Range) map[string]bool {
		m := make(map[string]bool, len(rs))
		for _, r := range rs {
			m[key(r)] = true
		}
		return m
	}
	om, nm := in(old), in(new)
	for _, r := range old {
		if !nm[key(r)] {
			del = append(del, r)
		}
	}
	for _, r := range new {
		if !om[key(r)] {
			add = append(add, r)
		}
	}
	return del, add
}

// Split separates IPv4 from IPv6 ranges.
func Split(rs []Range) (v4, v6 []Range) {
	for _, r := range rs {
		if r.Lo.Is4() {
			v4 = append(v4, r)
		} else {
			v6 = append(v6, r)
		}
	}
	return v4, v6
}

// Private lists the ranges the shield refuses unless an entry names them
// explicitly: RFC 1918, shared address space, link-local, ULA, loopback
// outside lo.
func Private() []Range {
	var out []Range
	for _, s := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"} {
		out = append(out, FromPrefix(netip.MustParsePrefix(s), time.Time{}))
	}
	return out
}
