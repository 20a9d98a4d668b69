package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

// LimitOptions tune a Limiter: each failed login takes one of Burst
// tries, and a try comes back every Every.
type LimitOptions struct {
	PerAddrBurst int           // tries one address has (default 10)
	PerAddrEvery time.Duration // one try back per address (default 6 s: 10 a minute)
	GlobalBurst  int           // tries all addresses together have (default 60)
	GlobalEvery  time.Duration // one try back overall (default 1 s: 60 a minute)
	MaxAddrs     int           // addresses remembered (default 4096)
	Now          func() time.Time
}

// Limiter rate-limits failed logins per client address and overall, in
// bounded memory. A nil *Limiter limits nothing. It is safe for
// concurrent use.
type Limiter struct {
	o      LimitOptions
	failed atomic.Bool // no failure yet: Check takes no lock

	mu     sync.Mutex
	addrs  map[string]*bucket
	global bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter with o's limits (zero fields: defaults).
func NewLimiter(o LimitOptions) *Limiter {
	if o.PerAddrBurst <= 0 {
		o.PerAddrBurst = 10
	}
	if o.PerAddrEvery <= 0 {
		o.PerAddrEvery = 6 * time.Second
	}
	if o.GlobalBurst <= 0 {
		o.GlobalBurst = 60
	}
	if o.GlobalEvery <= 0 {
		o.GlobalEvery = time.Second
	}
	if o.MaxAddrs <= 0 {
		o.MaxAddrs = 4096
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Limiter{o: o, addrs: map[string]*bucket{}, global: bucket{tokens: float64(o.GlobalBurst), at: o.Now()}}
}

// refill brings b up to now and returns it.
func refill(b *bucket, now time.Time, burst int, every time.Duration) {
	if now.After(b.at) {
		b.tokens += float64(now.Sub(b.at)) / float64(every)
		if b.tokens > float64(burst) {
			b.tokens = float64(burst)
		}
	}
	b.at = now
}

// wait is how long until b has a whole try again.
func wait(b *bucket, every time.Duration) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(every))
}

// Check returns a *LimitedError when addr (or everyone) has no try left.
func (l *Limiter) Check(addr string) error {
	if l == nil || !l.failed.Load() {
		return nil
	}
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	refill(&l.global, now, l.o.GlobalBurst, l.o.GlobalEvery)
	if b, ok := l.addrs[addr]; ok {
		refill(b, now, l.o.PerAddrBurst, l.o.PerAddrEvery)
		if d := wait(b, l.o.PerAddrEvery); d > 0 {
			return &LimitedError{Retry: d}
		}
	}
	if d := wait(&l.global, l.o.GlobalEvery); d > 0 {
		return &LimitedError{Retry: d, Global: true}
	}
	return nil
}

// Fail takes one try from addr and one from everyone.
func (l *Limiter) Fail(addr string) {
	if l == nil {
		return
	}
	l.failed.Store(true)
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	refill(&l.global, now, l.o.GlobalBurst, l.o.GlobalEvery)
	l.global.tokens = max(l.global.tokens-1, 0)
	b, ok := l.addrs[addr]
	if !ok {
		if len(l.addrs) >= l.o.MaxAddrs {
			l.forgetLocked(now)
		}
		b = &bucket{tokens: float64(l.o.PerAddrBurst), at: now}
		l.addrs[addr] = b
	}
	refill(b, now, l.o.PerAddrBurst, l.o.PerAddrEvery)
	b.tokens = max(b.tokens-1, 0)
}

// forgetLocked makes room: first every address whose tries are all back,
// then, if none is, the one that failed longest ago.
func (l *Limiter) forgetLocked(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for a, b := range l.addrs {
		refill(b, now, l.o.PerAddrBurst, l.o.PerAddrEvery)
		if b.tokens >= float64(l.o.PerAddrBurst) {
			delete(l.addrs, a)
			continue
		}
		if oldest == "" || b.at.Before(oldestAt) {
			oldest, oldestAt = a, b.at
		}
	}
	if len(l.addrs) >= l.o.MaxAddrs && oldest != "" {
		delete(l.addrs, oldest)
	}
}

// Addrs is how many addresses are remembered.
func (l *Limiter) Addrs() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}
