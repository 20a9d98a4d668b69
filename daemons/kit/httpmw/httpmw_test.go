package httpmw_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

// lines parses the JSON log lines written so far.
func lines(t *testing.T, buf *testkit.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// accessLines are the access lines among the log lines.
func accessLines(t *testing.T, buf *testkit.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range lines(t, buf) {
		if m["message"] == httpmw.Message {
			out = append(out, m)
		}
	}
	return out
}

// serveUnix serves h behind the middleware on a unix socket with peer
// credentials, as the daemons do, and returns a client of it.
func serveUnix(t *testing.T, h http.Handler, log zerolog.Logger) *http.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "t.sock")
	ln, err := unixhttp.Listen(sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := unixhttp.NewServer(h, log, unixhttp.WithPeerCred(), unixhttp.WithMiddleware(httpmw.Middleware(log)))
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestAccessLineHasNoSecret(t *testing.T) {
	var buf testkit.SyncBuffer
	log := zerolog.New(&buf)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{name}", func(w http.ResponseWriter, r *http.Request) {
		unixhttp.WriteJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("name")})
	})
	c := serveUnix(t, mux, log)
	code, body := get(t, c, "http://unix/v1/things/one?token=SECRET-QUERY&ticket=SECRET-TICKET&follow=1",
		"Authorization", "Bearer SECRET-HEADER", "Cookie", "s=SECRET-COOKIE")
	if code != http.StatusOK || !strings.Contains(body, `"one"`) {
		t.Fatalf("answer %d %q", code, body)
	}
	if code, _ := get(t, c, "http://unix/v1/nope?key=SECRET-404"); code != http.StatusNotFound {
		t.Fatalf("unknown route: %d", code)
	}
	if strings.Contains(buf.String(), "SECRET") {
		t.Fatalf("a secret reached the log:\n%s", buf.String())
	}
	al := accessLines(t, &buf)
	if len(al) != 2 {
		t.Fatalf("want one access line per request, got %d:\n%s", len(al), buf.String())
	}
	want := []struct {
		path   string
		status float64
	}{{"/v1/things/one", 200}, {"/v1/nope", 404}}
	for i, w := range want {
		l := al[i]
		if l["method"] != "GET" || l["path"] != w.path || l["status"] != w.status || l["level"] != "info" {
			t.Errorf("line %d: %v", i, l)
		}
		if n, ok := l["bytes"].(float64); !ok || n <= 0 {
			t.Errorf("line %d: bytes %v", i, l["bytes"])
		}
		if _, ok := l["duration"].(float64); !ok {
			t.Errorf("line %d: no duration: %v", i, l)
		}
		if uid, ok := l["uid"].(float64); !ok || int(uid) != os.Getuid() {
			t.Errorf("line %d: want the caller's uid %d, got %v", i, os.Getuid(), l["uid"])
		}
	}
}

func TestLongPathIsCut(t *testing.T) {
	var buf testkit.SyncBuffer
	srv := httptest.NewServer(httpmw.Wrap(http.NotFoundHandler(), zerolog.New(&buf)))
	defer srv.Close()
	get(t, srv.Client(), srv.URL+"/"+strings.Repeat("a", 5000))
	al := accessLines(t, &buf)
	if len(al) != 1 {
		t.Fatalf("lines: %v", al)
	}
	p, _ := al[0]["path"].(string)
	if len(p) != httpmw.MaxPathBytes+len("…") || !strings.HasSuffix(p, "…") {
		t.Fatalf("path of %d bytes: %q", len(p), p)
	}
	if r, _ := al[0]["remote"].(string); !strings.HasPrefix(r, "127.0.0.1:") {
		t.Fatalf("a TCP caller is named by its address: %v", al[0])
	}
}

func TestPanicAnswers500AndServingGoesOn(t *testing.T) {
	var buf testkit.SyncBuffer
	log := zerolog.New(&buf)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Half-Done", "yes")
		var counts []int
		counts[len(r.URL.Path)]++ // out of range: the kind of bug this is for
	})
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fine") })
	c := serveUnix(t, mux, log)
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodGet, "http://unix/boom?token=SECRET", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("panic %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb unixhttp.ErrorBody
		if resp.StatusCode != http.StatusInternalServerError || json.Unmarshal(b, &eb) != nil || !strings.Contains(eb.Error, "internal error") ||
			resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Half-Done") != "" {
			t.Fatalf("panic %d answered %d %v %q", i, resp.StatusCode, resp.Header, b)
		}
		if code, body := get(t, c, "http://unix/ok"); code != http.StatusOK || body != "fine" {
			t.Fatalf("after a panic: %d %q", code, body)
		}
	}
	var panics, access500 int
	for _, l := range lines(t, &buf) {
		switch l["message"] {
		case httpmw.Message:
			if l["path"] == "/boom" {
				access500++
				if l["status"] != float64(500) || l["panicked"] != true || l["level"] != "warn" {
					t.Errorf("access line of a panic: %v", l)
				}
			}
		default:
			if p, _ := l["panic"].(string); p != "" {
				panics++
				st, _ := l["stack"].(string)
				if l["level"] != "error" || !strings.Contains(p, "index out of range") || !strings.Contains(st, "httpmw_test.TestPanicAnswers500AndServingGoesOn") {
					t.Errorf("panic line: %v", l)
				}
			}
		}
	}
	if panics != 3 || access500 != 3 {
		t.Fatalf("want 3 panic lines and 3 access lines, got %d, %d:\n%s", panics, access500, buf.String())
	}
	if strings.Contains(buf.String(), "SECRET") {
		t.Fatal("a secret reached the log")
	}
}

// A panic once the answer has begun cannot turn into a 500: the
// connection is cut, so the client sees a broken answer, not a whole one.
func TestPanicMidAnswerCutsTheConnection(t *testing.T) {
	var buf testkit.SyncBuffer
	srv := httptest.NewServer(httpmw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("half way")
	}), zerolog.New(&buf)))
	srv.Config.ErrorLog = nil
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("want the answer cut short, got %v", err)
	}
	var logged bool
	for _, l := range lines(t, &buf) {
		logged = logged || l["panic"] == "half way"
	}
	if !logged {
		t.Fatalf("panic not logged:\n%s", buf.String())
	}
}

// http.ErrAbortHandler (httputil.ReverseProxy's way to end a broken
// copy) is not a bug: no panic line, the connection ends as the server
// does it.
func TestAbortHandlerIsNoBug(t *testing.T) {
	var buf testkit.SyncBuffer
	srv := httptest.NewServer(httpmw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}), zerolog.New(&buf)))
	defer srv.Close()
	if _, err := srv.Client().Get(srv.URL + "/x"); err == nil {
		t.Fatal("want the connection ended without an answer")
	}
	for _, l := range lines(t, &buf) {
		if l["panic"] != nil {
			t.Fatalf("abort logged as a panic: %v", l)
		}
	}
	if len(accessLines(t, &buf)) != 1 {
		t.Fatalf("want the access line:\n%s", buf.String())
	}
}

// A streaming handler's flushes reach the client through the wrapper,
// by interface and through http.ResponseController.
func TestFlushPassesThrough(t *testing.T) {
	for _, how := range []string{"interface", "controller"} {
		t.Run(how, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(httpmw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "first\n")
				if how == "interface" {
					w.(http.Flusher).Flush()
				} else if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("flush: %v", err)
				}
				<-release
				_, _ = io.WriteString(w, "second\n")
			}), zerolog.Nop()))
			defer srv.Close()
			defer close(release)
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			// The handler waits for release: the first line can only
			// arrive now if the flush went through.
			l, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil || l != "first\n" {
				t.Fatalf("first line %q %v", l, err)
			}
		})
	}
}

// A WebSocket-style upgrade hijacks the connection through the wrapper,
// and http.ResponseController's deadlines reach the connection.
func TestHijackAndDeadlinesPassThrough(t *testing.T) {
	var buf testkit.SyncBuffer
	srv := httptest.NewServer(httpmw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("read deadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("full duplex: %v", err)
		}
		var conn net.Conn
		var err error
		if r.URL.Path == "/iface" {
			conn, _, err = w.(http.Hijacker).Hijack()
		} else {
			conn, _, err = rc.Hijack()
		}
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello")
	}), zerolog.New(&buf)))
	defer srv.Close()
	for _, p := range []string{"/iface", "/controller"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "GET "+p+" HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		b, _ := io.ReadAll(conn)
		conn.Close()
		if !strings.HasPrefix(string(b), "HTTP/1.1 101") || !strings.HasSuffix(string(b), "hello") {
			t.Fatalf("%s: %q", p, b)
		}
	}
	// The client saw the connection close before the handler returned
	// and the line was written.
	var al []map[string]any
	for i := 0; i < 500 && len(al) < 2; i++ {
		time.Sleep(10 * time.Millisecond)
		al = accessLines(t, &buf)
	}
	if len(al) != 2 || al[0]["hijacked"] != true || al[1]["hijacked"] != true {
		t.Fatalf("access lines of hijacked requests: %v", al)
	}
}

func TestHandlerAddsToItsLine(t *testing.T) {
	var buf testkit.SyncBuffer
	srv := httptest.NewServer(httpmw.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := httpmw.LineOf(r.Context())
		n := 0
		line.Add(func(e *zerolog.Event) { e.Str("project", "demo").Int("lines_read", n) })
		n = 7 // read when the line is written, after the handler
		if r.URL.Path == "/fail" {
			line.Fail("git failed after the header")
		}
		_, _ = io.WriteString(w, "ok")
	}), zerolog.New(&buf)))
	defer srv.Close()
	get(t, srv.Client(), srv.URL+"/ok")
	get(t, srv.Client(), srv.URL+"/fail")
	al := accessLines(t, &buf)
	if len(al) != 2 {
		t.Fatalf("lines: %v", al)
	}
	if al[0]["project"] != "demo" || al[0]["lines_read"] != float64(7) || al[0]["level"] != "info" || al[0]["error"] != nil {
		t.Errorf("added fields: %v", al[0])
	}
	if al[1]["level"] != "warn" || al[1]["error"] != "git failed after the header" || al[1]["status"] != float64(200) {
		t.Errorf("failed line: %v", al[1])
	}
	// Outside the middleware the line is nil and does nothing.
	var none *httpmw.Line
	none.Add(func(*zerolog.Event) {})
	none.Fail("x")
	if httpmw.LineOf(context.Background()) != nil {
		t.Fatal("a line outside the middleware")
	}
}

func TestLevels(t *testing.T) {
	var buf testkit.SyncBuffer
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("sick") != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /early", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints) // informational: not the status
		w.WriteHeader(http.StatusTeapot)
	})
	srv := httptest.NewServer(httpmw.Wrap(mux, zerolog.New(&buf)))
	defer srv.Close()
	get(t, srv.Client(), srv.URL+"/v1/health")
	get(t, srv.Client(), srv.URL+"/v1/health?sick=1")
	get(t, srv.Client(), srv.URL+"/early")
	al := accessLines(t, &buf)
	got := make([]string, len(al))
	for i, l := range al {
		got[i] = fmt.Sprintf("%v %v %v", l["level"], l["path"], l["status"])
	}
	want := []string{"debug /v1/health 200", "warn /v1/health 503", "info /early 418"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("got %q, want %q", got, want)
	}
}
