package listenlimit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
)

// identifyKey takes "Authorization: Key NAME" as the credential NAME.
func identifyKey(r *http.Request) (Credential, bool) {
	k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Key ")
	if !ok || k == "" {
		return Credential{}, false
	}
	return Credential{Key: k, Value: "value of " + k}, true
}

type testServer struct {
	t    *testing.T
	s    *Server
	addr string
	logs *testkit.SyncBuffer
}

// hello answers 401 without a credential and "hello KEY" with one.
func hello(w http.ResponseWriter, r *http.Request) {
	c, ok := CredentialOf(r)
	if !ok {
		http.Error(w, "no credential", http.StatusUnauthorized)
		return
	}
	fmt.Fprintf(w, "hello %s (%v)", c.Key, c.Value)
}

func start(t *testing.T, lim Limits, h http.Handler) *testServer {
	t.Helper()
	if err := lim.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	s := NewServer(h, lim, Options{Identify: identifyKey, Log: zerolog.New(logs)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testServer{t: t, s: s, addr: ln.Addr().String(), logs: logs}
}

func (ts *testServer) dial() net.Conn {
	ts.t.Helper()
	c, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	if err != nil {
		ts.t.Fatal(err)
	}
	// A safety net for a broken server, never a measurement.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	ts.t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond (bounded: 10 s) for state the server reaches on its
// own goroutines.
func (ts *testServer) waitFor(what string, cond func(Stats) bool) {
	ts.t.Helper()
	for i := 0; i < 1000; i++ {
		if cond(ts.s.Stats()) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.t.Fatalf("%s: never reached; stats %+v", what, ts.s.Stats())
}

type reply struct {
	status int
	header http.Header
	body   string
	close  bool // the answer said Connection: close
}

// do sends req on c and reads one response.
func do(t *testing.T, c net.Conn, br *bufio.Reader, req string) reply {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", strings.SplitN(req, "\r\n", 2)[0], err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return reply{resp.StatusCode, resp.Header, string(b), resp.Close}
}

func get(key string) string {
	auth := ""
	if key != "" {
		auth = "Authorization: Key " + key + "\r\n"
	}
	return "GET / HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n"
}

func small() Limits {
	l := Default()
	// Held connections must outlive the test, and a request without a
	// credential must end by the limits' doing, not by its deadline (the
	// test's own 30 s safety net would fail first).
	l.ReadHeaderTimeout = 2 * time.Minute
	l.UncredentialedTimeout = 2 * time.Minute
	l.MaxUncredentialedConns = 3
	l.MaxConnsPerCredential = 2
	l.MaxCredentialedConns = 3
	return l
}

// TestUncredentialedAnswerAtOnce: a request without a credential that
// declares a body and never sends it is answered at once and the
// connection closed; Go would otherwise try to read the body first.
func TestUncredentialedAnswerAtOnce(t *testing.T) {
	ts := start(t, small(), http.HandlerFunc(hello))
	c := ts.dial()
	br := bufio.NewReader(c)
	r := do(t, c, br, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\nfirst bytes")
	if r.status != 401 || !r.close {
		t.Fatalf("got %d %v", r.status, r.header)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection left open after the answer: %v", err)
	}
	ts.waitFor("connection forgotten", func(s Stats) bool { return s.Uncredentialed == 0 })
}

// TestUncredentialedBodyCap: a handler reading the body of a request
// without a credential gets at most MaxUncredentialedBodyBytes.
func TestUncredentialedBodyCap(t *testing.T) {
	lim := small()
	lim.MaxUncredentialedBodyBytes = 10
	var got error
	var mu sync.Mutex
	ts := start(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		mu.Lock()
		got = err
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	}))
	c := ts.dial()
	do(t, c, bufio.NewReader(c), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n01234567890123456789")
	mu.Lock()
	defer mu.Unlock()
	var mbe *http.MaxBytesError
	if !errors.As(got, &mbe) || mbe.Limit != 10 {
		t.Fatalf("reading 20 bytes of a request without a credential: %v", got)
	}
}

func TestPerCredentialAndTotal(t *testing.T) {
	ts := start(t, small(), http.HandlerFunc(hello))
	// Two keep-alive connections with key a, idle after their request.
	for i := 0; i < 2; i++ {
		c := ts.dial()
		if r := do(t, c, bufio.NewReader(c), get("a")); r.status != 200 || r.body != "hello a (value of a)" {
			t.Fatalf("a #%d: %d %q", i, r.status, r.body)
		}
	}
	c := ts.dial()
	br := bufio.NewReader(c)
	r := do(t, c, br, get("a"))
	var body map[string]any
	_ = json.Unmarshal([]byte(r.body), &body)
	if r.status != 429 || r.header.Get("Retry-After") != "5" || r.header.Get(LimitHeader) != "conns_per_credential" ||
		body["limit"] != "conns_per_credential" || body["max"] != 2.0 || !strings.Contains(body["error"].(string), "per credential") {
		t.Fatalf("third connection of a: %d %v %q", r.status, r.header, r.body)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("refused connection left open: %v", err)
	}
	// Another key still gets in, until the total of 3 is reached.
	b1 := ts.dial()
	if r := do(t, b1, bufio.NewReader(b1), get("b")); r.status != 200 {
		t.Fatalf("b: %d", r.status)
	}
	cc := ts.dial()
	if r := do(t, cc, bufio.NewReader(cc), get("c")); r.status != 429 || r.header.Get(LimitHeader) != "credentialed_conns" {
		t.Fatalf("c past the total: %d %v", r.status, r.header)
	}
	st := ts.s.Stats()
	if st.Credentialed != 3 || st.PerCredential["a"] != 2 || st.PerCredential["b"] != 1 ||
		st.Refused[LimitPerCredential] != 1 || st.Refused[LimitCredentialed] != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Closing b's connection frees a slot for c.
	b1.Close()
	ts.waitFor("b's connection forgotten", func(s Stats) bool { return s.PerCredential["b"] == 0 })
	cc = ts.dial()
	if r := do(t, cc, bufio.NewReader(cc), get("c")); r.status != 200 {
		t.Fatalf("c after b left: %d", r.status)
	}
	if !strings.Contains(ts.logs.String(), `"limit":"conns_per_credential","credential":"a"`) {
		t.Fatalf("refusal not logged: %s", ts.logs.String())
	}
}

// TestKeepAliveRebinds: one connection counts once, under the key of its
// latest request; a request without a credential ends it.
func TestKeepAliveRebinds(t *testing.T) {
	ts := start(t, small(), http.HandlerFunc(hello))
	c := ts.dial()
	br := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		do(t, c, br, get("a"))
	}
	if st := ts.s.Stats(); st.PerCredential["a"] != 1 || st.Credentialed != 1 || st.Uncredentialed != 0 {
		t.Fatalf("after three requests: %+v", st)
	}
	do(t, c, br, get("b"))
	if st := ts.s.Stats(); st.PerCredential["a"] != 0 || st.PerCredential["b"] != 1 || st.Credentialed != 1 {
		t.Fatalf("after b: %+v", st)
	}
	if r := do(t, c, br, get("")); r.status != 401 {
		t.Fatalf("no credential: %d", r.status)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection open after a request without a credential: %v", err)
	}
	ts.waitFor("all forgotten", func(s Stats) bool { return s.Credentialed == 0 && s.Uncredentialed == 0 })
}

// TestUncredentialedHeldConnections: connections that never send a
// request count against MaxUncredentialedConns; a newcomer closes the
// oldest with a 429, so a credentialed request still gets through.
func TestUncredentialedHeldConnections(t *testing.T) {
	ts := start(t, small(), http.HandlerFunc(hello))
	var held []net.Conn
	for i := 0; i < 5; i++ {
		c := ts.dial()
		if i%2 == 1 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // half a request
		}
		held = append(held, c)
		n := uint64(i + 1)
		ts.waitFor("accepted", func(s Stats) bool { return s.Accepted == n })
	}
	// The two oldest were closed for the newer ones, with a 429.
	for i := 0; i < 2; i++ {
		resp, err := http.ReadResponse(bufio.NewReader(held[i]), nil)
		if err != nil || resp.StatusCode != 429 || resp.Header.Get(LimitHeader) != "uncredentialed_conns" {
			t.Fatalf("held #%d: %v %v", i, resp, err)
		}
	}
	if st := ts.s.Stats(); st.Uncredentialed != 3 || st.Refused[LimitUncredentialed] != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A client with a credential gets in while they are held (it closes
	// the oldest held one on its way).
	c := ts.dial()
	if r := do(t, c, bufio.NewReader(c), get("a")); r.status != 200 {
		t.Fatalf("credentialed request while held: %d", r.status)
	}
	resp, err := http.ReadResponse(bufio.NewReader(held[2]), nil)
	if err != nil || resp.StatusCode != 429 {
		t.Fatalf("held #2 after a newcomer: %v %v", resp, err)
	}
	// The newest held ones are still open and still heard.
	if r := do(t, held[3], bufio.NewReader(held[3]), "Authorization: Key b\r\n\r\n"); r.status != 200 || r.body != "hello b (value of b)" {
		t.Fatalf("the half-sent request finished: %d %q", r.status, r.body)
	}
	if r := do(t, held[4], bufio.NewReader(held[4]), get("b")); r.status != 200 {
		t.Fatalf("the idle connection's request: %d %q", r.status, r.body)
	}
}

// TestAllUncredentialedBusy: when every connection without a credential
// is inside a handler (none waits for headers), a newcomer is refused.
func TestAllUncredentialedBusy(t *testing.T) {
	lim := small()
	release := make(chan struct{})
	ts := start(t, lim, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer close(release)
	for i := 0; i < 3; i++ {
		c := ts.dial()
		io.WriteString(c, get(""))
	}
	ts.waitFor("three busy", func(s Stats) bool { return s.Uncredentialed == 3 && s.Accepted == 3 })
	// Wait until all three are in the handler (Active).
	for i := 0; i < 1000; i++ {
		ts.s.mu.Lock()
		active := 0
		for e := ts.s.uncred.Front(); e != nil; e = e.Next() {
			if e.Value.(*conn).state == http.StateActive {
				active++
			}
		}
		ts.s.mu.Unlock()
		if active == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := ts.dial()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 429 {
		t.Fatalf("newcomer: %v %v", resp, err)
	}
}

// TestHijackedCounted: a hijacked connection counts until its new owner
// closes it.
func TestHijackedCounted(t *testing.T) {
	closeIt := make(chan struct{})
	ts := start(t, small(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
		brw.Flush()
		go func() { <-closeIt; nc.Close() }()
	}))
	c := ts.dial()
	br := bufio.NewReader(c)
	if r := do(t, c, br, get("a")); r.status != 101 {
		t.Fatal(r.status)
	}
	ts.waitFor("hijacked counted", func(s Stats) bool { return s.PerCredential["a"] == 1 })
	close(closeIt)
	ts.waitFor("hijacked forgotten", func(s Stats) bool { return s.Credentialed == 0 })
}

func TestFoldedHeaderRefused(t *testing.T) {
	ts := start(t, small(), http.HandlerFunc(hello))
	c := ts.dial()
	br := bufio.NewReader(c)
	// Go would join the two lines into "Authorization: Key a".
	r := do(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Key\r\n a\r\n\r\n")
	if r.status != 400 || r.header.Get(LimitHeader) != "header_folding" || !strings.Contains(r.body, "obs-fold") {
		t.Fatalf("folded: %d %v %q", r.status, r.header, r.body)
	}
	// On a kept-alive connection, the second request's headers are
	// scanned too.
	c = ts.dial()
	br = bufio.NewReader(c)
	if r := do(t, c, br, get("a")); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := do(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Key a\r\nX-A: 1\r\n\t2\r\n\r\n"); r.status != 400 {
		t.Fatalf("folded second request: %d", r.status)
	}
	// A space inside a value or body bytes after the headers are fine.
	c = ts.dial()
	br = bufio.NewReader(c)
	if r := do(t, c, br, "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Key a\r\nX-A: 1 2\r\nContent-Length: 4\r\n\r\n\n xy"); r.status != 200 {
		t.Fatalf("not folded: %d", r.status)
	}
}

func TestRefusalLog(t *testing.T) {
	var l refusalLog
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	logged := 0
	for i := 0; i < 5; i++ {
		if ok, _, _ := l.note("a", LimitPerCredential, t0.Add(time.Duration(i)*time.Second)); ok {
			logged++
		}
	}
	if logged != 1 {
		t.Fatalf("logged %d of 5 refusals in a minute", logged)
	}
	ok, as, skipped := l.note("a", LimitPerCredential, t0.Add(61*time.Second))
	if !ok || as != "a" || skipped != 4 {
		t.Fatalf("after a minute: %v %q %d", ok, as, skipped)
	}
	if ok, _, _ := l.note("a", LimitCredentialed, t0.Add(62*time.Second)); !ok {
		t.Fatal("another limit of the same key is logged on its own")
	}
	// Memory stays bounded however many keys are refused.
	for i := 0; i < 5000; i++ {
		l.note(fmt.Sprintf("k%d", i), LimitPerCredential, t0.Add(70*time.Second))
	}
	if n := l.size(); n > maxLogKeys+4 {
		t.Fatalf("%d keys remembered", n)
	}
	if _, as, _ := l.note("fresh", LimitPerCredential, t0.Add(71*time.Second)); as != overflowKey {
		t.Fatalf("a key past the bound is logged as %q", as)
	}
	// A minute later old keys make room again.
	if ok, as, _ := l.note("fresh", LimitPerCredential, t0.Add(200*time.Second)); !ok || as != "fresh" {
		t.Fatalf("after the sweep: %v %q", ok, as)
	}
}

func TestLimitsConfig(t *testing.T) {
	l := Default()
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"X_MAX_CONNS_PER_CREDENTIAL": "4", "X_IDLE_TIMEOUT": "30", "X_UNCREDENTIALED_TIMEOUT": "3s"}
	if err := l.ApplyEnv("X_", func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if l.MaxConnsPerCredential != 4 || l.IdleTimeout != 30*time.Second || l.UncredentialedTimeout != 3*time.Second {
		t.Fatalf("%+v", l)
	}
	if err := l.ApplyEnv("X_", func(k string) string { return map[string]string{"X_MAX_HEADER_BYTES": "lots"}[k] }); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "X_MAX_HEADER_BYTES") {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"read_header_timeout": "5s", "max_credentialed_conns": 100}`), &l); err != nil {
		t.Fatal(err)
	}
	if l.ReadHeaderTimeout != 5*time.Second || l.MaxCredentialedConns != 100 || l.MaxConnsPerCredential != 4 {
		t.Fatalf("overlay: %+v", l)
	}
	for _, bad := range []string{`{"max_conns": 1}`, `{"idle_timeout": 5}`, `{"max_header_bytes": "x"}`, `{"max_header_bytes": 1.5}`} {
		if err := json.Unmarshal([]byte(bad), &l); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	b, _ := json.Marshal(Default())
	var back Limits
	if err := json.Unmarshal(b, &back); err != nil || back != Default() {
		t.Fatalf("round trip: %s %+v %v", b, back, err)
	}
	for _, f := range []func(*Limits){
		func(l *Limits) { l.MaxUncredentialedConns = 0 },
		func(l *Limits) { l.IdleTimeout = -1 },
		func(l *Limits) { l.MaxConnsPerCredential = 300 },
	} {
		l := Default()
		f(&l)
		if err := l.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", l, err)
		}
	}
	l = Default()
	l.ReadTimeout = 0
	if err := l.Validate(); err != nil {
		t.Fatalf("0 turns the whole-request timeouts off: %v", err)
	}
}
