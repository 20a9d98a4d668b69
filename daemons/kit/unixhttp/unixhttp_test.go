package unixhttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestRoundTripAndErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := Listen(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		if err := DecodeJSON(r, 1<<10, &in); err != nil {
			WriteError(w, http.StatusBadRequest, err)
			return
		}
		WriteJSON(w, http.StatusOK, in)
	})
	mux.HandleFunc("GET /gone", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, errors.New("no such thing: x"))
	})
	srv := NewServer(mux, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeUntil(ctx, srv, ln, time.Second) }()

	c := NewClient(sock)
	var out map[string]string
	if err := c.Post(ctx, "/echo", map[string]string{"a": "b"}, &out); err != nil || out["a"] != "b" {
		t.Fatalf("echo: %v %v", out, err)
	}
	err = c.Get(ctx, "/gone", nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Message != "no such thing: x" {
		t.Fatalf("want APIError 404, got %v", err)
	}
	if StatusOf(err) != 404 {
		t.Fatal("StatusOf")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestListenRemovesStaleButNotLive(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	// A stale socket: bound, then the listener goes away without unlinking.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("stale socket should exist: %v", err)
	}
	ln, err := Listen(sock, 0o600)
	if err != nil {
		t.Fatalf("stale socket not cleared: %v", err)
	}
	defer ln.Close()
	if _, err := Listen(sock, 0o600); !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("live socket: want ErrSocketInUse, got %v", err)
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("keep"), 0o600)
	if _, err := Listen(plain, 0o600); !errors.Is(err, ErrNotSocket) {
		t.Fatalf("plain file: want ErrNotSocket, got %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep" {
		t.Fatal("plain file was touched")
	}
}

func TestClientNamesSocketWhenDown(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "none.sock"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := c.Get(ctx, "/v1/health", nil)
	if err == nil || !contains(err.Error(), "none.sock") {
		t.Fatalf("error should name the socket: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestBaseURLAndBearer: a client for a TCP daemon behind a path prefix
// sends each path under the prefix with the bearer token, and a daemon
// that does not answer is ErrUnavailable naming the URL (never the
// credentials of the URL).
func TestBaseURLAndBearer(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.Path, r.Header.Get("Authorization")
		if r.URL.Path == "/terok/v1/missing" {
			WriteErrorDetail(w, http.StatusNotFound, "no such thing", "")
			return
		}
		w.Write([]byte(`{"name":"x"}`))
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL + "/terok/")
	base.User = url.UserPassword("u", "secret-in-url")
	c := NewClient("", WithBaseURL(base), WithBearer("tok-123"))
	var out struct{ Name string }
	if err := c.Get(context.Background(), "/v1/thing", &out); err != nil || out.Name != "x" {
		t.Fatalf("get: %+v %v", out, err)
	}
	if gotPath != "/terok/v1/thing" || gotAuth != "Bearer tok-123" {
		t.Fatalf("path %q auth %q", gotPath, gotAuth)
	}
	if err := c.Get(context.Background(), "/v1/missing", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if strings.Contains(c.Socket(), "secret-in-url") || c.URL("/v1/x") != srv.URL+"/terok/v1/x" {
		t.Fatalf("socket %q url %q", c.Socket(), c.URL("/v1/x"))
	}
	srv.Close()
	err := c.Get(context.Background(), "/v1/thing", nil)
	var de *DialError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &de) || !strings.Contains(err.Error(), srv.URL+"/terok") {
		t.Fatalf("want a DialError naming the URL, got %v", err)
	}
	if strings.Contains(err.Error(), "secret-in-url") {
		t.Fatalf("the URL's credentials leaked into %v", err)
	}
}

func TestMessageDropsTheStatus(t *testing.T) {
	ae := &APIError{Status: 409, Message: "branch moved", Detail: "reload"}
	err := fmt.Errorf("promote demo: terok-gate: %w", ae)
	if got, want := Message(err), "promote demo: terok-gate: branch moved: reload"; got != want {
		t.Fatalf("Message = %q, want %q", got, want)
	}
	if !strings.Contains(err.Error(), "(HTTP 409)") {
		t.Fatalf("Error() lost the status: %q", err.Error())
	}
	if got := Message(errors.New("plain")); got != "plain" {
		t.Fatalf("Message of a plain error = %q", got)
	}
}
