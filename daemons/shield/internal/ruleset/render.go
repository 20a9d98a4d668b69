package ruleset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Render reads the shield table of the connection's namespace back over netlink and
// prints it in nft-like syntax: the live sets with their elements and the
// live rules with their counters.
func Render(c *nftables.Conn) (string, error) {
	t, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "", ErrNotArmed
		}
		return "", fmt.Errorf("list table: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", t.Name)
	sets, err := c.GetSets(t)
	if err != nil {
		return "", fmt.Errorf("list sets: %w", err)
	}
	sort.Slice(sets, func(i, j int) bool { return sets[i].Name < sets[j].Name })
	for _, s := range sets {
		els, err := c.GetSetElements(s)
		if err != nil {
			return "", fmt.Errorf("list set %s: %w", s.Name, err)
		}
		typ := "ipv4_addr"
		if s.KeyType.Name == nftables.TypeIP6Addr.Name {
			typ = "ipv6_addr"
		}
		flags := "interval,timeout"
		if !s.Interval {
			flags = "timeout"
		}
		fmt.Fprintf(&b, "\tset %s {\n\t\ttype %s\n\t\tflags %s\n", s.Name, typ, flags)
		iv := intervals(els)
		if !s.Interval {
			iv = singles(els)
		}
		if len(iv) > 0 {
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(iv, ", "))
		}
		b.WriteString("\t}\n")
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return "", fmt.Errorf("list chains: %w", err)
	}
	order := map[string]int{"output": 0, "dest": 1, "input": 2, "refuse": 3}
	sort.Slice(chains, func(i, j int) bool { return order[chains[i].Name] < order[chains[j].Name] })
	for _, ch := range chains {
		if ch.Table.Name != TableName {
			continue
		}
		fmt.Fprintf(&b, "\tchain %s {\n", ch.Name)
		if ch.Hooknum != nil {
			hook := "output"
			if *ch.Hooknum == *nftables.ChainHookInput {
				hook = "input"
			}
			pol := "accept"
			if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
				pol = "drop"
			}
			fmt.Fprintf(&b, "\t\ttype filter hook %s priority filter; policy %s;\n", hook, pol)
		}
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return "", fmt.Errorf("list rules of %s: %w", ch.Name, err)
		}
		for _, r := range rules {
			fmt.Fprintf(&b, "\t\t%s\n", renderRule(r.Exprs))
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String(), nil
}

func intervals(els []nftables.SetElement) []string {
	sort.Slice(els, func(i, j int) bool {
		a, _ := netip.AddrFromSlice(els[i].Key)
		c, _ := netip.AddrFromSlice(els[j].Key)
		return a.Less(c)
	})
	var out []string
	for i := 0; i < len(els); i++ {
		if els[i].IntervalEnd {
			continue
		}
		lo, _ := netip.AddrFromSlice(els[i].Key)
		s := ""
		if i+1 < len(els) && els[i+1].IntervalEnd {
			end, _ := netip.AddrFromSlice(els[i+1].Key)
			hi := end.Prev()
			s = rangeString(lo, hi)
		} else {
			s = rangeString(lo, maxAddr(lo))
		}
		if els[i].Expires > 0 {
			s += fmt.Sprintf(" expires %s", els[i].Expires.Round(1e9))
		}
		out = append(out, s)
	}
	return out
}

// singles prints the elements of a plain (non-interval) set.
func singles(els []nftables.SetElement) []string {
	sort.Slice(els, func(i, j int) bool {
		a, _ := netip.AddrFromSlice(els[i].Key)
		c, _ := netip.AddrFromSlice(els[j].Key)
		return a.Less(c)
	})
	out := make([]string, 0, len(els))
	for _, e := range els {
		a, _ := netip.AddrFromSlice(e.Key)
		s := a.String()
		if e.Expires > 0 {
			s += fmt.Sprintf(" expires %s", e.Expires.Round(1e9))
		}
		out = append(out, s)
	}
	return out
}

func maxAddr(a netip.Addr) netip.Addr {
	b := a.AsSlice()
	for i := range b {
		b[i] = 0xff
	}
	m, _ := netip.AddrFromSlice(b)
	return m
}

func rangeString(lo, hi netip.Addr) string {
	if lo == hi {
		return lo.String()
	}
	for bits := 0; bits <= lo.BitLen(); bits++ {
		p := netip.PrefixFrom(lo, bits).Masked()
		if p.Addr() == lo {
			if lastAddr(p) == hi {
				return p.String()
			}
		}
	}
	return lo.String() + "-" + hi.String()
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := range b {
		for k := 0; k < 8; k++ {
			if i*8+k >= p.Bits() {
				b[i] |= 0x80 >> k
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func renderRule(ex []expr.Any) string {
	var parts []string
	lhs := ""
	var mask uint32
	icmp := "icmpv6"
	for _, e := range ex {
		switch v := e.(type) {
		case *expr.Meta:
			lhs = map[expr.MetaKey]string{expr.MetaKeyOIFNAME: "oifname", expr.MetaKeyIIFNAME: "iifname",
				expr.MetaKeyNFPROTO: "meta nfproto", expr.MetaKeyL4PROTO: "meta l4proto"}[v.Key]
			if lhs == "" {
				lhs = fmt.Sprintf("meta key %d", v.Key)
			}
		case *expr.Payload:
			switch {
			case v.Base == expr.PayloadBaseNetworkHeader && v.Offset == 16 && v.Len == 4:
				lhs = "ip daddr"
			case v.Base == expr.PayloadBaseNetworkHeader && v.Offset == 24 && v.Len == 16:
				lhs = "ip6 daddr"
			case v.Base == expr.PayloadBaseTransportHeader && v.Offset == 2 && v.Len == 2:
				lhs = "th dport"
			case v.Base == expr.PayloadBaseTransportHeader && v.Offset == 0 && v.Len == 1:
				lhs = icmp + " type"
			default:
				lhs = fmt.Sprintf("@%d,%d,%d", v.Base, v.Offset*8, v.Len*8)
			}
		case *expr.Ct:
			lhs = "ct state"
		case *expr.Bitwise:
			mask = binary.NativeEndian.Uint32(pad4(v.Mask))
		case *expr.Cmp:
			if lhs == "ct state" {
				parts = append(parts, "ct state "+ctNames(mask))
				continue
			}
			op := ""
			if v.Op == expr.CmpOpNeq {
				op = "!= "
			}
			if lhs == "meta l4proto" && len(v.Data) == 1 && v.Data[0] == unix.IPPROTO_ICMP {
				icmp = "icmp"
			}
			parts = append(parts, lhs+" "+op+value(lhs, v.Data))
		case *expr.Range:
			parts = append(parts, fmt.Sprintf("%s %d-%d", lhs, v.FromData[0], v.ToData[0]))
		case *expr.Lookup:
			parts = append(parts, lhs+" @"+v.SetName)
		case *expr.Limit:
			over := ""
			if v.Over {
				over = "over "
			}
			parts = append(parts, fmt.Sprintf("limit rate %s%d/second burst %d packets", over, v.Rate, v.Burst))
		case *expr.Counter:
			parts = append(parts, fmt.Sprintf("counter packets %d bytes %d", v.Packets, v.Bytes))
		case *expr.Log:
			parts = append(parts, fmt.Sprintf("log prefix %q group %d", strings.TrimRight(string(v.Data), "\x00"), v.Group))
		case *expr.Reject:
			if v.Type == unix.NFT_REJECT_TCP_RST {
				parts = append(parts, "reject with tcp reset")
			} else {
				parts = append(parts, "reject with icmpx admin-prohibited")
			}
		case *expr.Verdict:
			switch v.Kind {
			case expr.VerdictAccept:
				parts = append(parts, "accept")
			case expr.VerdictDrop:
				parts = append(parts, "drop")
			case expr.VerdictJump:
				parts = append(parts, "jump "+v.Chain)
			case expr.VerdictGoto:
				parts = append(parts, "goto "+v.Chain)
			default:
				parts = append(parts, fmt.Sprintf("verdict %d", v.Kind))
			}
		default:
			parts = append(parts, fmt.Sprintf("<%T>", e))
		}
	}
	return strings.Join(parts, " ")
}

func pad4(b []byte) []byte {
	out := make([]byte, 4)
	copy(out, b)
	return out
}

func ctNames(m uint32) string {
	var n []string
	for _, x := range []struct {
		bit  uint32
		name string
	}{{expr.CtStateBitESTABLISHED, "established"}, {expr.CtStateBitRELATED, "related"}, {expr.CtStateBitNEW, "new"}, {expr.CtStateBitINVALID, "invalid"}} {
		if m&x.bit != 0 {
			n = append(n, x.name)
		}
	}
	return strings.Join(n, ",")
}

func value(lhs string, d []byte) string {
	switch lhs {
	case "oifname", "iifname":
		return fmt.Sprintf("%q", strings.TrimRight(string(d), "\x00"))
	case "meta nfproto":
		if len(d) == 1 && d[0] == unix.NFPROTO_IPV6 {
			return "ipv6"
		}
		return "ipv4"
	case "meta l4proto":
		switch d[0] {
		case unix.IPPROTO_TCP:
			return "tcp"
		case unix.IPPROTO_UDP:
			return "udp"
		case unix.IPPROTO_ICMPV6:
			return "ipv6-icmp"
		case unix.IPPROTO_ICMP:
			return "icmp"
		}
		return fmt.Sprint(d[0])
	case "ip daddr", "ip6 daddr":
		a, _ := netip.AddrFromSlice(d)
		return a.String()
	case "th dport":
		return fmt.Sprint(binary.BigEndian.Uint16(d))
	case "icmp type", "icmpv6 type":
		return fmt.Sprint(d[0])
	}
	return fmt.Sprintf("0x%x", d)
}
