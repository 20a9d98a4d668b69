package webproxy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// TicketParam is the query parameter that carries a ticket to a task's
// listener.
const TicketParam = "terok-ui-ticket"

// Ticket lifetimes and bounds.
const (
	DefaultTicketTTL = time.Minute
	maxTickets       = 1024
)

// Tickets are one-time, short-lived passes to one task's UI, minted by an
// authenticated API call and swapped by the task's listener for its own
// cookie. Only hashes are kept, in memory. Safe for concurrent use.
type Tickets struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]ticket
}

type ticket struct {
	task, parent string
	expires      time.Time
}

// NewTickets returns a store whose tickets last ttl (0: DefaultTicketTTL);
// now is the clock (nil: time.Now).
func NewTickets(ttl time.Duration, now func() time.Time) *Tickets {
	if ttl <= 0 {
		ttl = DefaultTicketTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Tickets{ttl: ttl, now: now, m: map[string]ticket{}}
}

func ticketHash(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

// Mint returns a ticket for task. parent is the browser session that
// asked ("" from the bearer token or web.sock): the grant it turns into
// ends with that session.
func (t *Tickets) Mint(task, parent string) (string, time.Time, error) {
	if task == "" {
		return "", time.Time{}, fmt.Errorf("mint a ticket: no task")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", time.Time{}, err
	}
	v := base64.RawURLEncoding.EncodeToString(raw)
	now := t.now()
	exp := now.Add(t.ttl)
	t.mu.Lock()
	defer t.mu.Unlock()
	for h, k := range t.m {
		if !now.Before(k.expires) {
			delete(t.m, h)
		}
	}
	for len(t.m) >= maxTickets { // bounded: drop the one that ends first
		var first string
		for h, k := range t.m {
			if first == "" || k.expires.Before(t.m[first].expires) {
				first = h
			}
		}
		delete(t.m, first)
	}
	t.m[ticketHash(v)] = ticket{task: task, parent: parent, expires: exp}
	return v, exp, nil
}

// Live reports whether v is a ticket for task that has not run out,
// without using it up (a listener's limits count the request that
// carries it under the task before the handler redeems it).
func (t *Tickets) Live(v, task string) bool {
	if v == "" {
		return false
	}
	h := ticketHash(v)
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.m[h]
	return ok && k.task == task && t.now().Before(k.expires)
}

// Redeem uses up a ticket for task and returns its parent session. A
// ticket for another task is not used up (nor accepted).
func (t *Tickets) Redeem(v, task string) (string, bool) {
	if v == "" {
		return "", false
	}
	h := ticketHash(v)
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.m[h]
	if !ok || k.task != task {
		return "", false
	}
	delete(t.m, h)
	if !t.now().Before(k.expires) {
		return "", false
	}
	return k.parent, true
}
