package attach_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/attach"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/podmantest"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// server serves attach at /attach/{id} for the container named by id.
func server(t *testing.T, p *podmantest.Podman) *httptest.Server {
	h := attach.Handler(p.API, func(w http.ResponseWriter, r *http.Request) (attach.Target, bool) {
		return attach.Target{ContainerID: r.PathValue("id"), Env: []string{"TKW=from-attach"}}, true
	}, attach.Options{})
	mux := http.NewServeMux()
	mux.Handle("/attach/{id}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestAttachSession attaches to a shell in a real container through the
// handler over a real WebSocket, under Podman 4.3 and 5: output arrives, the first size and a
// resize reach the terminal, and the exit code comes back.
func TestAttachSession(t *testing.T) {
	for _, tr := range podmantest.Tiers {
		t.Run(tr.Name, func(t *testing.T) { testAttachSession(t, tr) })
	}
}

func testAttachSession(t *testing.T, tr podmantest.Tier) {
	p := podmantest.StartTier(t, tr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := p.Run(t, ctx, podmanapi.CreateSpec{Command: []string{"sleep", "300"}})
	srv := server(t, p)

	s, err := attach.Dial(ctx, srv.URL+"/attach/"+id, attach.DialOptions{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, p.Log.String())
	}
	defer s.Close()
	out := podmantest.Collect(s)
	// The echo of the typed line shows "$(...)"; only the shell's
	// expansion shows the values.
	io.WriteString(s, "echo size=$(stty size) env=$TKW term=$TERM\n")
	out.WaitFor(t, "size=30 100 env=from-attach term=xterm-256color")
	if err := s.Resize(ctx, 40, 120); err != nil {
		t.Fatal(err)
	}
	// The resize is applied beside the input stream: ask until it shows.
	for i := 0; i < 20; i++ {
		io.WriteString(s, "echo size=$(stty size)\n")
		if out.WaitBounded("size=40 120", 3*time.Second) {
			break
		}
	}
	out.WaitFor(t, "size=40 120")
	io.WriteString(s, "echo hi; exit 3\n")
	if err := out.WaitEnd(t); err != io.EOF {
		t.Fatalf("stream ended with %v, want io.EOF after the exit message; got %q", err, out.String())
	}
	if !strings.Contains(out.String(), "\nhi\r\n") {
		t.Fatalf("no output line hi in %q", out.String())
	}
	if code, ok := s.ExitCode(); !ok || code != 3 {
		t.Fatalf("exit code %d (%v), want 3", code, ok)
	}

	// A client that leaves hangs its process up: a shell that became
	// `sleep 4321` is gone once the client closed.
	s2, err := attach.Dial(ctx, srv.URL+"/attach/"+id, attach.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out2 := podmantest.Collect(s2)
	io.WriteString(s2, "echo $((40+2))-started; exec sleep 4321\n")
	out2.WaitFor(t, "42-started")
	s3, err := attach.Dial(ctx, srv.URL+"/attach/"+id, attach.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	out3 := podmantest.Collect(s3)
	count := func() string { return "echo n=$(ps -o args | grep -c '^sleep 4321')\n" }
	io.WriteString(s3, count())
	out3.WaitFor(t, "n=1")
	s2.Close()
	for i := 0; i < 30 && !out3.WaitBounded("n=0", 2*time.Second); i++ {
		io.WriteString(s3, count())
	}
	out3.WaitFor(t, "n=0")
	s3.Close()

	// Refusals are HTTP errors the client maps to unixhttp's sentinels.
	_, err = attach.Dial(ctx, srv.URL+"/attach/tkwebmodes-no-such-container", attach.DialOptions{})
	if !errors.Is(err, unixhttp.ErrNotFound) || !strings.Contains(err.Error(), "tkwebmodes-no-such-container") {
		t.Fatalf("unknown container: want ErrNotFound naming it, got %v", err)
	}
	if err := p.API.StopContainer(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	_, err = attach.Dial(ctx, srv.URL+"/attach/"+id, attach.DialOptions{})
	if !errors.Is(err, unixhttp.ErrConflict) || !strings.Contains(err.Error(), "is the task running?") {
		t.Fatalf("stopped container: want ErrConflict with a hint, got %v", err)
	}
	resp, err := http.Get(srv.URL + "/attach/" + id + "?rows=0&cols=80")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("rows=0: status %d, want 400", resp.StatusCode)
	}
}

// TestAttachRunTerminal drives Run, the CLI's attach, on a real
// pseudo-terminal: it goes raw, sends the terminal's size at the start
// and on SIGWINCH, returns the exit code and restores the terminal.
func TestAttachRunTerminal(t *testing.T) {
	p := podmantest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := p.Run(t, ctx, podmanapi.CreateSpec{Command: []string{"sleep", "300"}})
	srv := server(t, p)

	master, slave := openPTY(t)
	setSize(t, slave, 30, 100)
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	out := podmantest.Collect(master)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := attach.Run(ctx, srv.URL+"/attach/"+id, attach.DialOptions{}, slave, slave)
		done <- result{code, err}
	}()
	// In raw mode the local terminal passes \r through; the remote
	// terminal turns it into a newline.
	io.WriteString(master, "echo size=$(stty size)\r")
	out.WaitFor(t, "size=30 100")
	raw, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil || raw.Lflag&(unix.ICANON|unix.ECHO) != 0 {
		t.Fatalf("local terminal not raw while attached: lflag %#x %v", raw.Lflag, err)
	}
	setSize(t, slave, 40, 120)
	if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		io.WriteString(master, "echo size=$(stty size)\r")
		if out.WaitBounded("size=40 120", 3*time.Second) {
			break
		}
	}
	out.WaitFor(t, "size=40 120")
	io.WriteString(master, "exit 7\r")
	select {
	case r := <-done:
		if r.err != nil || r.code != 7 {
			t.Fatalf("Run: code %d, err %v, want 7", r.code, r.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("Run did not return within 60s after exit; got %q", out.String())
	}
	after, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil || after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Fatalf("terminal not restored: before %+v after %+v (%v)", before, after, err)
	}
}

// openPTY opens a pseudo-terminal pair through /dev/ptmx.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	testkit.Require(t, err == nil, fmt.Sprintf("no pseudo-terminals (/dev/ptmx): %v", err))
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

func setSize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}
