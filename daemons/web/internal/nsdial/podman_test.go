package nsdial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/podmantest"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestRelayPodman reaches a container's web server that Podman publishes
// nowhere, through a relay in its namespaces run as the Podman user (as
// terok-web runs), under both tiers: Podman 4.3 with slirp4netns and
// Podman 5 with pasta (the image's).
func TestRelayPodman(t *testing.T) {
	for _, tr := range podmantest.Tiers {
		t.Run(tr.Name, func(t *testing.T) { testRelayPodman(t, tr) })
	}
}

func testRelayPodman(t *testing.T, tr podmantest.Tier) {
	p := podmantest.StartTier(t, tr)
	bin := testkit.Build(t, "github.com/terok-ai/terok-in-docker/daemons/web/cmd/terok-web")
	os.Chmod(filepath.Dir(bin), 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := p.Run(t, ctx, podmanapi.CreateSpec{
		Command: []string{"sh", "-c", "echo served-by-task > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"},
		NetNS:   &podmanapi.Namespace{Mode: tr.Network},
	})
	ct, err := p.API.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	pid := ct.State.Pid
	verify := func(ctx context.Context) error {
		c, err := p.API.InspectContainer(ctx, id)
		if err != nil {
			return err
		}
		if !c.State.Running || c.State.Pid != pid {
			return fmt.Errorf("container %s: pid %d, want %d", id, c.State.Pid, pid)
		}
		return nil
	}
	o := Options{Command: []string{bin, RelayCommand}, Credential: podmantest.Credential(t)}

	// A relay whose container check fails never starts.
	if _, err := Start(ctx, pid, func(context.Context) error { return errors.New("not the container") }, o); err == nil || !strings.Contains(err.Error(), "not the container") {
		t.Fatalf("start with a failing check: %v", err)
	}

	r, err := Start(ctx, pid, verify, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The app answers through the relay (bounded: httpd may still start).
	get := func(dial func(ctx context.Context) (net.Conn, error)) (string, error) {
		hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}}
		defer hc.CloseIdleConnections()
		resp, err := hc.Get("http://task/index.html")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	var body string
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, err = get(func(ctx context.Context) (net.Conn, error) { return r.Dial(ctx, 8080) })
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil || body != "served-by-task\n" {
		t.Fatalf("through the relay: %q %v", body, err)
	}
	// Nothing listens on another port: refused at once, named so.
	if _, err := r.Dial(ctx, 8081); !errors.Is(err, ErrRefused) {
		t.Fatalf("dial a closed port: %v, want ErrRefused", err)
	}

	// The relay is in the container's network namespace, without any
	// capability and unable to gain one.
	nsOf := func(pid int, ns string) string {
		s, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if a, b := nsOf(r.Pid(), "net"), nsOf(pid, "net"); a != b {
		t.Fatalf("relay in %s, container in %s", a, b)
	}
	if a, b := nsOf(r.Pid(), "net"), nsOf(os.Getpid(), "net"); a == b {
		t.Fatal("the relay is in the host's network namespace")
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(r.Pid()) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CapEff:\t0000000000000000", "CapPrm:\t0000000000000000", "CapBnd:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(st), want) {
			t.Fatalf("relay status lacks %q:\n%s", want, st)
		}
	}

	// Many connections at once through one relay.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := get(func(ctx context.Context) (net.Conn, error) { return r.Dial(ctx, 8080) })
			if err == nil && b != "served-by-task\n" {
				err = fmt.Errorf("body %q", b)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("parallel connection: %v", err)
	}
	relayPid := r.Pid()
	r.Close()
	if _, err := r.Dial(ctx, 8080); !errors.Is(err, ErrClosed) {
		t.Fatalf("dial after close: %v", err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(relayPid)); err == nil {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(relayPid) + "/status")
		if !strings.Contains(string(b), "State:\tZ") {
			t.Fatalf("the relay %d still runs after Close", relayPid)
		}
	}

	// The pool starts a relay at the first dial and ends it on Forget.
	pool := NewPool(func(ctx context.Context, name string) (Target, error) {
		if name != "task1" {
			return Target{}, fmt.Errorf("no task %s", name)
		}
		return Target{Key: id, PID: pid, Port: 8080, Verify: verify}, nil
	}, o)
	defer pool.Close()
	if b, err := get(func(ctx context.Context) (net.Conn, error) { return pool.Dial(ctx, "task1") }); err != nil || b != "served-by-task\n" {
		t.Fatalf("through the pool: %q %v", b, err)
	}
	if n := pool.Relays(); n != 1 {
		t.Fatalf("%d relays after one dial, want 1", n)
	}
	if _, err := pool.Dial(ctx, "task2"); err == nil {
		t.Fatal("the pool dialled an unknown name")
	}
	pool.Forget("task1")
	if n := pool.Relays(); n != 0 {
		t.Fatalf("%d relays after Forget, want 0", n)
	}
}
