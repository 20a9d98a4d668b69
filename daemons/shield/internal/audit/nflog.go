package audit

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

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

// drainWindow bounds how long stop still reads the copies the kernel
// queued before it: a task that is refused and exits at once is disarmed
// within milliseconds of its last blocked packet, whose copy is queued on
// the socket by then (queue threshold 1) but may not have been read yet.
const drainWindow = 20 * time.Millisecond

// Watch reads NFLOG group copies inside namespace nsFd and calls fn for
// each, until ctx ends or the returned stop is called. It returns once the
// group is bound, so no packet logged after Watch returns is missed. The
// kernel hands over each copy as it is logged (queue threshold 1; the
// rules limit copies to a few a second), and stop reads what is queued
// before it closes the socket: it returns after fn's last call, within
// drainWindow (at most a second when fn is slow). fn must not wait for
// anything the caller of stop holds.
func Watch(ctx context.Context, nsFd int, group uint16, fn func(Packet), errfn func(error)) (func(), error) {
	nf, err := nflog.Open(&nflog.Config{Group: group, Copymode: nflog.CopyPacket, Bufsize: 128, NetNS: nsFd,
		QThresh: 1, Timeout: 5})
	if err != nil {
		return nil, fmt.Errorf("open nflog group %d: %w", group, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var draining atomic.Bool
	drained := make(chan struct{})
	var drainedOnce sync.Once
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
		if draining.Load() {
			// The drain's deadline: everything queued has been read.
			drainedOnce.Do(func() { close(drained) })
			return 1
		}
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
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			draining.Store(true)
			_ = nf.Con.SetReadDeadline(time.Now().Add(drainWindow))
			select {
			case <-drained:
			case <-time.After(time.Second):
			}
			cancel()
			nf.Close()
		})
	}
	return stop, nil
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
