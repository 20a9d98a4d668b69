package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/listenlimit"
)

// brokerConn is a connection to the broker that speaks HTTP/1.1 by hand.
type brokerConn struct {
	net.Conn
	r *bufio.Reader
}

func (e *env) dialBroker() *brokerConn {
	e.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.broker, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return &brokerConn{Conn: c, r: bufio.NewReader(c)}
}

// answer reads one response (a minute's bound for a hang, no timing).
func (c *brokerConn) answer(t *testing.T) (*http.Response, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// ended reports whether the broker closed c.
func (c *brokerConn) ended() bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := c.r.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// models asks for the provider's models with phantom (keep-alive).
func (c *brokerConn) models(phantom string) {
	fmt.Fprintf(c, "GET /fake/v1/models HTTP/1.1\r\nHost: broker\r\nX-Api-Key: %s\r\n\r\n", phantom)
}

func refusedBy(t *testing.T, what string, c *brokerConn, lim listenlimit.Limit, max int) {
	t.Helper()
	resp, body := c.answer(t)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get(listenlimit.LimitHeader) != string(lim) ||
		!strings.Contains(body, fmt.Sprintf(`"max":%d`, max)) {
		t.Fatalf("%s: %d %v %s, want a 429 naming %s", what, resp.StatusCode, resp.Header, body, lim)
	}
	if !c.ended() {
		t.Fatalf("%s: the refused connection stayed open", what)
	}
}

// TestHostileBrokerListener: the broker's listener counts connections per
// phantom (kit/listenlimit, key phantom:<id>): one task's phantom that
// holds connections is refused past its limit while another task's is
// served, the total is reached and freed, a request without a phantom
// that declares a body and never sends it is answered 401 at once and
// closed, and held connections without one push out only each other.
// No timing: every check is an answer or a closed connection.
func TestHostileBrokerListener(t *testing.T) {
	e := newEnv(t)
	e.extraEnv = []string{
		"TEROK_VAULT_READ_HEADER_TIMEOUT=300", "TEROK_VAULT_IDLE_TIMEOUT=300", "TEROK_VAULT_UNCREDENTIALED_TIMEOUT=300",
		"TEROK_VAULT_MAX_UNCREDENTIALED_CONNS=4", "TEROK_VAULT_MAX_CONNS_PER_CREDENTIAL=2", "TEROK_VAULT_MAX_CREDENTIALED_CONNS=3",
	}
	e.start()
	if _, _, code := e.cli(secretValue("sk-real-")+"\n", "secret", "set", "fake"); code != 0 {
		t.Fatal("secret set")
	}
	a, err := e.client.MintPhantoms(ctx(t), "demo", "task-a", []string{"fake"})
	mustJSON(t, err, "mint a")
	b, err := e.client.MintPhantoms(ctx(t), "demo", "task-b", []string{"fake"})
	mustJSON(t, err, "mint b")
	phA, phB := a[0].Token, b[0].Token

	// Task a holds two connections; its third is refused.
	var heldA []*brokerConn
	for i := 0; i < 2; i++ {
		c := e.dialBroker()
		c.models(phA)
		if resp, body := c.answer(t); resp.StatusCode != 200 {
			t.Fatalf("a's request %d: %d %s\n%s", i, resp.StatusCode, body, e.out.String())
		}
		heldA = append(heldA, c)
	}
	c := e.dialBroker()
	c.models(phA)
	refusedBy(t, "a's third connection", c, listenlimit.LimitPerCredential, 2)

	// Task b is served meanwhile and holds one: the total is reached.
	bHeld := e.dialBroker()
	bHeld.models(phB)
	if resp, body := bHeld.answer(t); resp.StatusCode != 200 {
		t.Fatalf("b while a floods: %d %s", resp.StatusCode, body)
	}
	c = e.dialBroker()
	c.models(phB)
	refusedBy(t, "b past the total", c, listenlimit.LimitCredentialed, 3)

	// Without a phantom, a body declared and never sent: 401 at once.
	c = e.dialBroker()
	fmt.Fprint(c, "POST /fake/v1/messages HTTP/1.1\r\nHost: broker\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{")
	if resp, body := c.answer(t); resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("no phantom, body never sent: %d close=%v %s", resp.StatusCode, resp.Close, body)
	}
	if !c.ended() {
		t.Fatal("no phantom, body never sent: the connection stayed open")
	}

	// Five half-sent connections without a phantom: the oldest is closed
	// with a 429 for the fifth.
	var anon []*brokerConn
	for i := 0; i < 5; i++ {
		c := e.dialBroker()
		fmt.Fprint(c, "GET /fake/v1/models HTTP/1.1\r\nHost: broker\r\nX-Half: ")
		anon = append(anon, c)
	}
	refusedBy(t, "the oldest half-sent connection", anon[0], listenlimit.LimitUncredentialed, 4)

	// One of a's ends: b is served again (bounded retries while the
	// broker notices the close).
	heldA[0].Close()
	for i := 0; ; i++ {
		c := e.dialBroker()
		c.models(phB)
		resp, _ := c.answer(t)
		c.Close()
		if resp.StatusCode == 200 {
			break
		}
		if i == 300 {
			t.Fatalf("b after a let one go: still %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
