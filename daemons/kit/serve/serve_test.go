package serve_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/serve"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// order records what happened, in order.
type order struct {
	mu  sync.Mutex
	got []string
}

func (o *order) add(s string) {
	o.mu.Lock()
	o.got = append(o.got, s)
	o.mu.Unlock()
}

func (o *order) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.got, " ")
}

// The group stops with its context: a stream that follows until the
// daemon stops is ended (Stopping), the listeners shut down, the loops
// return, then the clean-ups run; Wait returns after all of it.
func TestGroupStopsInOrder(t *testing.T) {
	var o order
	stopping := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /follow", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "started\n")
		http.NewResponseController(w).Flush()
		<-stopping
		o.add("stream-ended")
	})
	ctx, cancel := context.WithCancel(context.Background())
	g := serve.NewGroup(ctx, 10*time.Second)
	firstLn, tcpLn := listen(t), listen(t)
	g.Serve("first", unixhttp.NewServer(mux, zerolog.Nop()), firstLn)
	g.Serve("second", serve.HTTP(&http.Server{Handler: mux, ReadHeaderTimeout: time.Second}), tcpLn)
	g.Go(func(ctx context.Context) error {
		<-ctx.Done()
		o.add("loop")
		return nil
	})
	g.Stopping(func() { o.add("stopping"); close(stopping) })
	g.Cleanup(func() error { o.add("cleanup"); return nil })
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()

	resp, err := http.Get("http://" + tcpLn.Addr().String() + "/follow")
	if err != nil {
		t.Fatal(err)
	}
	if l, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || l != "started\n" {
		t.Fatalf("stream: %q %v", l, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the group did not stop")
	}
	resp.Body.Close()
	// The loop ends with the context, beside the rest; the stream only
	// after Stopping, and the clean-up after everything.
	got := strings.Fields(o.String())
	pos := map[string]int{}
	for i, s := range got {
		pos[s] = i + 1
	}
	if len(got) != 4 || pos["stopping"] == 0 || pos["stream-ended"] < pos["stopping"] || pos["loop"] == 0 || pos["cleanup"] != 4 {
		t.Fatalf("order %q", got)
	}
	for _, ln := range []net.Listener{firstLn, tcpLn} {
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Fatalf("%s still answers", ln.Addr())
		}
	}
}

// A loop that fails stops the whole group; its error is Wait's.
func TestGroupStopsWhenAMemberFails(t *testing.T) {
	boom := errors.New("child gave up")
	g := serve.NewGroup(context.Background(), time.Second)
	ln := listen(t)
	g.Serve("socket", unixhttp.NewServer(http.NotFoundHandler(), zerolog.Nop()), ln)
	g.Go(func(context.Context) error { return boom })
	cleaned := false
	g.Cleanup(func() error { cleaned = true; return nil })
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if !errors.Is(err, boom) || !cleaned {
			t.Fatalf("wait: %v, cleaned %v", err, cleaned)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a failed member did not stop the group")
	}
}

// A request that never ends is cut when the grace is over.
func TestGroupGraceIsBounded(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "x\n")
		http.NewResponseController(w).Flush()
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	g := serve.NewGroup(ctx, 50*time.Millisecond)
	ln := listen(t)
	g.Serve("tcp", serve.HTTP(&http.Server{Handler: h, ReadHeaderTimeout: time.Second}), ln)
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown waited for a request that never ends")
	}
}

func TestRunEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := serve.Run(ctx, "terok-test", func(ctx context.Context, log zerolog.Logger) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v", err)
	}
}
