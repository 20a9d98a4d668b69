package audit

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/florianl/go-nflog/v2"
	"golang.org/x/sys/unix"
)

// Packet is what the audit keeps of one logged packet.
type Packet struct {
	Prefix string
	Dest   netip.Addr
	Port   uint16
	Proto  string
}

// Watch reads NFLOG group copies inside namespace nsFd and calls fn for
// each, until ctx ends. It returns once the group is bound, so no packet
// logged after Watch returns is missed.
func Watch(ctx context.Context, nsFd int, group uint16, fn func(Packet), errfn func(error)) (func(), error) {
	nf, err := nflog.Open(&nflog.Config{Group: group, Copymode: nflog.CopyPacket, Bufsize: 128, NetNS: nsFd,
		Timeout: 5}) // flush copies to us within 50 ms
	if err != nil {
		return nil, fmt.Errorf("open nflog group %d: %w", group, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	hook := func(a nflog.Attribute) int {
		if a.Payload == nil {
			return 0
		}
		p, ok := ParsePacket(*a.Payload)
		if !ok {
			return 0
		}
		if a.Prefix != nil {
			p.Prefix = *a.Prefix
		}
		fn(p)
		return 0
	}
	onErr := func(e error) int {
		if ctx.Err() != nil {
			return 1
		}
		errfn(e)
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, hook, onErr); err != nil {
		cancel()
		nf.Close()
		return nil, fmt.Errorf("bind nflog group %d: %w", group, err)
	}
	return func() { cancel(); nf.Close() }, nil
}

// ParsePacket reads destination, protocol and port from an IPv4 or IPv6
// packet.
func ParsePacket(b []byte) (Packet, bool) {
	if len(b) < 1 {
		return Packet{}, false
	}
	var p Packet
	var proto byte
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return Packet{}, false
		}
		ihl := int(b[0]&0x0f) * 4
		proto = b[9]
		p.Dest = netip.AddrFrom4([4]byte(b[16:20]))
		if len(b) >= ihl {
			l4 = b[ihl:]
		}
	case 6:
		if len(b) < 40 {
			return Packet{}, false
		}
		proto = b[6]
		p.Dest = netip.AddrFrom16([16]byte(b[24:40]))
		l4 = b[40:]
	default:
		return Packet{}, false
	}
	switch proto {
	case unix.IPPROTO_TCP:
		p.Proto = "tcp"
	case unix.IPPROTO_UDP:
		p.Proto = "udp"
	case unix.IPPROTO_ICMP:
		p.Proto = "icmp"
	case unix.IPPROTO_ICMPV6:
		p.Proto = "icmpv6"
	default:
		p.Proto = fmt.Sprint(proto)
	}
	if (p.Proto == "tcp" || p.Proto == "udp") && len(l4) >= 4 {
		p.Port = binary.BigEndian.Uint16(l4[2:4])
	}
	return p, true
}
