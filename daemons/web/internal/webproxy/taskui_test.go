package webproxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
)

// appServer is a real HTTP and WebSocket server on loopback standing in
// for an agent's app; fakeDialer (a seam: the real one enters the task's
// namespaces, tested in podman_test.go and package nsdial) dials it.
type appServer struct {
	addr string
	mu   sync.Mutex
	seen []http.Header
}

func startApp(t *testing.T) *appServer {
	t.Helper()
	a := &appServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r.Header.Clone())
		a.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "query": r.URL.RawQuery, "host": r.Host, "cookie": r.Header.Get("Cookie")})
	})
	mux.HandleFunc("/naughty", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Service-Worker-Allowed", "/")
		w.Header().Set("Clear-Site-Data", `"cookies"`)
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		w.Header().Add("Set-Cookie", "terok_session_0badcafe=planted; Path=/")
		w.Header().Add("Set-Cookie", "__Host-terok_x=planted; Path=/; Secure")
		w.Header().Add("Set-Cookie", "app=1; Path=/; Domain=example.org; HttpOnly")
		io.WriteString(w, "naughty")
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, b, err := c.Read(r.Context())
		if err == nil {
			c.Write(r.Context(), typ, append([]byte("echo "), b...))
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	a.addr = ln.Addr().String()
	return a
}

func (a *appServer) lastHeader() http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		return nil
	}
	return a.seen[len(a.seen)-1]
}

type fakeDialer struct {
	addr   string
	mu     sync.Mutex
	forgot []string
}

func (d *fakeDialer) DialTask(ctx context.Context, task string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", d.addr)
}

func (d *fakeDialer) ForgetTask(task string) {
	d.mu.Lock()
	d.forgot = append(d.forgot, task)
	d.mu.Unlock()
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	pub     *Publisher
	tickets *Tickets
	app     *appServer
	dialer  *fakeDialer
	clk     *clock
	alive   map[string]bool
	base    int
	mu      sync.Mutex
}

func newFixture(t *testing.T) *fixture { return newFixtureAt(t, 0) }

// newFixtureAt publishes on base..base+2 (0: a free block).
func newFixtureAt(t *testing.T, base int) *fixture {
	t.Helper()
	f := &fixture{app: startApp(t), clk: &clock{t: time.Unix(1_700_000_000, 0)}, alive: map[string]bool{}}
	f.dialer = &fakeDialer{addr: f.app.addr}
	f.tickets = NewTickets(time.Minute, f.clk.Now)
	addrs := NewAddresses(nil, "", "127.0.0.1:8566")
	hosts := auth.NewHosts(nil, "", nil)
	if base == 0 {
		base = testkit.FreeBlock(t, 3)
	}
	f.base = base
	var err error
	f.pub, err = NewPublisher(Options{First: base, Last: base + 2, Addresses: addrs, Hosts: hosts, Tickets: f.tickets,
		SessionAlive: func(id string) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.alive[id] },
		Instance:     "0badcafe", Dialer: f.dialer, Now: f.clk.Now, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.pub.Close() })
	return f
}

// client is a browser-like client: a cookie jar, no redirects followed.
func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string, mod func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if mod != nil {
		mod(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestTaskUITicket: the listener answers only with a grant, which a
// one-time ticket gives; the grant cookie is the listener's own.
func TestTaskUITicket(t *testing.T) {
	f := newFixture(t)
	port, err := f.pub.Allocate("t1")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := client()
	resp, body := get(t, c, base+"/deep/path?q=1", nil)
	if resp.StatusCode != 401 || !strings.Contains(body, "terok task t1") || !strings.Contains(body, "http://127.0.0.1:8566/task/t1") {
		t.Fatalf("without a grant: %d\n%s", resp.StatusCode, body)
	}
	tk, _, err := f.tickets.Mint("t1", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = get(t, c, base+"/deep/path?q=1&"+TicketParam+"="+tk, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/deep/path?q=1" {
		t.Fatalf("ticket: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := resp.Header.Get("Clear-Site-Data"); got != `"cache", "storage"` {
		t.Fatalf("first visit: Clear-Site-Data %q", got)
	}
	cs := resp.Cookies()
	if len(cs) != 1 || cs[0].Name != GrantCookie("0badcafe", port) || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Path != "/" {
		t.Fatalf("grant cookie: %+v", cs)
	}
	resp, body = get(t, c, base+"/deep/path?q=1", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"path":"/deep/path"`) || !strings.Contains(body, `"query":"q=1"`) || !strings.Contains(body, `"host":"127.0.0.1:`+strconv.Itoa(port)) {
		t.Fatalf("with the grant: %d %s", resp.StatusCode, body)
	}
	// The redirect stays on the task's origin whatever the path.
	tkx, _, _ := f.tickets.Mint("t1", "")
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET //evil.example/x?%s=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", TicketParam, tkx, port)
	rr, err := http.ReadResponse(bufio.NewReader(conn), nil)
	conn.Close()
	if err != nil || rr.StatusCode != 303 || rr.Header.Get("Location") != "/evil.example/x" {
		t.Fatalf("ticket on //evil.example/x: %v %v", err, rr)
	}
	// A ticket works once.
	resp, body = get(t, client(), base+"/?"+TicketParam+"="+tk, nil)
	if resp.StatusCode != 401 || !strings.Contains(body, "has been used or has run out") {
		t.Fatalf("a used ticket: %d %s", resp.StatusCode, body)
	}
	// A second ticket in the same browser: no clearing this time.
	tk2, _, _ := f.tickets.Mint("t1", "")
	if resp, _ = get(t, c, base+"/?"+TicketParam+"="+tk2, nil); resp.StatusCode != 303 || resp.Header.Get("Clear-Site-Data") != "" {
		t.Fatalf("second ticket: %d clear %q", resp.StatusCode, resp.Header.Get("Clear-Site-Data"))
	}
	// Another task's ticket, and an expired one, open nothing.
	other, _, _ := f.tickets.Mint("t2", "")
	if resp, _ = get(t, client(), base+"/?"+TicketParam+"="+other, nil); resp.StatusCode != 401 {
		t.Fatalf("another task's ticket: %d", resp.StatusCode)
	}
	late, _, _ := f.tickets.Mint("t1", "")
	f.clk.Add(61 * time.Second)
	if resp, _ = get(t, client(), base+"/?"+TicketParam+"="+late, nil); resp.StatusCode != 401 {
		t.Fatalf("an expired ticket: %d", resp.StatusCode)
	}
	// A grant runs out.
	f.clk.Add(DefaultGrantTTL)
	if resp, _ = get(t, c, base+"/", nil); resp.StatusCode != 401 {
		t.Fatalf("an expired grant: %d", resp.StatusCode)
	}
}

// TestTaskUISessionGrant: a grant asked for by a browser session ends
// with that session (logout, expiry).
func TestTaskUISessionGrant(t *testing.T) {
	f := newFixture(t)
	port, _ := f.pub.Allocate("t1")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	f.alive["sess-a"] = true
	tk, _, _ := f.tickets.Mint("t1", "sess-a")
	c := client()
	if resp, _ := get(t, c, base+"/?"+TicketParam+"="+tk, nil); resp.StatusCode != 303 {
		t.Fatalf("ticket: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, base+"/", nil); resp.StatusCode != 200 {
		t.Fatalf("grant of a live session: %d", resp.StatusCode)
	}
	f.mu.Lock()
	f.alive["sess-a"] = false
	f.mu.Unlock()
	if resp, _ := get(t, c, base+"/", nil); resp.StatusCode != 401 {
		t.Fatalf("grant of an ended session: %d", resp.StatusCode)
	}
}

// TestHostileTaskUIStrips: terok's cookies never reach the app, and the
// app cannot set them, widen a service worker, clear the host's cookies,
// pin HTTPS on the host, or set a cookie for the parent domain.
func TestHostileTaskUIStrips(t *testing.T) {
	f := newFixture(t)
	port, _ := f.pub.Allocate("t1")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := client()
	tk, _, _ := f.tickets.Mint("t1", "")
	get(t, c, base+"/?"+TicketParam+"="+tk, nil)
	u, _ := url.Parse(base)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "terok_session_0badcafe", Value: "S"}, {Name: "terok_session_feedf00d", Value: "S2"},
		{Name: "terok_ui_0badcafe_7861", Value: "G"}, {Name: "app", Value: "kept"}})
	resp, body := get(t, c, base+"/x", func(r *http.Request) { r.Header.Add("Cookie", "__Host-terok_x=Y; TEROK_SESSION_other=Z") })
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	got := f.app.lastHeader().Get("Cookie")
	if got != "app=kept" {
		t.Fatalf("the app got cookies %q, want only app=kept", got)
	}
	resp, body = get(t, c, base+"/naughty", nil)
	if body != "naughty" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	for _, h := range []string{"Service-Worker-Allowed", "Clear-Site-Data", "Strict-Transport-Security"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("%s reached the browser: %q", h, v)
		}
	}
	sc := resp.Header.Values("Set-Cookie")
	if len(sc) != 1 || !strings.HasPrefix(sc[0], "app=1") || strings.Contains(strings.ToLower(sc[0]), "domain") {
		t.Errorf("Set-Cookie reaching the browser: %q", sc)
	}
	csp := strings.Join(resp.Header.Values("Content-Security-Policy"), "; ")
	if !strings.Contains(csp, "frame-ancestors 'self' http://127.0.0.1:8566") {
		t.Errorf("CSP %q: want frame-ancestors of the task and terok only", csp)
	}
}

// TestHostileTaskUIFromOtherOrigin: another task's page (same host,
// another port: same site) may navigate to this UI but not fetch, post
// to or open a WebSocket to it; service worker scripts are refused; an
// unknown Host name is refused.
func TestHostileTaskUIFromOtherOrigin(t *testing.T) {
	f := newFixture(t)
	port, _ := f.pub.Allocate("t1")
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := client()
	tk, _, _ := f.tickets.Mint("t1", "")
	get(t, c, base+"/?"+TicketParam+"="+tk, nil)
	for _, tc := range []struct {
		name, method, site, mode, origin string
		sw                               bool
		want                             int
	}{
		{"own page fetch", "GET", "same-origin", "cors", "", false, 200},
		{"own page post", "POST", "same-origin", "cors", base, false, 200},
		{"navigation from terok or another task", "GET", "same-site", "navigate", "", false, 200},
		{"fetch from another task", "GET", "same-site", "no-cors", "", false, 403},
		{"post from another task", "POST", "same-site", "no-cors", "http://127.0.0.1:7861", false, 403},
		{"form post from another task", "POST", "same-site", "navigate", "http://127.0.0.1:7861", false, 403},
		{"post from elsewhere without fetch metadata", "POST", "", "", "http://evil.example", false, 403},
		{"fetch from another site", "GET", "cross-site", "cors", "http://evil.example", false, 403},
		{"service worker script", "GET", "same-origin", "same-origin", "", true, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+"/x", nil)
			if tc.site != "" {
				req.Header.Set("Sec-Fetch-Site", tc.site)
				req.Header.Set("Sec-Fetch-Mode", tc.mode)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.sw {
				req.Header.Set("Service-Worker", "script")
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	// WebSockets: the app's own origin goes through, another port's not.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(port)+"/ws", &websocket.DialOptions{HTTPClient: c, HTTPHeader: http.Header{"Origin": {base}}})
	if err != nil {
		t.Fatalf("own-origin WebSocket: %v", err)
	}
	ws.Write(ctx, websocket.MessageText, []byte("hi"))
	if _, b, err := ws.Read(ctx); err != nil || string(b) != "echo hi" {
		t.Fatalf("through the WebSocket: %q %v", b, err)
	}
	ws.CloseNow()
	_, resp, err := websocket.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(port)+"/ws", &websocket.DialOptions{HTTPClient: c, HTTPHeader: http.Header{"Origin": {"http://127.0.0.1:7861"}}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("another origin's WebSocket: %v %v", err, resp)
	}
	// DNS rebinding: a name that is not terok's.
	resp, body := get(t, c, base+"/", func(r *http.Request) { r.Host = "rebound.evil.example:" + strconv.Itoa(port) })
	if resp.StatusCode != 403 || !strings.Contains(body, auth.AllowedHostsVar) {
		t.Fatalf("rebinding Host: %d %s", resp.StatusCode, body)
	}
}

// TestPublisher: a listener opens at Allocate on the listen host (ports
// another program holds there are skipped) and closes at Release (the
// task's relay forgotten); Restore opens them again after a restart.
func TestPublisher(t *testing.T) {
	f := newFixture(t)
	// Another program on the middle port of the range.
	busy, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(f.base+1))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	p1, err := f.pub.Allocate("t1")
	if err != nil || p1 != f.base {
		t.Fatalf("t1: %d %v, want %d", p1, err, f.base)
	}
	if again, _ := f.pub.Allocate("t1"); again != p1 {
		t.Fatalf("t1 again: %d, want %d", again, p1)
	}
	p2, err := f.pub.Allocate("t2")
	if err != nil || p2 != f.base+2 {
		t.Fatalf("t2: %d %v, want %d (the middle port is another program's)", p2, err, f.base+2)
	}
	dial := func(port int) error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	if dial(p1) != nil || dial(p2) != nil {
		t.Fatal("a task's listener is not open")
	}
	f.pub.Release("t1")
	if dial(p1) == nil {
		t.Fatal("the listener stayed open after Release")
	}
	if _, ok := f.pub.HostPort("t1"); ok {
		t.Fatal("HostPort after Release")
	}
	f.dialer.mu.Lock()
	forgot := strings.Join(f.dialer.forgot, ",")
	f.dialer.mu.Unlock()
	if forgot != "t1" {
		t.Fatalf("dialer forgot %q, want t1", forgot)
	}

	// terok-web restarts: the running task's listener opens again.
	f.pub.Close()
	if dial(p2) == nil {
		t.Fatal("a listener stayed open after Close")
	}
	g := newFixtureAt(t, f.base)
	if err := g.pub.Restore(map[string]int{"t2": p2, "t9": f.base + 3}); err == nil {
		t.Fatal("a port outside the range was restored")
	}
	if err := g.pub.Restore(map[string]int{"t2": p2}); err != nil {
		t.Fatal(err)
	}
	if port, ok := g.pub.HostPort("t2"); !ok || port != p2 || dial(p2) != nil {
		t.Fatalf("restored: %d %v", port, ok)
	}
	if p, err := g.pub.Allocate("t3"); err != nil || p != f.base {
		t.Fatalf("after restore t3 got %d %v, want the free %d", p, err, f.base)
	}
}
