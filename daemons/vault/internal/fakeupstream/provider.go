package fakeupstream

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// Request is what the fake provider received.
type Request struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Body                         string
}

// Provider is a fake provider API over TLS. Its routes:
//
//	POST …/messages      {"ok":true}; with "stream" in the body an SSE
//	                     answer: one event, then a wait for Release (or
//	                     ?hold=0), then more events
//	GET  …/models        a small list
//	anything else        200 {"echo": path}
type Provider struct {
	URL string // https://127.0.0.1:PORT

	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	requests []Request
	release  chan struct{}
	relOnce  sync.Once
}

// StartProvider serves a fake provider on loopback with ca's certificate.
func StartProvider(ca *testkit.CA) (*Provider, error) {
	ln, err := ca.Listen()
	if err != nil {
		return nil, err
	}
	p := &Provider{URL: "https://" + ln.Addr().String(), ln: ln, release: make(chan struct{})}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// Close stops the fake.
func (p *Provider) Close() {
	p.Release()
	p.srv.Close()
}

// Release lets held streams finish.
func (p *Provider) Release() { p.relOnce.Do(func() { close(p.release) }) }

// Requests returns what arrived so far.
func (p *Provider) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	p.mu.Lock()
	p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
		Header: r.Header.Clone(), Body: string(b)})
	p.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL.Path, "/messages") && strings.Contains(string(b), `"stream"`):
		p.stream(w, r)
	case strings.HasSuffix(r.URL.Path, "/messages"):
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "tracker=1")
		fmt.Fprint(w, `{"ok":true}`)
	case strings.HasSuffix(r.URL.Path, "/models"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":[{"id":"fake-model"}]}`)
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"echo":%q}`, r.URL.Path)
	}
}

// stream answers server-sent events: "first", then (unless ?hold=0) it
// waits for Release, then n more (?n=, default 3) and "done".
func (p *Provider) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl := http.NewResponseController(w)
	fmt.Fprint(w, "event: message_start\ndata: {\"n\":0,\"text\":\"first\"}\n\n")
	fl.Flush()
	if r.URL.Query().Get("hold") != "0" {
		select {
		case <-p.release:
		case <-r.Context().Done():
			return
		case <-time.After(2 * time.Minute):
		}
	}
	n := 3
	if v, err := strconv.Atoi(r.URL.Query().Get("n")); err == nil {
		n = v
	}
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, "event: content_block_delta\ndata: {\"n\":%d}\n\n", i)
		fl.Flush()
	}
	fmt.Fprint(w, "event: message_stop\ndata: {\"done\":true}\n\n")
}
