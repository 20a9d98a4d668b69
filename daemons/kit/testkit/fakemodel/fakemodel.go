// Package fakemodel is a fake model provider for tests that run a real
// coding agent: an HTTP server answering the Anthropic Messages API
// (POST /v1/messages, streamed as server-sent events or as one JSON
// message) with a fixed text, recording every request it saw. Point the
// agent's base-URL setting (ANTHROPIC_BASE_URL) at it; no test needs the
// real model service.
package fakemodel

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Request is one request the server saw.
type Request struct {
	Method string
	Path   string // with the query, e.g. /v1/messages?beta=true
	Header http.Header
	Body   map[string]any // the JSON body (nil when not JSON)
}

// Server is a running fake provider.
type Server struct {
	// Answer is the text every message answer holds.
	Answer string
	srv    *http.Server
	ln     net.Listener
	mu     sync.Mutex
	reqs   []Request
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Close.
func Start(addr, answer string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake model: listen on %s: %w", addr, err)
	}
	s := &Server{Answer: answer, ln: ln}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Port is the port it listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Requests returns what the server saw so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Messages returns the requests to the Messages API.
func (s *Server) Messages() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/v1/messages") && !strings.HasPrefix(r.Path, "/v1/messages/count_tokens") {
			out = append(out, r)
		}
	}
	return out
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/messages/count_tokens"):
		writeJSON(w, map[string]any{"input_tokens": 12})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages":
		model, _ := body["model"].(string)
		if stream, _ := body["stream"].(bool); stream {
			s.stream(w, model)
			return
		}
		writeJSON(w, s.message(model, s.Answer, "end_turn"))
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		writeJSON(w, map[string]any{"data": []any{map[string]any{"type": "model", "id": "claude-fake-1", "display_name": "Fake"}}, "has_more": false})
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"type":"error","error":{"type":"not_found_error","message":"the fake model server has no such route"}}`)
	}
}

func (s *Server) message(model, text, stop string) map[string]any {
	if model == "" {
		model = "claude-fake-1"
	}
	content := []any{}
	if text != "" {
		content = append(content, map[string]any{"type": "text", "text": text})
	}
	var stopReason any
	if stop != "" {
		stopReason = stop
	}
	return map[string]any{"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
		"content": content, "stop_reason": stopReason, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 12, "output_tokens": 6}}
}

// stream writes the answer as the Messages API's server-sent events.
func (s *Server) stream(w http.ResponseWriter, model string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	ev := func(name string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		if f != nil {
			f.Flush()
		}
	}
	ev("message_start", map[string]any{"type": "message_start", "message": s.message(model, "", "")})
	ev("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	// The text in two deltas, as a real stream cuts it.
	half := len(s.Answer) / 2
	for _, part := range []string{s.Answer[:half], s.Answer[half:]} {
		ev("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": part}})
	}
	ev("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	ev("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]any{"output_tokens": 6}})
	ev("message_stop", map[string]any{"type": "message_stop"})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
