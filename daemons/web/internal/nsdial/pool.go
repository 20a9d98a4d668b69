package nsdial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
)

// Target is where connections for one name go: the namespaces of PID
// (checked with Verify once they are open), port Port on their loopback.
// Key names the container: a new Key (the task's next run) starts a new
// relay.
type Target struct {
	Key    string
	PID    int
	Port   int
	Verify func(context.Context) error
}

// Resolver finds a name's Target (for terok-web: a task's container).
type Resolver func(ctx context.Context, name string) (Target, error)

// Pool keeps one relay per name, started at its first dial and ended by
// Forget. It is safe for concurrent use.
type Pool struct {
	resolve Resolver
	o       Options

	mu     sync.Mutex
	relays map[string]*entry
	closed bool
}

type entry struct {
	mu     sync.Mutex // held while the relay starts
	relay  *Relay
	target Target
}

// NewPool returns a pool that finds targets with resolve and starts
// relays with o.
func NewPool(resolve Resolver, o Options) *Pool {
	return &Pool{resolve: resolve, o: o, relays: map[string]*entry{}}
}

// Dial connects to name's target. A relay that has gone (the container
// ran again, or the relay died) is replaced once.
func (p *Pool) Dial(ctx context.Context, name string) (net.Conn, error) {
	for attempt := 0; attempt < 2; attempt++ {
		r, port, err := p.relay(ctx, name, attempt > 0)
		if err != nil {
			return nil, err
		}
		c, err := r.Dial(ctx, port)
		if err == nil || !errors.Is(err, ErrClosed) {
			return c, err
		}
	}
	return nil, fmt.Errorf("%w: the relay for %s ended twice", ErrClosed, name)
}

// relay returns name's live relay, starting one when there is none (or
// fresh asks for a new one).
func (p *Pool) relay(ctx context.Context, name string, fresh bool) (*Relay, int, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, 0, ErrClosed
	}
	e, ok := p.relays[name]
	if !ok {
		e = &entry{}
		p.relays[name] = e
	}
	p.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.relay != nil && e.relay.Alive() && !fresh {
		return e.relay, e.target.Port, nil
	}
	if e.relay != nil {
		e.relay.Close()
		e.relay = nil
	}
	t, err := p.resolve(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	r, err := Start(ctx, t.PID, t.Verify, p.o)
	if err != nil {
		return nil, 0, err
	}
	p.mu.Lock()
	if p.closed || p.relays[name] != e {
		p.mu.Unlock()
		r.Close()
		return nil, 0, ErrClosed
	}
	p.mu.Unlock()
	e.relay, e.target = r, t
	return r, t.Port, nil
}

// Forget ends name's relay (its task ended).
func (p *Pool) Forget(name string) {
	p.mu.Lock()
	e, ok := p.relays[name]
	delete(p.relays, name)
	p.mu.Unlock()
	if ok {
		e.mu.Lock()
		if e.relay != nil {
			e.relay.Close()
			e.relay = nil
		}
		e.mu.Unlock()
	}
}

// Close ends every relay; later dials fail with ErrClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	names := make([]string, 0, len(p.relays))
	for n := range p.relays {
		names = append(names, n)
	}
	p.mu.Unlock()
	for _, n := range names {
		p.Forget(n)
	}
}

// Relays reports how many relays run (for tests and health).
func (p *Pool) Relays() int {
	p.mu.Lock()
	es := make([]*entry, 0, len(p.relays))
	for _, e := range p.relays {
		es = append(es, e)
	}
	p.mu.Unlock()
	n := 0
	for _, e := range es {
		e.mu.Lock()
		if e.relay != nil && e.relay.Alive() {
			n++
		}
		e.mu.Unlock()
	}
	return n
}
