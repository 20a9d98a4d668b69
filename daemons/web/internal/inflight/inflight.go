// Package inflight counts the requests a handler serves, hijacked ones
// (WebSockets) included, so that whoever stops a server can wait for
// every one of them once it has told them to end (their contexts): an
// http.Server's Shutdown waits for neither a hijacked request nor one
// that outlives its grace.
package inflight

import (
	"net/http"
	"sync"
)

// Requests counts requests. The zero value is ready to use.
type Requests struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	closed bool
}

// Wrap counts h's requests; once Close was called a request is refused
// (503) instead.
func (q *Requests) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !q.enter() {
			http.Error(w, "terok-web is shutting down", http.StatusServiceUnavailable)
			return
		}
		defer q.wg.Done()
		h.ServeHTTP(w, r)
	})
}

func (q *Requests) enter() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.wg.Add(1)
	return true
}

// Close refuses new requests and waits for those being served.
func (q *Requests) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wg.Wait()
}
