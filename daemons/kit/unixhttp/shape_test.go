package unixhttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// serve runs h on a fresh socket for the test and returns a client for it.
func serve(t *testing.T, h http.Handler, opts ...ServerOption) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := Listen(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeUntil(ctx, NewServer(h, zerolog.Nop(), opts...), ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return NewClient(sock)
}

func TestSentinelsByStatus(t *testing.T) {
	cases := map[int]error{400: ErrBadRequest, 422: ErrBadRequest, 401: ErrUnauthorized,
		403: ErrForbidden, 404: ErrNotFound, 409: ErrConflict, 503: ErrUnavailable}
	all := []error{ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict, ErrUnavailable}
	for status, want := range cases {
		err := error(&APIError{Status: status, Message: "m"})
		for _, s := range all {
			if got := errors.Is(err, s); got != (s == want) {
				t.Errorf("status %d: errors.Is(%v) = %v", status, s, got)
			}
		}
	}
	if errors.Is(&APIError{Status: 500}, ErrNotFound) {
		t.Error("500 matched ErrNotFound")
	}
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/thing", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, "ok") })
	c := serve(t, mux)
	ctx := context.Background()

	err := c.Get(ctx, "/v1/nope", nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Message != "no such route: GET /v1/nope" || ae.Detail == "" {
		t.Fatalf("unknown route: %#v", err)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Fatal("not ErrNotFound")
	}
	err = c.Delete(ctx, "/v1/thing", nil)
	if !errors.As(err, &ae) || ae.Status != 405 || ae.Message != "method DELETE not allowed on /v1/thing" ||
		!strings.Contains(ae.Detail, "GET") {
		t.Fatalf("wrong method: %#v", err)
	}
	// The raw body is JSON, not the mux's text.
	resp, err := c.HTTP().Get("http://unix/nope")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(b), "{") {
		t.Fatalf("body %q type %q", b, resp.Header.Get("Content-Type"))
	}
	var s string
	if err := c.Get(ctx, "/v1/thing", &s); err != nil || s != "ok" {
		t.Fatalf("known route: %q %v", s, err)
	}
}

func TestStreamDecodesPlainTextErrors(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/plain" {
			http.Error(w, "container abc is not armed", http.StatusNotFound)
			return
		}
		w.WriteHeader(200)
		io.WriteString(w, "line1\nline2\n")
	})
	c := serve(t, h)
	_, err := c.Stream(context.Background(), "GET", "/plain", nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Message != "container abc is not armed" || !errors.Is(err, ErrNotFound) {
		t.Fatalf("plain error: %#v", err)
	}
	body, err := c.Stream(context.Background(), "GET", "/ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "line1\nline2\n" {
		t.Fatalf("stream %q", b)
	}
}

func TestDialFailureIsUnavailable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nobody.sock")
	err := NewClient(sock).Get(context.Background(), "/v1/health", nil)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), sock) {
		t.Fatalf("want ErrUnavailable naming the socket, got %v", err)
	}
}

func TestInjectedDialer(t *testing.T) {
	srvConn, cliConn := net.Pipe()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, 200, "piped") })
	go func() {
		srv := &http.Server{Handler: mux}
		_ = srv.Serve(&oneConnListener{c: srvConn})
	}()
	used := false
	c := NewClient("/does/not/matter", WithDialer(func(ctx context.Context) (net.Conn, error) {
		if used {
			return nil, errors.New("one connection only")
		}
		used = true
		return cliConn, nil
	}))
	var s string
	if err := c.Get(context.Background(), "/x", &s); err != nil || s != "piped" {
		t.Fatalf("%q %v", s, err)
	}
}

type oneConnListener struct {
	c    net.Conn
	done bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if l.done {
		select {} // block: the one connection is being served
	}
	l.done = true
	return l.c, nil
}
func (l *oneConnListener) Close() error   { return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }

func TestPeerCred(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /who", func(w http.ResponseWriter, r *http.Request) {
		p, ok := PeerCred(r.Context())
		WriteJSON(w, 200, map[string]any{"ok": ok, "uid": p.UID, "pid": p.PID})
	})
	var got struct {
		OK  bool `json:"ok"`
		UID int  `json:"uid"`
		PID int  `json:"pid"`
	}
	if err := serve(t, mux, WithPeerCred()).Get(context.Background(), "/who", &got); err != nil {
		t.Fatal(err)
	}
	if !got.OK || got.UID != os.Getuid() || got.PID != os.Getpid() {
		t.Fatalf("peer %+v, want uid %d pid %d", got, os.Getuid(), os.Getpid())
	}
	if err := serve(t, mux).Get(context.Background(), "/who", &got); err != nil || got.OK {
		t.Fatalf("without the option the peer must be unknown: %+v %v", got, err)
	}
}
