package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
)

// TestHostileSlowloris: connections without a token, and connections with
// one task's token, are opened until refused and held (idle, or half
// sent). Past the limits they are refused with a 429 naming the limit;
// meanwhile another task's clone succeeds. Nothing here measures time:
// every check is an answer or a count.
func TestHostileSlowloris(t *testing.T) {
	gr := newGit(t)
	g := startGate(t, tempDir(t), func(c *cfgT) {
		// Long clocks, so held connections stay held for the whole test.
		c.Listener.ReadHeaderTimeout = 5 * time.Minute
		c.Listener.IdleTimeout = 5 * time.Minute
		c.BodyIdleTimeout = cfgDuration(5 * time.Minute)
		c.Listener.MaxUncredentialedConns = 8
		c.Listener.MaxConnsPerCredential = 4
		c.Listener.MaxCredentialedConns = 12
	})
	seedDir := seed(t, g, gr, "proj")
	head := gr.run(seedDir, "rev-parse", "HEAD")
	tokA, tokB := g.mint("proj", "a"), g.mint("proj", "b")
	stats := g.srv.ListenerStats
	waitStats := func(what string, cond func(listenlimit.Stats) bool) {
		t.Helper()
		for i := 0; i < 1000; i++ {
			if cond(stats()) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: never; %+v", what, stats())
	}
	refs := "/proj.git/info/refs?service=git-upload-pack"

	// Without a token: twelve connections, every other one with half a
	// request; each new one past eight closes the oldest still waiting.
	var anon []net.Conn
	for i := 0; i < 12; i++ {
		c := dialGate(t, g)
		t.Cleanup(func() { c.Close() })
		if i%2 == 1 {
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: g\r\n", refs)
		}
		anon = append(anon, c)
		n := uint64(len(anon))
		waitStats("accepted", func(s listenlimit.Stats) bool { return s.Accepted >= n })
	}
	for i := 0; i < 4; i++ {
		resp, body := readAnswer(t, anon[i])
		if resp.StatusCode != 429 || resp.Header.Get(listenlimit.LimitHeader) != string(listenlimit.LimitUncredentialed) ||
			!strings.Contains(body, "too many connections without a valid token at once (the limit is 8") {
			t.Fatalf("held connection %d past the limit: %d %v %q", i, resp.StatusCode, resp.Header, body)
		}
	}
	if st := stats(); st.Uncredentialed != 8 || st.Refused[listenlimit.LimitUncredentialed] != 4 {
		t.Fatalf("after twelve without a token: %+v", st)
	}

	// With task a's token: two idle keep-alive connections and two
	// requests whose body stops half way; the fifth is refused.
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c := dialGate(t, g)
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: g\r\n%s\r\n", refs, basic(tokA))
		if resp, _ := readAnswer(t, c); resp.StatusCode != 200 {
			t.Fatalf("a's request %d: %d", i, resp.StatusCode)
		}
		held = append(held, c)
	}
	for i := 0; i < 2; i++ {
		c := dialGate(t, g)
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /proj.git/git-upload-pack HTTP/1.1\r\nHost: g\r\n%sContent-Type: application/x-git-upload-pack-request\r\n"+
			"Git-Protocol: version=2\r\nContent-Length: 1000\r\n\r\n%s", basic(tokA), pkt("command=fetch\n"))
		held = append(held, c)
	}
	waitStats("a's four connections counted", func(s listenlimit.Stats) bool { return s.Credentialed == 4 })
	// (How many held ones without a token are left depends on when each
	// of a's connections showed its token; nothing moves now.)
	want := fmt.Sprintf("map[with_token:4 without_token:%d]", stats().Uncredentialed)
	if h, err := g.api.Health(g.ctx()); err != nil || fmt.Sprint(h.Details["git_connections"]) != want {
		t.Fatalf("health: %+v %v, want git_connections %s", h.Details, err, want)
	}
	c := dialGate(t, g)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: g\r\n%s\r\n", refs, basic(tokA))
	resp, body := readAnswer(t, c)
	c.Close()
	if resp.StatusCode != 429 || resp.Header.Get(listenlimit.LimitHeader) != string(listenlimit.LimitPerCredential) ||
		resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "too many connections with this token at once (the limit is 4 per token") {
		t.Fatalf("a's fifth connection: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	// git shows the reason.
	out, err := gr.try("", "ls-remote", g.url(tokA, "proj"))
	if err == nil || !strings.Contains(out, "remote: terok-gate: too many connections with this token at once") {
		t.Fatalf("git with a's token past its limit: %v\n%s", err, out)
	}

	// Meanwhile task b clones.
	dst := filepath.Join(tempDir(t), "b")
	gr.run("", "clone", "-q", g.url(tokB, "proj"), dst)
	if got := gr.run(dst, "rev-parse", "HEAD"); got != head {
		t.Fatalf("b's clone: HEAD %s, want %s", got, head)
	}
	// a's four are still held, and still refused a fifth.
	waitStats("b's connections gone", func(s listenlimit.Stats) bool { return s.Credentialed == 4 })
	if st := stats(); len(st.PerCredential) != 1 || st.Uncredentialed > 8 {
		t.Fatalf("after b's clone: %+v", st)
	}

	// All tokens together: c and d hold four each, which fills the
	// twelve; then b is refused by the total, until d lets go.
	var dConns []net.Conn
	for _, tok := range []string{g.mint("proj", "c"), g.mint("proj", "d")} {
		for i := 0; i < 4; i++ {
			c := dialGate(t, g)
			t.Cleanup(func() { c.Close() })
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: g\r\n%s\r\n", refs, basic(tok))
			if resp, _ := readAnswer(t, c); resp.StatusCode != 200 {
				t.Fatalf("%d", resp.StatusCode)
			}
			dConns = append(dConns, c)
		}
	}
	c = dialGate(t, g)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: g\r\n%s\r\n", refs, basic(tokB))
	resp, body = readAnswer(t, c)
	c.Close()
	if resp.StatusCode != 429 || resp.Header.Get(listenlimit.LimitHeader) != string(listenlimit.LimitCredentialed) ||
		!strings.Contains(body, "too many connections with tokens at once (the limit is 12 in all") {
		t.Fatalf("b past the total: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	for _, c := range dConns[4:] {
		c.Close()
	}
	waitStats("d's connections gone", func(s listenlimit.Stats) bool { return s.Credentialed == 8 })
	out, err = gr.try("", "ls-remote", g.url(tokB, "proj"))
	if err != nil || !strings.Contains(out, head) {
		t.Fatalf("b after d let go: %v\n%s", err, out)
	}

	// Everything let go: nothing stays counted.
	for _, c := range append(append(anon, held...), dConns...) {
		c.Close()
	}
	waitStats("all let go", func(s listenlimit.Stats) bool { return s.Credentialed == 0 && s.Uncredentialed == 0 })
}

// readAnswer reads one response from c (bounded by dialGate's deadline).
func readAnswer(t *testing.T, c net.Conn) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}
