package broker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/httpmw"
	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/phantoms"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

type fixedCred struct{}

func (fixedCred) Credential(context.Context, *providers.Provider, string) (providers.Header, string, error) {
	return providers.Header{Name: "X-Api-Key"}, "sk-real-ws", nil
}

type recAudit struct {
	mu      sync.Mutex
	entries []vaultapi.AuditEntry
}

func (r *recAudit) Record(_, _ string, e vaultapi.AuditEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
}

// TestWebSocket: an upgraded connection passes through the broker (behind
// kit's middleware, as the vault serves it) both ways, with the real key
// in the upstream's handshake and the bytes counted in the task's audit;
// the access line says the connection was handed over, and holds no key.
func TestWebSocket(t *testing.T) {
	ca, err := testkit.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ca.Listen()
	if err != nil {
		t.Fatal(err)
	}
	gotKey := make(chan string, 1)
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey <- r.Header.Get("X-Api-Key") + " " + r.Header.Get("Upgrade")
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw) // echo until the client closes
	})}
	go up.Serve(ln)
	defer up.Close()

	src := "upstream https://" + ln.Addr().String() + "\ninject x-api-key\nphantom sk-ws-{alnum:40}\nroute GET /v1/realtime\n"
	p, err := providers.Parse("ws", "ws.provider", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	ph, _ := phantoms.Open(dir, "phantoms.json")
	minted, err := ph.Mint("demo", "t1", []*providers.Provider{p})
	if err != nil {
		t.Fatal(err)
	}
	aud := &recAudit{}
	lim := config.Default().Limits
	b := New(Options{Providers: providers.NewSet(p), Phantoms: ph, Credentials: fixedCred{}, Audit: aud,
		Log: zerolog.Nop(), Limits: lim, RootCAs: ca.Pool})
	var logs testkit.SyncBuffer
	srv := httptest.NewServer(httpmw.Wrap(b, zerolog.New(&logs)))
	defer srv.Close()

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET /ws/v1/realtime HTTP/1.1\r\nHost: broker\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Api-Key: %s\r\n\r\n", minted[0].Token)
	rd := bufio.NewReader(c)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	if k := <-gotKey; k != "sk-real-ws websocket" {
		t.Errorf("the upstream's handshake had %q", k)
	}
	for _, msg := range []string{"hello", "again"} {
		fmt.Fprint(c, msg)
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(rd, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q: %q %v", msg, buf, err)
		}
	}
	c.Close()
	for i := 0; i < 100; i++ { // bounded: the audit is written when the proxied connection ends
		aud.mu.Lock()
		n := len(aud.entries)
		aud.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	aud.mu.Lock()
	defer aud.mu.Unlock()
	if len(aud.entries) != 1 || aud.entries[0].Status != 101 || aud.entries[0].BytesIn < 10 || aud.entries[0].BytesOut < 10 {
		t.Errorf("audit %+v", aud.entries)
	}
	if strings.Contains(fmt.Sprint(aud.entries), "sk-") {
		t.Error("the audit holds a key")
	}
	// The line is written when the handler has returned, after the audit.
	for i := 0; i < 100 && !strings.Contains(logs.String(), `"hijacked":true`); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if l := logs.String(); !strings.Contains(l, `"hijacked":true`) || !strings.Contains(l, `"path":"/ws/v1/realtime"`) ||
		!strings.Contains(l, `"task":"t1"`) || strings.Contains(l, "sk-") {
		t.Errorf("access line: %s", l)
	}
}
