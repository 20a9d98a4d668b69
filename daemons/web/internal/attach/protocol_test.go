package attach_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/attach"
)

// fakeExec stands in for Podman at the Execer seam: the "process" is the
// far end of a pipe the test drives.
type fakeExec struct {
	proc    net.Conn // the test's end
	waitErr error
	code    int

	mu      sync.Mutex
	resizes []string
	cfg     podmanapi.ExecConfig
	created int
}

func (f *fakeExec) CreateExec(_ context.Context, _ string, cfg podmanapi.ExecConfig) (string, error) {
	f.mu.Lock()
	f.cfg = cfg
	f.created++
	f.mu.Unlock()
	return "exec1", nil
}

func (f *fakeExec) StartExec(context.Context, string, podmanapi.ExecStartOptions) (io.ReadWriteCloser, error) {
	a, b := net.Pipe()
	f.mu.Lock()
	f.proc = b
	f.mu.Unlock()
	return a, nil
}

func (f *fakeExec) ResizeExec(_ context.Context, _ string, rows, cols uint16) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resizes = append(f.resizes, itoa(rows)+"x"+itoa(cols))
	return nil
}

func (f *fakeExec) WaitExec(context.Context, string) (int, error) { return f.code, f.waitErr }

func (f *fakeExec) InspectExec(context.Context, string) (podmanapi.ExecSession, error) {
	return podmanapi.ExecSession{}, nil
}

func itoa(n uint16) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func fakeServer(t *testing.T, f *fakeExec) string {
	h := attach.Handler(f, func(w http.ResponseWriter, r *http.Request) (attach.Target, bool) {
		return attach.Target{ContainerID: "c1"}, true
	}, attach.Options{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestProtocolEdges: large input arrives whole, malformed control frames
// are ignored and valid ones applied, the default shell and TERM are set,
// and a session whose exit code cannot be learnt ends with ErrNoExit.
func TestProtocolEdges(t *testing.T) {
	f := &fakeExec{waitErr: errors.New("podman went away")}
	u := fakeServer(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	proc := f.procConn()
	big := bytes.Repeat([]byte("p"), 200<<10) // a paste beyond websocket's default 32 KiB limit
	if err := c.Write(ctx, websocket.MessageBinary, big); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(big))
	if _, err := io.ReadFull(proc, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("paste: %v", err)
	}
	for _, m := range []string{`not json`, `{"type":"resize","rows":0,"cols":80}`, `{"type":"future"}`, `{"type":"resize","rows":50,"cols":160}`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// Input after the control frames proves they were all handled.
	c.Write(ctx, websocket.MessageBinary, []byte("z"))
	one := make([]byte, 1)
	if _, err := io.ReadFull(proc, one); err != nil || one[0] != 'z' {
		t.Fatalf("input after control frames: %q %v", one, err)
	}
	f.mu.Lock()
	resizes, cfg := strings.Join(f.resizes, ","), f.cfg
	f.mu.Unlock()
	if resizes != "50x160" {
		t.Fatalf("resizes applied: %q, want only 50x160", resizes)
	}
	if strings.Join(cfg.Cmd, " ") != strings.Join(attach.DefaultShell, " ") || strings.Join(cfg.Env, ",") != "TERM=xterm-256color" || !cfg.Tty || !cfg.AttachStdin {
		t.Fatalf("exec config: %+v", cfg)
	}
	// The process ends but Podman cannot tell the code: the client
	// learns that, not a made-up code.
	proc.Write([]byte("bye"))
	proc.Close()
	typ, b, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || string(b) != "bye" {
		t.Fatalf("last output: %v %q %v", typ, b, err)
	}
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusInternalError || !strings.Contains(err.Error(), "podman went away") {
		t.Fatalf("close without exit code: %v", err)
	}
}

// TestRunPipes runs the CLI side with pipes instead of a terminal (as in
// `echo cmd | terok task attach ID`): bytes flow both ways and the exit
// code returns; a session cut without one gives ErrNoExit.
func TestRunPipes(t *testing.T) {
	f := &fakeExec{code: 5}
	u := fakeServer(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	defer inW.Close()
	var out bytes.Buffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := attach.Run(ctx, u, attach.DialOptions{}, inR, &out)
		done <- result{code, err}
	}()
	inW.Write([]byte("ping"))
	// Wait for the process end of the pipe to exist, then read.
	deadline := time.Now().Add(20 * time.Second)
	for f.procConn() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p := f.procConn()
	if p == nil {
		t.Fatal("the server never started the exec")
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(p, got); err != nil || string(got) != "ping" {
		t.Fatalf("input: %q %v", got, err)
	}
	p.Write([]byte("pong"))
	p.Close()
	select {
	case r := <-done:
		if r.err != nil || r.code != 5 || out.String() != "pong" {
			t.Fatalf("Run: code %d err %v out %q", r.code, r.err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}

	f2 := &fakeExec{waitErr: errors.New("podman went away")}
	u2 := fakeServer(t, f2)
	go func() {
		code, err := attach.Run(ctx, u2, attach.DialOptions{}, inR, io.Discard)
		done <- result{code, err}
	}()
	for f2.procConn() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f2.procConn() == nil {
		t.Fatal("the server never started the exec")
	}
	f2.procConn().Close()
	select {
	case r := <-done:
		if !errors.Is(r.err, attach.ErrNoExit) {
			t.Fatalf("Run without an exit code: %d %v, want ErrNoExit", r.code, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
}

func (f *fakeExec) procConn() net.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.proc
}

// TestDialUnixSocket attaches over a unix socket, as `terok task attach`
// does through web.sock: the hand-shake goes through a unixhttp client.
func TestDialUnixSocket(t *testing.T) {
	f := &fakeExec{code: 0}
	sock := t.TempDir() + "/web.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	h := attach.Handler(f, func(w http.ResponseWriter, r *http.Request) (attach.Target, bool) {
		if r.URL.Path != "/api/v1/tasks/t1/attach" {
			http.Error(w, `{"error":"unknown task"}`, http.StatusNotFound)
			return attach.Target{}, false
		}
		return attach.Target{ContainerID: "c1"}, true
	}, attach.Options{})
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := unixhttp.NewClient(sock).HTTP()
	if _, err := attach.Dial(ctx, "ws://unix/api/v1/tasks/nope/attach", attach.DialOptions{HTTPClient: hc}); !errors.Is(err, unixhttp.ErrNotFound) || !strings.Contains(err.Error(), "unknown task") {
		t.Fatalf("unknown task over the socket: %v", err)
	}
	s, err := attach.Dial(ctx, "ws://unix/api/v1/tasks/t1/attach", attach.DialOptions{HTTPClient: hc, Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte("x"))
	b := make([]byte, 1)
	if _, err := io.ReadFull(f.procConn(), b); err != nil || b[0] != 'x' {
		t.Fatalf("input over the socket: %q %v", b, err)
	}
	f.procConn().Close()
	if _, err := io.ReadAll(s); err != nil {
		t.Fatalf("read to the end: %v", err)
	}
	if code, ok := s.ExitCode(); !ok || code != 0 {
		t.Fatalf("exit code %d %v", code, ok)
	}
}

// TestHostileAttachOrigin: a page of another origin (a task's UI on
// another port of the same host) asking for a terminal, or a request that
// is no WebSocket upgrade, is refused before any exec exists.
func TestHostileAttachOrigin(t *testing.T) {
	f := &fakeExec{}
	u := fakeServer(t, f)
	host := strings.TrimPrefix(u, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, origin := range []string{"http://127.0.0.1:7860", "http://evil.example", "null"} {
		_, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("Origin %s: %v %v, want 403", origin, err, resp)
		}
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a plain GET: %d, want 400", resp.StatusCode)
	}
	f.mu.Lock()
	n := f.created
	f.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d exec(s) created for refused requests", n)
	}
	// The page's own origin gets its terminal.
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://" + host}}})
	if err != nil {
		t.Fatalf("own origin: %v", err)
	}
	c.CloseNow()
}
