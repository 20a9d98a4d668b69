package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// The hostile suite of terok-web's listeners: real terok-web (fake
// daemons behind it) on loopback, and clients that hold connections,
// flood, and send what no browser or terok command sends. Nothing here
// measures time: every check is an answer, a closed connection or a
// count. The clocks are long (five minutes) where a held connection must
// stay held for the whole test, and short only where a test shows that
// something outlives them.

// hostileWeb is one terok-web under attack.
type hostileWeb struct {
	t     *testing.T
	cfg   config.Config
	tcp   string
	token string

	mu  sync.Mutex
	lim *listenlimit.Server
	pub *webproxy.Publisher
}

// longClocks keeps held connections held for the whole test.
func longClocks(l *listenlimit.Limits) {
	l.ReadHeaderTimeout = 5 * time.Minute
	l.IdleTimeout = 5 * time.Minute
	l.UncredentialedTimeout = 5 * time.Minute
}

// startHostile starts terok-web with tune applied to its configuration;
// app is where web tasks' apps are reached ("" for none).
func startHostile(t *testing.T, app string, tune func(*config.Config)) *hostileWeb {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &hostileWeb{t: t}
	if app == "" {
		app = "127.0.0.1:1"
	}
	cfg, tcp, done := started(t, ctx, app, func(c *config.Config, d *Deps) {
		if tune != nil {
			tune(c)
		}
		d.Listening = func(s *listenlimit.Server, p *webproxy.Publisher) {
			h.mu.Lock()
			h.lim, h.pub = s, p
			h.mu.Unlock()
		}
	})
	h.cfg, h.tcp, h.token = cfg, tcp, cfg.Token
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Error("terok-web did not stop")
		}
	})
	return h
}

func (h *hostileWeb) stats() listenlimit.Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lim.Stats()
}

// waitStats polls the counts until cond holds (bounded).
func (h *hostileWeb) waitStats(what string, cond func(listenlimit.Stats) bool) {
	h.t.Helper()
	for i := 0; i < 3000; i++ {
		if cond(h.stats()) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("%s: never; %+v", what, h.stats())
}

// rawConn is a client connection that speaks HTTP/1.1 by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// answer reads one response (a minute's bound for a hang, no timing).
func (c *rawConn) answer(t *testing.T) (*http.Response, string) {
	t.Helper()
	resp, body, err := c.tryAnswer()
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return resp, body
}

func (c *rawConn) tryAnswer() (*http.Response, string, error) {
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// ended reports whether the server has closed c (a read ends in EOF or a
// reset, not in the minute's bound).
func (c *rawConn) ended() bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := c.r.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func (h *hostileWeb) bearer() string { return "Authorization: Bearer " + h.token + "\r\n" }

// get sends a whole keep-alive GET with the given header lines.
func (c *rawConn) get(path, hdrs string) {
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path, hdrs)
}

// login logs a browser in with the token and returns its session cookie
// as a Cookie header line.
func (h *hostileWeb) login() string {
	h.t.Helper()
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: time.Minute}
	resp, err := cl.PostForm("http://"+h.tcp+"/login", url.Values{"token": {h.token}})
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "terok_session_") && c.Value != "" {
			return "Cookie: " + c.Name + "=" + c.Value + "\r\n"
		}
	}
	h.t.Fatalf("login: %s without a session cookie", resp.Status)
	return ""
}

// served checks that a request with hdrs gets 200 on a new connection,
// then closes it.
func (h *hostileWeb) served(what, hdrs string) {
	h.t.Helper()
	c := dialRaw(h.t, h.tcp)
	defer c.Close()
	c.get("/api/v1/projects", hdrs)
	if resp, body := c.answer(h.t); resp.StatusCode != 200 {
		h.t.Fatalf("%s: %d %s", what, resp.StatusCode, body)
	}
}

// refused checks a refusal of the limits: status, the limit named in the
// header and the body, and the connection closed after it.
func refused(t *testing.T, what string, c *rawConn, lim listenlimit.Limit, max int) {
	t.Helper()
	resp, body := c.answer(t)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get(listenlimit.LimitHeader) != string(lim) ||
		!strings.Contains(body, fmt.Sprintf(`"limit":"%s"`, lim)) || !strings.Contains(body, fmt.Sprintf(`"max":%d`, max)) ||
		resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: %d %v %s, want 429 naming %s (max %d)", what, resp.StatusCode, resp.Header, body, lim, max)
	}
	if !c.ended() {
		t.Fatalf("%s: the refused connection stayed open", what)
	}
}

// TestHostileWebHeldWithoutCredential: connections without a credential
// are held, half sent and trickled. A request that declares a body and
// never sends it is answered 401 at once and its connection closed; past
// the cap of such connections the oldest still waiting for its headers is
// closed with a 429 naming the limit; meanwhile the token and a browser
// session are served.
func TestHostileWebHeldWithoutCredential(t *testing.T) {
	const maxUncred = 4
	h := startHostile(t, "", func(c *config.Config) {
		longClocks(&c.Listener)
		c.Listener.MaxUncredentialedConns = maxUncred
	})
	session := h.login()

	// A body declared and never sent: without a credential, with a
	// wrong token, with a revoked-looking cookie. Each is answered (Go
	// would otherwise wait for the body before its 401) and closed.
	for name, hdr := range map[string]string{
		"none":         "",
		"wrong token":  "Authorization: Bearer not-this-terok-0123456789\r\n",
		"stale cookie": strings.Replace(session, "=", "=x", 1),
	} {
		c := dialRaw(t, h.tcp)
		fmt.Fprintf(c, "POST /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{", hdr)
		resp, body := c.answer(t)
		if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
			t.Fatalf("%s, body never sent: %d close=%v %s", name, resp.StatusCode, resp.Close, body)
		}
		if !c.ended() {
			t.Fatalf("%s, body never sent: the connection stayed open", name)
		}
	}
	h.waitStats("the refused ones gone", func(s listenlimit.Stats) bool { return s.Uncredentialed == 0 })

	// Eight connections without a credential: four trickle a request a
	// byte at a time (slowloris), four send half their headers and stop.
	stop := make(chan struct{})
	var trickling sync.WaitGroup
	defer func() { close(stop); trickling.Wait() }()
	var held []*rawConn
	base := h.stats().Accepted
	for i := 0; i < 2*maxUncred; i++ {
		c := dialRaw(t, h.tcp)
		if i < maxUncred {
			trickling.Add(1)
			go func() {
				defer trickling.Done()
				req := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + strings.Repeat("s", 4000)
				for j := 0; j < len(req); j++ {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					if _, err := c.Write([]byte{req[j]}); err != nil {
						return
					}
				}
			}()
		} else {
			fmt.Fprintf(c, "GET /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
		}
		held = append(held, c)
		n := uint64(len(held))
		h.waitStats("accepted", func(s listenlimit.Stats) bool { return s.Accepted >= base+n })
	}
	// The four oldest (the slow ones) were closed for the newcomers: a
	// 429 naming the limit, or a reset when it crossed a byte in flight.
	for i := 0; i < maxUncred; i++ {
		resp, body, err := held[i].tryAnswer()
		if err == nil && (resp.StatusCode != 429 || resp.Header.Get(listenlimit.LimitHeader) != string(listenlimit.LimitUncredentialed) ||
			!strings.Contains(body, "too many connections without a valid credential")) {
			t.Fatalf("slow connection %d: %d %v %s", i, resp.StatusCode, resp.Header, body)
		}
		if err != nil && !held[i].ended() {
			t.Fatalf("slow connection %d: neither refused nor closed: %v", i, err)
		}
	}
	if st := h.stats(); st.Uncredentialed != maxUncred || st.Refused[listenlimit.LimitUncredentialed] != maxUncred {
		t.Fatalf("after eight held: %+v", st)
	}
	// Those held still: a newcomer without a credential closes the
	// oldest of them, and one with the token or a session is served.
	extra := dialRaw(t, h.tcp)
	extra.get("/api/v1/projects", "")
	if resp, _ := extra.answer(t); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a newcomer without a credential: %d", resp.StatusCode)
	}
	refused(t, "the oldest half-sent connection", held[maxUncred], listenlimit.LimitUncredentialed, maxUncred)
	h.served("the token while connections are held", h.bearer())
	h.served("a session while connections are held", session)
	if st := h.stats(); st.Refused[listenlimit.LimitPerCredential] != 0 || st.Refused[listenlimit.LimitCredentialed] != 0 {
		t.Fatalf("a credential was refused: %+v", st)
	}
}

// TestHostileWebFloods: one browser session opens connections until
// refused and holds them; past its limit it gets a 429 naming it while
// a second session and the token are served; past the total every
// credential is refused until a connection ends. WebSockets count per
// credential the same way.
func TestHostileWebFloods(t *testing.T) {
	const perCred, total = 3, 5
	h := startHostile(t, "", func(c *config.Config) {
		longClocks(&c.Listener)
		c.Listener.MaxConnsPerCredential = perCred
		c.Listener.MaxCredentialedConns = total
	})
	a, b := h.login(), h.login()

	var heldA []*rawConn
	for i := 0; i < perCred; i++ {
		c := dialRaw(t, h.tcp)
		c.get("/api/v1/projects", a)
		if resp, body := c.answer(t); resp.StatusCode != 200 {
			t.Fatalf("a's request %d: %d %s", i, resp.StatusCode, body)
		}
		heldA = append(heldA, c) // idle keep-alive, counted
	}
	flood := dialRaw(t, h.tcp)
	flood.get("/api/v1/projects", a)
	refused(t, "a's fourth connection", flood, listenlimit.LimitPerCredential, perCred)

	// Another session is served while a floods, and holds one; the
	// token holds one: the total is reached.
	bHeld := dialRaw(t, h.tcp)
	bHeld.get("/api/v1/projects", b)
	if resp, body := bHeld.answer(t); resp.StatusCode != 200 {
		t.Fatalf("b while a floods: %d %s", resp.StatusCode, body)
	}
	tHeld := dialRaw(t, h.tcp)
	tHeld.get("/api/v1/projects", h.bearer())
	if resp, body := tHeld.answer(t); resp.StatusCode != 200 {
		t.Fatalf("the token while a floods: %d %s", resp.StatusCode, body)
	}
	st := h.stats()
	if st.Credentialed != total || st.PerCredential[TokenKey] != 1 || len(st.PerCredential) != 3 {
		t.Fatalf("counts at the total: %+v", st)
	}
	for k := range st.PerCredential {
		if k != TokenKey && (!strings.HasPrefix(k, SessionKeyPrefix) || strings.Contains(a+b, strings.TrimPrefix(k, SessionKeyPrefix))) {
			t.Fatalf("credential key %q: want session:<id>, never the cookie", k)
		}
	}
	over := dialRaw(t, h.tcp)
	over.get("/api/v1/projects", b)
	refused(t, "b past the total", over, listenlimit.LimitCredentialed, total)

	// One of a's ends: b is served again, on the connection it holds and
	// on a new one.
	heldA[0].Close()
	h.waitStats("a's first gone", func(s listenlimit.Stats) bool { return s.Credentialed == total-1 })
	h.served("b after a let one go", b)
	bHeld.get("/api/v1/projects", b)
	if resp, _ := bHeld.answer(t); resp.StatusCode != 200 {
		t.Fatalf("b's held connection: %d", resp.StatusCode)
	}
	for _, c := range append(heldA[1:], bHeld, tHeld) {
		c.Close()
	}
	h.waitStats("all let go", func(s listenlimit.Stats) bool { return s.Credentialed == 0 })

	// WebSockets: the token's event streams count under the token; the
	// fourth is refused with the same 429, and b is served meanwhile.
	cl, err := webapi.NewURL("http://"+h.tcp, h.token)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, hc, hdr := cl.WebSocket("/api/v1/events")
	for i := 0; i < perCred; i++ {
		ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
		if err != nil {
			t.Fatalf("events WebSocket %d: %v", i, err)
		}
		defer ws.CloseNow()
	}
	h.waitStats("three WebSockets", func(s listenlimit.Stats) bool { return s.PerCredential[TokenKey] == perCred })
	_, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
	if err == nil || resp == nil || resp.StatusCode != 429 || resp.Header.Get(listenlimit.LimitHeader) != string(listenlimit.LimitPerCredential) {
		t.Fatalf("a fourth events WebSocket: %v %+v", err, resp)
	}
	h.served("b beside the token's WebSockets", b)
}

// TestHostileWebProtocol: requests no client sends, with and without the
// token: folded headers, a wrong method before the credential (401, not
// the 404/405 that would tell what exists), oversized headers, malformed
// WebSocket upgrades. Each gets its 4xx, none a 2xx or a 5xx, and
// terok-web serves the token after all of them.
func TestHostileWebProtocol(t *testing.T) {
	h := startHostile(t, "", nil)
	tok := h.bearer()
	upgrade := "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	key := "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, tc := range []struct {
		name, req string
		want      int
	}{
		{"folded Authorization", "GET /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer\r\n " + h.token + "\r\n\r\n", 400},
		{"folded other header", "GET /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + "X-A: b\r\n\tc\r\n\r\n", 400},
		{"DELETE the project list without a credential", "DELETE /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 401},
		{"PATCH a task without a credential", "PATCH /api/v1/tasks/t1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 401},
		{"PUT nowhere without a credential", "PUT /api/v1/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", 401},
		{"TRACE the events without a credential", "TRACE /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 401},
		{"DELETE the project list with the token", "DELETE /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + "\r\n", 405},
		{"PUT nowhere with the token", "PUT /api/v1/nope HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + "Content-Length: 0\r\n\r\n", 404},
		{"oversized headers without a credential", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("b", 100<<10) + "\r\n\r\n", 431},
		{"oversized headers with the token", "GET /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + "X-Big: " + strings.Repeat("b", 100<<10) + "\r\n\r\n", 431},
		{"upgrade without a key", "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + upgrade + "Sec-WebSocket-Version: 13\r\n\r\n", 400},
		{"upgrade of an unknown version", "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + upgrade + key + "Sec-WebSocket-Version: 99\r\n\r\n", 400},
		{"upgrade without Connection", "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + "Upgrade: websocket\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n", 426},
		{"upgrade with a wrong ?token", "GET /api/v1/events?token=wrong-token-0123456789 HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + key + "Sec-WebSocket-Version: 13\r\n\r\n", 401},
		{"upgrade by POST", "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + upgrade + key + "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n", 405},
		{"upgrade of a terminal of a bad task id", "GET /api/v1/tasks/nope/attach HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + upgrade + key + "Sec-WebSocket-Version: 13\r\n\r\n", 400},
		{"upgrade of a terminal of no task", "GET /api/v1/tasks/abc234/attach HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + upgrade + key + "Sec-WebSocket-Version: 13\r\n\r\n", 404},
		{"upgrade from another site", "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + tok + upgrade + key + "Sec-WebSocket-Version: 13\r\nOrigin: http://evil.example\r\n\r\n", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, h.tcp)
			fmt.Fprint(c, tc.req)
			resp, body := c.answer(t)
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tc.want)
			}
			c.Close()
			h.served("the token after it", tok)
		})
	}
}

// TestHostileWebSocketOutlivesDeadlines: a terminal's WebSocket outlives
// every clock of the listener (header, idle, without-credential, and a
// read and write timeout set too): once upgraded, a connection is its
// handler's, counted until it closes.
func TestHostileWebSocketOutlivesDeadlines(t *testing.T) {
	h := startHostile(t, "", func(c *config.Config) {
		for _, l := range []*listenlimit.Limits{&c.Listener} {
			l.ReadHeaderTimeout, l.IdleTimeout, l.UncredentialedTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
			l.ReadTimeout, l.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
		}
	})
	bg := context.Background()
	sock := webapi.New(h.cfg.Socket)
	task, err := sock.Run(bg, webapi.RunRequest{Project: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := webapi.NewURL("http://"+h.tcp, h.token)
	if err != nil {
		t.Fatal(err)
	}
	u, hc, hdr := cl.WebSocket(webapi.AttachURL(task.ID, ""))
	term, _, err := websocket.Dial(bg, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	defer term.CloseNow()
	echo := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, time.Minute)
		defer cancel()
		if err := term.Write(ctx, websocket.MessageBinary, []byte(what+"\n")); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		var got []byte
		for !strings.Contains(string(got), what) {
			_, b, err := term.Read(ctx)
			if err != nil {
				t.Fatalf("%s: %v (got %q)", what, err, got)
			}
			got = append(got, b...)
		}
	}
	echo("before")
	h.waitStats("the terminal counted", func(s listenlimit.Stats) bool { return s.PerCredential[TokenKey] == 1 })
	time.Sleep(time.Second) // past every clock above (not a timing check: the echo is)
	echo("after")
	if st := h.stats(); st.PerCredential[TokenKey] != 1 {
		t.Fatalf("the terminal's count: %+v", st)
	}
	term.Close(websocket.StatusNormalClosure, "")
	h.waitStats("the terminal let go", func(s listenlimit.Stats) bool { return s.Credentialed == 0 })
}

// uiApp is a web task's app: a page at / and an echoing WebSocket at /ws.
func uiApp(t *testing.T) *httptest.Server {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			fmt.Fprint(w, "the app's page")
			return
		}
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
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	}))
	t.Cleanup(app.Close)
	return app
}

// TestHostileWebTaskUI: a web task's UI listener counts every grant of
// the task under the task: past its limit a browser with a grant gets a
// 429 naming it, a request another origin's page makes with the grant
// counts as without one (403, closed), connections without a grant are
// capped, and terok's own listener serves the token throughout.
func TestHostileWebTaskUI(t *testing.T) {
	const perTask, uncred = 2, 2
	app := uiApp(t)
	h := startHostile(t, strings.TrimPrefix(app.URL, "http://"), func(c *config.Config) {
		longClocks(&c.TaskUI)
		c.TaskUI.MaxConnsPerCredential, c.TaskUI.MaxCredentialedConns, c.TaskUI.MaxUncredentialedConns = perTask, perTask, uncred
	})
	bg := context.Background()
	sock := webapi.New(h.cfg.Socket)
	web, err := sock.Run(bg, webapi.RunRequest{Project: "demo", Mode: webapi.ModeWeb})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := sock.WebTicket(bg, web.ID)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := browser.Get(tk.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "the app's page" {
		t.Fatalf("the UI with a ticket: %d %q", resp.StatusCode, body)
	}
	browser.CloseIdleConnections()
	uiStats := func(what string, cond func(listenlimit.Stats) bool) {
		t.Helper()
		for i := 0; i < 3000; i++ {
			h.mu.Lock()
			st, ok := h.pub.ListenerStats(web.ID)
			h.mu.Unlock()
			if ok && cond(st) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("task UI: %s: never", what)
	}
	uiStats("the browser's connections gone", func(s listenlimit.Stats) bool { return s.Credentialed == 0 })
	uiURL, _ := url.Parse(tk.URL)
	grant := ""
	for _, c := range jar.Cookies(uiURL) {
		grant += "Cookie: " + c.Name + "=" + c.Value + "\r\n"
	}

	// The task's grant holds two connections; the third is refused.
	var held []*rawConn
	for i := 0; i < perTask; i++ {
		c := dialRaw(t, uiURL.Host)
		c.get("/", grant)
		if resp, body := c.answer(t); resp.StatusCode != 200 {
			t.Fatalf("granted request %d: %d %s", i, resp.StatusCode, body)
		}
		held = append(held, c)
	}
	c := dialRaw(t, uiURL.Host)
	c.get("/", grant)
	refused(t, "a third granted connection", c, listenlimit.LimitPerCredential, perTask)

	// Another origin's page (another task's, same site) fetching with the
	// grant: refused, and not counted under the task.
	c = dialRaw(t, uiURL.Host)
	c.get("/", grant+"Sec-Fetch-Site: same-site\r\nSec-Fetch-Mode: cors\r\n")
	if resp, body := c.answer(t); resp.StatusCode != http.StatusForbidden || !resp.Close {
		t.Fatalf("a cross-origin fetch with the grant: %d close=%v %s", resp.StatusCode, resp.Close, body)
	}
	if !c.ended() {
		t.Fatal("the cross-origin fetch's connection stayed open")
	}

	// Without a grant: three half-sent connections; the oldest is
	// closed with a 429 for the third.
	var anon []*rawConn
	for i := 0; i < uncred+1; i++ {
		c := dialRaw(t, uiURL.Host)
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
		anon = append(anon, c)
	}
	refused(t, "the oldest half-sent connection", anon[0], listenlimit.LimitUncredentialed, uncred)

	// terok's own listener is untouched by all of it.
	h.served("the token beside the task UI's flood", h.bearer())
	// A grant's connection let go frees its slot.
	held[0].Close()
	uiStats("the first granted connection gone", func(s listenlimit.Stats) bool { return s.Credentialed == perTask-1 })
	c = dialRaw(t, uiURL.Host)
	c.get("/", grant)
	if resp, body := c.answer(t); resp.StatusCode != 200 {
		t.Fatalf("the freed slot: %d %s", resp.StatusCode, body)
	}
}
