package taskdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/netutil"
	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/resolve"
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
	// it is handed back, and via: the other names the answer passes
	// through (owners and targets of its CNAME and DNAME records, lower
	// case, no trailing dot). An error withholds the answer: ErrRefused
	// makes it REFUSED, anything else SERVFAIL.
	Answered(name string, qtype uint16, addrs []Addr, via []string) error
	// Refused records a refused query.
	Refused(name string, qtype uint16)
	// Dropped records queries the resolver dropped unanswered since the
	// last call (the task asked faster than its limits); called at most
	// once a second.
	Dropped(n uint64)
}

// Limits bound one task's resolver, so one task cannot starve the daemon
// that serves every task.
type Limits struct {
	// Rate and Burst: queries a second (a token bucket), UDP and TCP
	// together. A query beyond them waits in the socket's buffer.
	Rate, Burst int
	// Workers: UDP queries handled at once, and TCP connections open at
	// once (each serves its queries one after another).
	Workers int
	// Buffer is the UDP socket's receive buffer in bytes: what waits
	// beyond the workers. When it is full the kernel drops the query and
	// counts it; the count reaches Policy.Dropped.
	Buffer int
}

// DefaultLimits are the limits of a resolver started without any.
var DefaultLimits = Limits{Rate: 500, Burst: 250, Workers: 16, Buffer: 64 << 10}

// Server is one task's resolver.
type Server struct {
	upstream string
	timeout  time.Duration
	policy   atomic.Pointer[Policy]
	lim      Limits

	pc     *net.UDPConn
	src    []byte // IP_PKTINFO with the resolver's address: the source of every UDP answer
	tcp    *dns.Server
	bucket *bucket
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	tcpDropped atomic.Uint64 // TCP queries that waited too long for a token
	reported   uint64        // drops already handed to the policy (reporter goroutine only)
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
	Limits   Limits        // zero fields take DefaultLimits'
}

// Start opens UDP and TCP sockets on o.Addr port 53 inside ns and serves
// until Close. The sockets use IP_FREEBIND, so they bind even before the
// namespace's loopback is up.
func Start(ns *netns.NS, o Options, p Policy) (*Server, error) {
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Second
	}
	lim := o.Limits
	def := DefaultLimits
	for _, f := range []struct{ v, d *int }{{&lim.Rate, &def.Rate}, {&lim.Burst, &def.Burst}, {&lim.Workers, &def.Workers}, {&lim.Buffer, &def.Buffer}} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	s := &Server{upstream: o.Upstream, timeout: o.Timeout, lim: lim, done: make(chan struct{}),
		bucket: newBucket(float64(lim.Rate), float64(lim.Burst))}
	s.SetPolicy(p)
	addr := net.JoinHostPort(o.Addr, "53")
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		return sockopts(network, c, lim.Buffer)
	}}
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
	s.pc = pc.(*net.UDPConn)
	// Answers leave from the resolver's own address, set on each one: a
	// socket bound (with IP_FREEBIND) while the namespace's loopback was
	// still down would otherwise answer from 127.0.0.1, which the asking
	// stub ignores.
	if a, err := netip.ParseAddr(o.Addr); err == nil && a.Is4() {
		s.src = (&ipv4.ControlMessage{Src: a.AsSlice()}).Marshal()
	}
	// TCP: at most Workers connections at once; more wait in the
	// listener's backlog (the kernel's, not ours).
	srv := &dns.Server{Listener: netutil.LimitListener(ln, lim.Workers), Handler: dns.HandlerFunc(s.serveTCP), ReadTimeout: 5 * time.Second}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		pc.Close()
		ln.Close()
		return nil, fmt.Errorf("serve task resolver: %w", err)
	}
	s.tcp = srv
	for i := 0; i < lim.Workers; i++ {
		s.wg.Add(1)
		go s.udpWorker()
	}
	s.wg.Add(1)
	go s.reporter()
	return s, nil
}

// sockopts sets IP_FREEBIND on both sockets and the UDP socket's small
// receive buffer (the bounded queue) and drop counter.
func sockopts(network string, c syscall.RawConn, buffer int) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		if serr == nil && strings.HasPrefix(network, "udp") {
			// SO_RCVBUFFORCE: exactly this size, also below the
			// system's minimum default (the daemon is root).
			if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, buffer); err != nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, buffer)
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

// Close stops serving and closes the sockets; it returns once every
// worker has ended.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		if s.tcp != nil {
			_ = s.tcp.Shutdown()
		}
		if s.pc != nil {
			s.pc.Close()
		}
		s.wg.Wait()
	})
}

// udpWorker takes a token, then one query from the socket, and answers it;
// Workers of them share the socket, so at most Workers queries are handled
// at once and the rest wait in the socket's buffer.
func (s *Server) udpWorker() {
	defer s.wg.Done()
	buf := make([]byte, 4096)
	for {
		if !s.bucket.wait(s.done, 0) {
			return
		}
		n, from, err := s.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-s.done:
				return
			default:
				continue
			}
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			continue // not DNS: nothing to answer
		}
		if resp := s.answer(r, false); resp != nil {
			if b, err := resp.Pack(); err == nil {
				_, _, _ = s.pc.WriteMsgUDPAddrPort(b, s.src, from)
			}
		}
	}
}

// tcpWait bounds how long a TCP query waits for a token before it is
// dropped (its connection stays open; the client times out or retries).
const tcpWait = 2 * time.Second

func (s *Server) serveTCP(w dns.ResponseWriter, r *dns.Msg) {
	if !s.bucket.wait(s.done, tcpWait) {
		s.tcpDropped.Add(1)
		return
	}
	if resp := s.answer(r, true); resp != nil {
		_ = w.WriteMsg(resp)
	}
}

// reporter hands new drops (the UDP socket's kernel counter and the TCP
// ones) to the policy, at most once a second and only when there are any.
func (s *Server) reporter() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if total := s.Dropped(); total > s.reported {
				s.pol().Dropped(total - s.reported)
				s.reported = total
			}
		}
	}
}

// Dropped is how many queries this resolver dropped unanswered so far:
// UDP queries the kernel dropped because the socket's buffer was full, and
// TCP queries that waited too long for a token.
func (s *Server) Dropped() uint64 {
	return udpDrops(s.pc) + s.tcpDropped.Load()
}

// udpDrops reads the socket's drop counter (SO_MEMINFO's SK_MEMINFO_DROPS).
func udpDrops(pc *net.UDPConn) uint64 {
	rc, err := pc.SyscallConn()
	if err != nil {
		return 0
	}
	var info [unix.SK_MEMINFO_VARS]uint32
	var got uint32
	_ = rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(info))
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&l)), 0)
		if errno == 0 && l >= (unix.SK_MEMINFO_DROPS+1)*4 {
			got = info[unix.SK_MEMINFO_DROPS]
		}
	})
	return uint64(got)
}

func reply(r *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	return m
}

// answer decides one query and returns the reply (nil: none).
func (s *Server) answer(r *dns.Msg, tcp bool) *dns.Msg {
	if r.Response {
		return nil // never answer an answer (no loops between resolvers)
	}
	if r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 {
		return reply(r, dns.RcodeNotImplemented)
	}
	q := r.Question[0]
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	p := s.pol()
	if p.Check(name) != Forward {
		p.Refused(name, q.Qtype)
		return reply(r, dns.RcodeRefused)
	}
	// Upstream over UDP; a truncated answer is asked again over TCP when
	// the task asked over TCP (a UDP asker gets the truncated answer and
	// retries over TCP itself, as resolvers do).
	resp, _, err := (&dns.Client{Timeout: s.timeout}).Exchange(r, s.upstream)
	if err == nil && resp.Truncated && tcp {
		resp, _, err = (&dns.Client{Net: "tcp", Timeout: s.timeout}).Exchange(r, s.upstream)
	}
	if err != nil {
		return reply(r, dns.RcodeServerFailure)
	}
	var addrs []Addr
	var via []string
	seen := map[string]bool{name: true}
	alias := func(n string) {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if !seen[n] {
			seen[n] = true
			via = append(via, n)
		}
	}
	for _, rr := range resp.Answer {
		alias(rr.Header().Name)
		switch v := rr.(type) {
		case *dns.CNAME:
			alias(v.Target)
		case *dns.DNAME:
			alias(v.Target)
		}
		if a, ok := resolve.AddrOf(rr); ok {
			addrs = append(addrs, Addr{IP: a, TTL: time.Duration(rr.Header().Ttl) * time.Second})
		}
	}
	if err := p.Answered(name, q.Qtype, addrs, via); err != nil {
		if errors.Is(err, ErrRefused) {
			return reply(r, dns.RcodeRefused)
		}
		return reply(r, dns.RcodeServerFailure)
	}
	resp.Id = r.Id
	return resp
}

// bucket is a token bucket shared by a resolver's workers.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate, burst float64) *bucket {
	return &bucket{rate: rate, burst: burst, tokens: burst}
}

// wait takes one token, sleeping until one is due; it gives up when done
// closes or (max > 0) the token is due later than max from now.
func (b *bucket) wait(done <-chan struct{}, max time.Duration) bool {
	b.mu.Lock()
	now := time.Now()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	var d time.Duration
	if b.tokens < 1 {
		d = time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		if max > 0 && d > max {
			b.mu.Unlock()
			return false
		}
	}
	// Taken now, even if due later: the next caller waits behind it.
	b.tokens--
	b.mu.Unlock()
	if d <= 0 {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-t.C:
		return true
	}
}
