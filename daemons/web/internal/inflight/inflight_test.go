package inflight

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCloseWaitsForRequests: Close returns only after the request being
// served has ended, and refuses the ones after it.
func TestCloseWaitsForRequests(t *testing.T) {
	var q Requests
	release, started := make(chan struct{}), make(chan struct{})
	h := q.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { close(started); <-release }))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	<-started
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a request was served")
	case <-time.After(50 * time.Millisecond): // a bound for the wrong outcome only
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close did not return after the request ended")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("a request after Close: %d", w.Code)
	}
}
