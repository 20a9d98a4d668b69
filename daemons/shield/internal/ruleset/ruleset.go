package ruleset

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
)

// TableName is the inet table the shield owns in every armed namespace.
const TableName = "terok_shield"

// Log prefixes of the NFLOG copies; the audit reader keys on them.
const (
	PrefixBlocked    = "tks-blocked"
	PrefixConnection = "tks-conn"
)

// EchoRate and EchoBurst bound ICMP echo requests (ping) per second from a
// task, to allowed addresses only; echo beyond them is refused.
const (
	EchoRate  = 5
	EchoBurst = 10
)

// Mode mirrors shieldapi.Mode without importing the wire package.
type Mode string

// Shield states.
const (
	ModeUp    Mode = "up"
	ModeDown  Mode = "down"
	ModeBlock Mode = "block"
	// ModeOpen is the minimal ruleset of a task without the shield: every
	// destination but the host side (HostSide), endpoints excepted.
	ModeOpen Mode = "open"
)

// Endpoint is one address+protocol+port always let through (the gate, the
// web UI's task endpoint, the container's resolver).
type Endpoint struct {
	Addr  netip.Addr
	Proto string // "tcp" or "udp"
	Port  uint16
}

// Spec is everything one namespace's table is built from.
type Spec struct {
	Mode      Mode
	Endpoints []Endpoint
	Allow     []iprange.Range // merged, private ranges already cut unless explicit
	Deny      []iprange.Range // merged
	Inbound   []uint16        // TCP ports accepted inbound (published task ports)
	LogGroup  uint16
	// Answers are single addresses the task's resolver handed out, each
	// with the expiry of its answer (TTL + grace); they go to the
	// dns4/dns6 sets with a kernel timeout.
	Answers []iprange.Range
	// TaskResolver refuses port 53 and 853 to every address: the task's
	// only resolver is the one on its loopback (ResolverAddr).
	TaskResolver bool
	// Receipts logs each new allowed connection (rate-limited) to the audit.
	Receipts bool
	// HostSide are the ranges where the host's own listeners answer (the
	// container network's gateway and resolver: slirp4netns' 10.0.2.0/24,
	// pasta's 169.254.1.x): ModeOpen refuses them, endpoints excepted.
	HostSide []iprange.Range
}

func table() *nftables.Table {
	return &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
}

func set(name string, v6 bool) *nftables.Set {
	kt := nftables.TypeIPAddr
	if v6 {
		kt = nftables.TypeIP6Addr
	}
	if name == DNS4 || name == DNS6 {
		// Single addresses from DNS answers: a hash set with timeouts, so an
		// answer never overlaps an interval of the allow sets.
		return &nftables.Set{Table: table(), Name: name, KeyType: kt, HasTimeout: true}
	}
	return &nftables.Set{Table: table(), Name: name, KeyType: kt, Interval: true, HasTimeout: true}
}

// destChain holds the destination checks; the output chain jumps to it
// for TCP, UDP and (rate-limited) ICMP echo only.
const destChain = "dest"

// refuseChain counts, logs and rejects what the output chain refuses.
// (Not "reject": that is an nft keyword, and the table should load with nft -f too.)
const refuseChain = "refuse"

// Set names.
const (
	Allow4 = "allow4"
	Allow6 = "allow6"
	Deny4  = "deny4"
	Deny6  = "deny6"
	Priv4  = "private4"
	Priv6  = "private6"
	DNS4   = "dns4" // addresses from the task resolver's answers
	DNS6   = "dns6"
	Host4  = "host4" // ModeOpen: the host side (Spec.HostSide)
	Host6  = "host6"
)

// AnswerElements turns single addresses with expiries into hash set
// elements with kernel timeouts; lapsed ones are skipped.
func AnswerElements(rs []iprange.Range, now time.Time) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(rs))
	for _, r := range rs {
		to := r.Expires.Sub(now)
		if r.Expires.IsZero() || to < time.Second {
			continue
		}
		out = append(out, nftables.SetElement{Key: r.Lo.AsSlice(), Timeout: to.Truncate(time.Millisecond)})
	}
	return out
}

// Elements turns merged ranges into interval set elements: a start key and
// an interval-end key one past the last address (none at the top of the
// address space). now sets the timeout of expiring ranges; ranges that
// already lapsed are skipped.
func Elements(rs []iprange.Range, now time.Time) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, 2*len(rs))
	for _, r := range rs {
		var to time.Duration
		if !r.Expires.IsZero() {
			to = r.Expires.Sub(now)
			if to < time.Second {
				continue
			}
			to = to.Truncate(time.Millisecond)
		}
		out = append(out, nftables.SetElement{Key: r.Lo.AsSlice(), Timeout: to})
		if end := r.Hi.Next(); end.IsValid() {
			// The kernel refuses a timeout on an interval end; the start
			// element's timeout lapses the whole interval.
			out = append(out, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
	}
	return out
}

// Build queues the whole table into c: a create+delete+create of the table,
// so the batch replaces whatever was there in one transaction. The caller
// flushes. The table carries no owner flag: it must outlive the netlink
// socket that made it.
func Build(c *nftables.Conn, s Spec, now time.Time) error {
	return build(c, s, now, true)
}

// build queues the table; replace adds the create+delete pair that makes
// the batch replace an existing table. A namespace that has none skips it:
// tearing down base chains waits for an RCU grace period in the kernel.
func build(c *nftables.Conn, s Spec, now time.Time, replace bool) error {
	t := table()
	if replace {
		c.AddTable(t)
		c.DelTable(t)
	}
	c.AddTable(t)

	a4, a6 := iprange.Split(s.Allow)
	d4, d6 := iprange.Split(s.Deny)
	p4, p6 := iprange.Split(iprange.Private())
	n4, n6 := iprange.Split(s.Answers)
	sets := map[string]*nftables.Set{}
	for _, x := range []struct {
		name string
		v6   bool
		rs   []iprange.Range
	}{{DNS4, false, n4}, {DNS6, true, n6}} {
		st := set(x.name, x.v6)
		if err := c.AddSet(st, nil); err != nil {
			return fmt.Errorf("add set %s: %w", x.name, err)
		}
		if err := addElements(c, st, AnswerElements(x.rs, now)); err != nil {
			return err
		}
		sets[x.name] = st
	}
	for _, x := range []struct {
		name string
		v6   bool
		rs   []iprange.Range
	}{{Allow4, false, a4}, {Allow6, true, a6}, {Deny4, false, d4}, {Deny6, true, d6}, {Priv4, false, p4}, {Priv6, true, p6}} {
		st := set(x.name, x.v6)
		if err := c.AddSet(st, nil); err != nil {
			return fmt.Errorf("add set %s: %w", x.name, err)
		}
		if err := addElements(c, st, Elements(x.rs, now)); err != nil {
			return err
		}
		sets[x.name] = st
	}

	if s.Mode == ModeOpen {
		h4, h6 := iprange.Split(s.HostSide)
		for _, x := range []struct {
			name string
			v6   bool
			rs   []iprange.Range
		}{{Host4, false, h4}, {Host6, true, h6}} {
			st := set(x.name, x.v6)
			if err := c.AddSet(st, nil); err != nil {
				return fmt.Errorf("add set %s: %w", x.name, err)
			}
			if err := addElements(c, st, Elements(x.rs, now)); err != nil {
				return err
			}
			sets[x.name] = st
		}
	}

	reject := c.AddChain(&nftables.Chain{Name: refuseChain, Table: t})
	dest := c.AddChain(&nftables.Chain{Name: destChain, Table: t})
	out := c.AddChain(&nftables.Chain{
		Name: "output", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter,
	})
	inPolicy := nftables.ChainPolicyDrop
	in := c.AddChain(&nftables.Chain{
		Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &inPolicy,
	})

	rule := func(ch *nftables.Chain, parts ...any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: cat(parts...)})
	}

	// refuse: count, copy to NFLOG, then fail fast.
	// The copy to the audit is rate-limited in its own rule, so a flood can
	// neither fill the disk nor skip the reject that follows.
	rule(reject, &expr.Counter{})
	rule(reject, logLimit(), logTo(s.LogGroup, PrefixBlocked))
	rule(reject, l4(unix.IPPROTO_TCP), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	rule(reject, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED})

	// output
	rule(out, ifname(expr.MetaKeyOIFNAME, "lo"), accept())
	switch s.Mode {
	case ModeBlock:
		rule(out, &expr.Counter{}, drop())
	case ModeOpen:
		// A task without the shield: the outside is open, the host side
		// (where the host's loopback listeners answer) only at endpoints.
		rule(out, ctEstablished(), accept())
		rule(out, icmp6ND(), accept())
		for _, e := range s.Endpoints {
			rule(out, endpoint(e), accept())
		}
		rule(out, lookup(false, sets[Deny4]), jump(refuseChain))
		rule(out, lookup(true, sets[Deny6]), jump(refuseChain))
		rule(out, lookup(false, sets[Host4]), jump(refuseChain))
		rule(out, lookup(true, sets[Host6]), jump(refuseChain))
	default:
		// Ping beyond the rate is refused, also within a running ping
		// (whose later echoes conntrack sees as established).
		rule(out, echoRequest(false), echoOver(), jump(refuseChain))
		rule(out, echoRequest(true), echoOver(), jump(refuseChain))
		rule(out, ctEstablished(), accept())
		rule(out, icmp6ND(), accept())
		for _, e := range s.Endpoints {
			rule(out, endpoint(e), accept())
		}
		if s.TaskResolver {
			// DNS and DNS over TLS go only to the task's own resolver (on lo).
			for _, p := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
				rule(out, l4(p), dport(53), jump(refuseChain))
				rule(out, l4(p), dport(853), jump(refuseChain))
			}
		}
		rule(out, lookup(false, sets[Deny4]), jump(refuseChain))
		rule(out, lookup(true, sets[Deny6]), jump(refuseChain))
		// Only TCP, UDP and ICMP echo reach the destination checks.
		rule(out, l4(unix.IPPROTO_TCP), jump(destChain))
		rule(out, l4(unix.IPPROTO_UDP), jump(destChain))
		rule(out, echoRequest(false), jump(destChain))
		rule(out, echoRequest(true), jump(destChain))
		rule(out, jump(refuseChain))

		// dest: allowed destinations accept (with a receipt of each new
		// connection when asked); anything else returns to the refusal.
		var receipt []any
		if s.Receipts || s.Mode == ModeDown {
			receipt = []any{ctNew(), logLimit(), logTo(s.LogGroup, PrefixConnection)}
		}
		for _, x := range []struct {
			v6 bool
			st string
		}{{false, Allow4}, {true, Allow6}, {false, DNS4}, {true, DNS6}} {
			if len(receipt) > 0 {
				rule(dest, append([]any{lookup(x.v6, sets[x.st])}, receipt...)...)
			}
			rule(dest, lookup(x.v6, sets[x.st]), accept())
		}
		if s.Mode == ModeDown {
			rule(dest, lookup(false, sets[Priv4]), jump(refuseChain))
			rule(dest, lookup(true, sets[Priv6]), jump(refuseChain))
			rule(dest, receipt...)
			rule(dest, accept())
		}
	}

	// input
	rule(in, ifname(expr.MetaKeyIIFNAME, "lo"), accept())
	if s.Mode == ModeOpen {
		// Only egress is guarded: inbound reaches the task only through
		// the ports Podman publishes.
		rule(in, accept())
	} else if s.Mode != ModeBlock {
		rule(in, ctEstablished(), accept())
		rule(in, icmp6ND(), accept())
		for _, p := range s.Inbound {
			rule(in, l4(unix.IPPROTO_TCP), dport(p), accept())
		}
	}
	return nil
}

// echoRequest matches an ICMP (or ICMPv6) echo request.
func echoRequest(v6 bool) []expr.Any {
	proto, typ := byte(unix.IPPROTO_ICMP), byte(8)
	if v6 {
		proto, typ = unix.IPPROTO_ICMPV6, 128
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
	}
}

// echoOver matches once echo requests exceed EchoRate/EchoBurst.
func echoOver() expr.Any {
	return &expr.Limit{Type: expr.LimitTypePkts, Rate: EchoRate, Unit: expr.LimitTimeSecond, Burst: EchoBurst, Over: true}
}

// UpdateSet queues the element changes that turn old into new in the named
// set: deletions first, then additions, in the caller's batch.
func UpdateSet(c *nftables.Conn, name string, old, new []iprange.Range, now time.Time) error {
	del, add := iprange.Diff(old, new)
	st := set(name, name == Allow6 || name == Deny6)
	if len(del) > 0 {
		// Deleting needs the same keys without timeouts.
		els := Elements(stripExpiry(del), now)
		for len(els) > 0 {
			n := min(len(els), chunk)
			if err := c.SetDeleteElements(st, els[:n]); err != nil {
				return fmt.Errorf("delete from set %s: %w", name, err)
			}
			els = els[n:]
		}
	}
	if len(add) > 0 {
		if err := addElements(c, st, Elements(add, now)); err != nil {
			return err
		}
	}
	return nil
}

// chunk bounds the elements per netlink message; one message must fit
// the socket buffer, the batch around them stays one transaction.
const chunk = 1024

func addElements(c *nftables.Conn, st *nftables.Set, els []nftables.SetElement) error {
	for len(els) > 0 {
		n := min(len(els), chunk)
		// Never split an interval's start from its end.
		if n < len(els) && els[n].IntervalEnd {
			n++
		}
		if err := c.SetAddElements(st, els[:n]); err != nil {
			return fmt.Errorf("add to set %s: %w", st.Name, err)
		}
		els = els[n:]
	}
	return nil
}

func stripExpiry(rs []iprange.Range) []iprange.Range {
	out := make([]iprange.Range, len(rs))
	for i, r := range rs {
		out[i] = iprange.Range{Lo: r.Lo, Hi: r.Hi}
	}
	return out
}

func accept() expr.Any { return &expr.Verdict{Kind: expr.VerdictAccept} }
func drop() expr.Any   { return &expr.Verdict{Kind: expr.VerdictDrop} }
func jump(ch string) expr.Any {
	return &expr.Verdict{Kind: expr.VerdictJump, Chain: ch}
}

// logLimit caps audit copies at 20 packets a second (bursts of 50).
func logLimit() expr.Any {
	return &expr.Limit{Type: expr.LimitTypePkts, Rate: 20, Unit: expr.LimitTimeSecond, Burst: 50}
}

func logTo(group uint16, prefix string) expr.Any {
	return &expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: group, Data: []byte(prefix)}
}

func ifname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, 16)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

func ctEstablished() []expr.Any {
	return ctState(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED)
}

func ctNew() []expr.Any { return ctState(expr.CtStateBitNEW) }

func l4(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

// cat flattens expressions and expression lists into one rule body.
func cat(parts ...any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		switch v := p.(type) {
		case expr.Any:
			out = append(out, v)
		case []expr.Any:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("ruleset: cannot use %T in a rule", p))
		}
	}
	return out
}

func nfproto(v6 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func daddr(v6 bool) expr.Any {
	if v6 {
		return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16}
	}
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
}

func lookup(v6 bool, s *nftables.Set) []expr.Any {
	return cat(nfproto(v6), daddr(v6), &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID})
}

func dport(p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p)},
	}
}

func endpoint(e Endpoint) []expr.Any {
	v6 := e.Addr.Is6()
	proto := byte(unix.IPPROTO_TCP)
	if e.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	return cat(nfproto(v6), daddr(v6), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: e.Addr.AsSlice()}, l4(proto), dport(e.Port))
}

func icmp6ND() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		// 130-143: multicast listener queries/reports (MLD) and neighbour discovery.
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{130}, ToData: []byte{143}},
	}
}
