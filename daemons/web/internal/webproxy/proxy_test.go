package webproxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// lookup is a fixed task → port table.
type lookup map[string]int

func (l lookup) HostPort(id string) (int, bool) { p, ok := l[id]; return p, ok }

// seen is what the app behind the proxy reports about a request.
type seen struct {
	Path, RawPath, Query, Host string
	Header                     http.Header
}

// app is a real HTTP and WebSocket server on loopback, standing in for an
// agent's web UI; it returns its port.
func app(t *testing.T) int {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo/", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(seen{Path: r.URL.Path, RawPath: r.URL.RawPath, Query: r.URL.RawQuery, Host: r.Host, Header: r.Header})
	})
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "session=abc; Path=/; Domain=example.org; HttpOnly")
		w.Header().Add("Set-Cookie", "deep=1; Path=/app")
		w.Header().Add("Set-Cookie", "terok_token=evil; Path=/")
		w.Header().Add("Set-Cookie", "plain=2")
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/welcome?from=login", http.StatusFound)
	})
	mux.HandleFunc("/abs", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/welcome", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.org/x", http.StatusFound)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), b...)); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// deadPort is a loopback port nobody listens on.
func deadPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func front(t *testing.T, l Lookup, o Options) *httptest.Server {
	t.Helper()
	p, err := New(l, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}

func get(t *testing.T, u string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func getSeen(t *testing.T, u string, hdr ...string) seen {
	t.Helper()
	resp := get(t, u, hdr...)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProxy runs a real app behind the proxy on loopback: the path below
// ui/ arrives unchanged (escapes kept), the query too, the forwarding
// headers are set, terok's credentials are not passed on, redirects stay
// inside the UI path, WebSockets pass, and failures are clear.
func TestProxy(t *testing.T) {
	port := app(t)
	srv := front(t, lookup{"t1": port, "dead": deadPort(t)}, Options{DropCookies: []string{"terok_token"}, DropQuery: []string{"token"}})
	fu, _ := url.Parse(srv.URL)

	s := getSeen(t, srv.URL+"/tasks/t1/ui/echo/a%2Fb?x=1&token=terok-secret&y=2",
		"Authorization", "Bearer terok-secret-token", "Cookie", "terok_token=secret; app=kept",
		"X-Forwarded-For", "203.0.113.9")
	if s.Path != "/echo/a/b" || s.RawPath != "/echo/a%2Fb" || s.Query != "x=1&y=2" {
		t.Fatalf("path/query at the app: %+v", s)
	}
	if s.Host != "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("Host at the app: %q", s.Host)
	}
	h := s.Header
	if h.Get("Authorization") != "" || h.Get("Cookie") != "app=kept" {
		t.Fatalf("credentials passed to the app: Authorization %q, Cookie %q", h.Get("Authorization"), h.Get("Cookie"))
	}
	if h.Get("X-Forwarded-Prefix") != "/tasks/t1/ui" || h.Get("X-Forwarded-Host") != fu.Host || h.Get("X-Forwarded-Proto") != "http" {
		t.Fatalf("forwarding headers: %v", h)
	}
	// A client's own X-Forwarded-For is not trusted.
	if h.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Fatalf("X-Forwarded-For: %q", h.Get("X-Forwarded-For"))
	}

	// ui without its slash: relative links need it.
	if r := get(t, srv.URL+"/tasks/t1/ui?a=b"); r.StatusCode != http.StatusPermanentRedirect || r.Header.Get("Location") != "/tasks/t1/ui/?a=b" {
		t.Fatalf("ui without slash: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// The app's redirects stay below its UI path.
	for path, want := range map[string]string{
		"login":     "/tasks/t1/ui/welcome?from=login",
		"abs":       "/tasks/t1/ui/welcome",
		"elsewhere": "https://example.org/x",
	} {
		if r := get(t, srv.URL+"/tasks/t1/ui/"+path); r.StatusCode != http.StatusFound || r.Header.Get("Location") != want {
			t.Fatalf("redirect of /%s: %d %q, want %q", path, r.StatusCode, r.Header.Get("Location"), want)
		}
	}

	// The app's cookies stay below its UI path; terok's cannot be set.
	r := get(t, srv.URL+"/tasks/t1/ui/cookies")
	want := []string{"session=abc; Path=/tasks/t1/ui; HttpOnly", "deep=1; Path=/tasks/t1/ui/app", "plain=2; Path=/tasks/t1/ui"}
	if got := r.Header.Values("Set-Cookie"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Set-Cookie through the proxy:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// WebSocket through the proxy.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+fu.Host+"/tasks/t1/ui/ws", nil)
	if err != nil {
		t.Fatalf("websocket through the proxy: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if typ, b, err := c.Read(ctx); err != nil || typ != websocket.MessageText || string(b) != "echo:hello" {
		t.Fatalf("websocket answer: %v %q %v", typ, b, err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	// Failures name the task and what to do.
	for path, want := range map[string]struct {
		status int
		msg    string
	}{
		"/tasks/nope/ui/":    {404, "task nope has no web UI"},
		"/tasks/t1/shell":    {404, "task t1's UI is at /tasks/t1/ui/"},
		"/other":             {404, "task UIs live at /tasks/ID/ui/"},
		"/tasks/dead/ui/":    {502, "does not answer on port"},
		"/tasks/t1/uix/echo": {404, "task t1's UI is at"},
	} {
		r := get(t, srv.URL+path)
		b, _ := io.ReadAll(r.Body)
		var eb struct{ Error string }
		json.Unmarshal(b, &eb)
		if r.StatusCode != want.status || !strings.Contains(eb.Error, want.msg) {
			t.Fatalf("GET %s: %d %s, want %d with %q", path, r.StatusCode, b, want.status, want.msg)
		}
	}
}

// TestProxyPublicURL: behind an outer reverse proxy at
// https://terok.example.org/terok the app sees the public scheme, host and
// prefix, links carry the prefix, and requests arrive with or without it
// (depending on whether the outer proxy strips it).
func TestProxyPublicURL(t *testing.T) {
	port := app(t)
	srv := front(t, lookup{"t1": port}, Options{PublicURL: "https://terok.example.org/terok/"})
	for _, p := range []string{"/terok/tasks/t1/ui/echo/x", "/tasks/t1/ui/echo/x"} {
		s := getSeen(t, srv.URL+p)
		h := s.Header
		if s.Path != "/echo/x" || h.Get("X-Forwarded-Host") != "terok.example.org" || h.Get("X-Forwarded-Proto") != "https" || h.Get("X-Forwarded-Prefix") != "/terok/tasks/t1/ui" {
			t.Fatalf("GET %s: app saw %+v", p, s)
		}
	}
	if r := get(t, srv.URL+"/terok/tasks/t1/ui/login"); r.Header.Get("Location") != "/terok/tasks/t1/ui/welcome?from=login" {
		t.Fatalf("redirect with prefix: %q", r.Header.Get("Location"))
	}
	if r := get(t, srv.URL+"/terok/tasks/t1/ui"); r.Header.Get("Location") != "/terok/tasks/t1/ui/" {
		t.Fatalf("ui without slash, with prefix: %q", r.Header.Get("Location"))
	}
	p, _ := New(lookup{}, Options{PublicURL: "https://terok.example.org/terok"})
	if got := p.UIPath("t 1"); got != "/terok/tasks/t%201/ui/" {
		t.Fatalf("UIPath: %q", got)
	}
	for _, bad := range []string{"terok.example.org", "ftp://x/", "/terok", "https://"} {
		if _, err := New(lookup{}, Options{PublicURL: bad}); !errors.Is(err, ErrBadPublicURL) || !strings.Contains(err.Error(), "TEROK_PUBLIC_URL") {
			t.Fatalf("PublicURL %q: %v", bad, err)
		}
	}
}
