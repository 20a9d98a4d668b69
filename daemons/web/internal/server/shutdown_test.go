package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fakedaemons"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/nsdial"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

// appRelays reach every web task's app at one address (a test server).
type appRelays struct{ addr string }

func (a appRelays) DialTask(ctx context.Context, task string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", a.addr)
}
func (a appRelays) ForgetTask(string) {}
func (a appRelays) Close()            {}

// echoApp is a web task's app: a WebSocket that echoes.
func echoApp(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
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
}

// started runs terok-web with fake daemons and returns web.sock's and
// the TCP listener's addresses and Run's end; tune, when given, changes
// the configuration and the deps before the start.
func started(t testing.TB, ctx context.Context, app string, tune ...func(*config.Config, *Deps)) (cfg config.Config, tcp string, done <-chan error) {
	t.Helper()
	dir := t.TempDir()
	cfg = config.Default()
	cfg.Socket, cfg.StateDir, cfg.ConfigDir, cfg.RunDir = filepath.Join(dir, "web.sock"), filepath.Join(dir, "state"), filepath.Join(dir, "config"), dir
	cfg.Entry, cfg.Listen, cfg.Token = filepath.Join(dir, "terok-entry"), fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)), "test-token-0123456789"
	if err := os.WriteFile(cfg.Entry, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := projects.New(cfg.ConfigDir).Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "agent"}, Run: projects.Run{WebPort: 8080}}); err != nil {
		t.Fatal(err)
	}
	base := testkit.FreeBlock(t, 3)
	addrs := make(chan string, 1)
	d := Deps{Gate: &fakedaemons.Gate{}, Podman: &fakedaemons.Podman{Output: "agent says hi\n"}, Shield: &fakedaemons.Shield{},
		Supervisor: &fakedaemons.Supervisor{Programs: []supervisorapi.ProcessInfo{{Name: "terok-gate", StateName: "RUNNING"}}},
		Relays:     func(nsdial.Resolver) Relays { return appRelays{addr: app} },
		Problem:    func(context.Context, string) string { return "" },
		WebPorts:   [2]int{base, base + 2},
		Started:    func(_, tcp string) { addrs <- tcp }}
	for _, f := range tune {
		f(&cfg, &d)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, zerolog.Nop(), cfg, d) }()
	select {
	case tcp = <-addrs:
	case err := <-errc:
		t.Fatalf("terok-web ended at its start: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("terok-web did not start")
	}
	return cfg, tcp, errc
}

// TestShutdownEndsWhatItServes: terok-web stops while it serves a log
// that follows a running task, the events WebSocket, a terminal and a
// web task's UI with a WebSocket open through it: Run returns (before a
// generous bound: this is no timing), each of them ends, and nothing
// terok-web started is left running.
func TestShutdownEndsWhatItServes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	app := echoApp(t)
	defer app.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, tcp, runDone := started(t, ctx, strings.TrimPrefix(app.URL, "http://"))
	cl := webapi.New(cfg.Socket)
	bg := context.Background() // the streams end because terok-web does, not because we leave
	headless, err := cl.Run(bg, webapi.RunRequest{Project: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	web, err := cl.Run(bg, webapi.RunRequest{Project: "demo", Mode: webapi.ModeWeb})
	if err != nil {
		t.Fatal(err)
	}
	ended := map[string]chan struct{}{}
	open := func(name string) chan struct{} { c := make(chan struct{}); ended[name] = c; return c }

	// A log that follows the running task: its first output arrives.
	logs, got := open("log follower"), make(chan []byte, 1)
	go func() {
		defer close(logs)
		for chunk, err := range cl.Logs(bg, headless.ID, -1, true) {
			if err != nil {
				return
			}
			select {
			case got <- chunk:
			default:
			}
		}
	}()
	wait(t, "the follower's first output", got)

	// The events WebSocket: its acknowledgement arrives.
	evs, acked := open("events"), make(chan webapi.Event, 1)
	go func() {
		defer close(evs)
		for ev, err := range cl.Events(bg) {
			if err != nil {
				return
			}
			select {
			case acked <- ev:
			default:
			}
		}
	}()
	wait(t, "the events' acknowledgement", acked)

	// A terminal in the headless task: it echoes.
	u, hc, h := cl.WebSocket(webapi.AttachURL(headless.ID, ""))
	term, _, err := websocket.Dial(bg, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer term.CloseNow()
	echoed(t, "terminal", term, websocket.MessageBinary, open("terminal"))

	// The web task's UI, through its own listener, with a WebSocket to
	// the app open.
	tk, err := cl.WebTicket(bg, web.ID)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := browser.Get(tk.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ui, _, err := websocket.Dial(bg, strings.Replace(strings.SplitN(tk.URL, "?", 2)[0], "http://", "ws://", 1)+"ws", &websocket.DialOptions{HTTPClient: browser})
	if err != nil {
		t.Fatalf("the UI's WebSocket (after %s): %v", resp.Status, err)
	}
	defer ui.CloseNow()
	echoed(t, "task UI", ui, websocket.MessageText, open("task UI"))

	cancel() // terok-web stops
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(2 * time.Minute): // a bound for a hang
		t.Fatal("terok-web did not stop")
	}
	for name, c := range ended {
		select {
		case <-c:
		case <-time.After(time.Minute):
			t.Errorf("the %s outlived terok-web", name)
		}
	}
	browser.CloseIdleConnections()
	hc.CloseIdleConnections()
	_ = tcp
}

// echoed checks that c answers what it is sent, then reads it in the
// background until it ends (closing ended).
func echoed(t *testing.T, what string, c *websocket.Conn, typ websocket.MessageType, ended chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Write(ctx, typ, []byte("ping\n")); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var got []byte
	for !strings.Contains(string(got), "ping") {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("%s: %v (got %q)", what, err, got)
		}
		got = append(got, b...)
	}
	go func() {
		defer close(ended)
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
}

func wait[T any](t *testing.T, what string, c chan T) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(time.Minute):
		t.Fatalf("no %s", what)
	}
}
