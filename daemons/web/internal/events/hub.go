// Package events fans terok-web's events (task state changes, log lines,
// timeline entries, daemon states) out to subscribers such as the
// /api/v1/events WebSocket. A subscriber that cannot keep up is dropped
// (its channel closed) rather than slowing the publisher.
package events

import (
	"sync"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Hub is the fan-out point.
type Hub struct {
	mu   sync.Mutex
	subs map[*Sub]struct{}
}

// New returns an empty hub.
func New() *Hub { return &Hub{subs: map[*Sub]struct{}{}} }

// Sub is one subscription. Read events from C until it is closed: by
// Unsubscribe, or by the hub when C was full (the subscriber lagged and
// missed events).
type Sub struct {
	C chan webapi.Event

	mu     sync.Mutex // guards logs and closed, and sends on C
	logs   map[string]bool
	closed bool
}

// Subscribe adds a subscriber with a buffer of n events.
func (h *Hub) Subscribe(n int) *Sub {
	s := &Sub{C: make(chan webapi.Event, n), logs: map[string]bool{}}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Unsubscribe removes s and closes its channel (idempotent).
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
	s.mu.Lock()
	s.close()
	s.mu.Unlock()
}

// close closes C once; s.mu is held.
func (s *Sub) close() {
	if !s.closed {
		s.closed = true
		close(s.C)
	}
}

// WatchLogs makes s receive the log lines of the given tasks ("*": of
// every task) and queues ack on C in the same step, so ack comes before
// any line of those tasks. False when C is full or closed (the
// subscription is then of no use: drop it).
func (s *Sub) WatchLogs(ack webapi.Event, ids ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	for _, id := range ids {
		s.logs[id] = true
	}
	select {
	case s.C <- ack:
		return true
	default:
		return false
	}
}

// Publish sends e to every subscriber that wants it. Log events go only
// to subscribers watching that task. A subscriber whose buffer is full
// is dropped: its channel is closed.
func (h *Hub) Publish(e webapi.Event) {
	h.mu.Lock()
	subs := make([]*Sub, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		lagged := false
		if !s.closed && (e.Type != webapi.EventLog || s.logs[e.TaskID] || s.logs["*"]) {
			select {
			case s.C <- e:
			default:
				lagged = true
				s.close()
			}
		}
		s.mu.Unlock()
		if lagged {
			h.Unsubscribe(s)
		}
	}
}
