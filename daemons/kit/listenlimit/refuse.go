package listenlimit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limit names a limit in refusals (the body, the X-Terok-Limit header and
// the log).
type Limit string

// The limits a refusal can name.
const (
	LimitUncredentialed Limit = "uncredentialed_conns"
	LimitPerCredential  Limit = "conns_per_credential"
	LimitCredentialed   Limit = "credentialed_conns"
	// LimitHeaderFolding is not a count: a folded header line is refused.
	LimitHeaderFolding Limit = "header_folding"
)

// LimitHeader carries the refusal's Limit on every refusal.
const LimitHeader = "X-Terok-Limit"

// Retry-After of each count limit: a connection without a credential
// frees its slot within a second or two; one with a credential when one of
// the client's own requests ends.
var retryAfter = map[Limit]time.Duration{
	LimitUncredentialed: time.Second,
	LimitPerCredential:  5 * time.Second,
	LimitCredentialed:   5 * time.Second,
}

// Refusal is one request or connection the limits refused.
type Refusal struct {
	Status     int           // 429, or 400 for a folded header
	Limit      Limit         // which limit
	Max        int           // the limit's value (0 for header_folding)
	RetryAfter time.Duration // 0: no Retry-After
	Message    string        // one sentence for a person
}

func newRefusal(l Limit, max int) Refusal {
	r := Refusal{Status: http.StatusTooManyRequests, Limit: l, Max: max, RetryAfter: retryAfter[l]}
	switch l {
	case LimitUncredentialed:
		r.Message = fmt.Sprintf("too many connections without a valid credential at once (the limit is %d); send the credential with the request", max)
	case LimitPerCredential:
		r.Message = fmt.Sprintf("too many connections with this credential at once (the limit is %d per credential); close some or retry later", max)
	case LimitCredentialed:
		r.Message = fmt.Sprintf("too many connections with credentials at once (the limit is %d in total); retry later", max)
	case LimitHeaderFolding:
		r.Status = http.StatusBadRequest
		r.Message = "a header line is folded onto the next line (obs-fold); send each header on one line"
	}
	return r
}

// BodyFunc renders a refusal's body: its Content-Type and bytes.
type BodyFunc func(Refusal) (contentType string, body []byte)

// refusalJSON is the default body, in the shape of every terok JSON error.
type refusalJSON struct {
	Error             string `json:"error"`
	Limit             Limit  `json:"limit"`
	Max               int    `json:"max,omitempty"`
	RetryAfterSeconds int    `json:"retry_after_seconds,omitempty"`
}

// JSONBody is the default BodyFunc:
// {"error": "...", "limit": "conns_per_credential", "max": 16, "retry_after_seconds": 5}.
func JSONBody(r Refusal) (string, []byte) {
	b, _ := json.Marshal(refusalJSON{Error: r.Message, Limit: r.Limit, Max: r.Max,
		RetryAfterSeconds: int(r.RetryAfter / time.Second)})
	return "application/json", append(b, '\n')
}

// write answers a request with the refusal and closes its connection
// after the answer, without reading its body.
func (r Refusal) write(w http.ResponseWriter, body BodyFunc) {
	ct, b := body(r)
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Connection", "close")
	h.Set(LimitHeader, string(r.Limit))
	if r.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(r.RetryAfter/time.Second)))
	}
	w.WriteHeader(r.Status)
	_, _ = w.Write(b)
}

// raw is the refusal as a whole HTTP/1.1 response, for a connection that
// has no request in a handler (refused at accept, or closed while it
// waited for its headers).
func (r Refusal) raw(body BodyFunc) []byte {
	ct, b := body(r)
	s := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n%s: %s\r\n",
		r.Status, http.StatusText(r.Status), ct, len(b), LimitHeader, r.Limit)
	if r.RetryAfter > 0 {
		s += fmt.Sprintf("Retry-After: %d\r\n", int(r.RetryAfter/time.Second))
	}
	return append([]byte(s+"\r\n"), b...)
}

// logEvery is how often a refusal of one credential key is logged.
const logEvery = time.Minute

// maxLogKeys bounds the keys refusalLog remembers. Past it, refusals of
// keys it does not know are logged under one shared key.
const maxLogKeys = 1024

// overflowKey stands for every key refusalLog had no room for.
const overflowKey = "(other credentials)"

// refusalLog decides which refusals to log: one per key and limit per
// minute, with the number left out since the last line.
type refusalLog struct {
	mu   sync.Mutex
	seen map[string]*logSlot
}

type logSlot struct {
	at      time.Time
	skipped int
}

// note records a refusal of key at now and reports whether to log it, the
// key to log it under, and how many refusals of that key went unlogged
// since its last line.
func (l *refusalLog) note(key string, lim Limit, now time.Time) (log bool, as string, skipped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]*logSlot{}
	}
	id := string(lim) + "\x00" + key
	as = key
	s := l.seen[id]
	if s == nil {
		if len(l.seen) >= maxLogKeys {
			for k, v := range l.seen {
				if now.Sub(v.at) >= logEvery {
					delete(l.seen, k)
				}
			}
		}
		if len(l.seen) >= maxLogKeys {
			as = overflowKey
			id = string(lim) + "\x00" + overflowKey
			s = l.seen[id]
		}
		if s == nil {
			s = &logSlot{}
			l.seen[id] = s
			s.at = now
			return true, as, 0
		}
	}
	if now.Sub(s.at) >= logEvery {
		skipped = s.skipped
		s.at, s.skipped = now, 0
		return true, as, skipped
	}
	s.skipped++
	return false, as, 0
}

// size reports how many keys are remembered (tests).
func (l *refusalLog) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}
