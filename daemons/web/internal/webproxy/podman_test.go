package webproxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/attach/podmantest"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestProxyPodman publishes a web-mode container's port under real
// rootless Podman on an allocated host port and reaches its web server
// through the proxy; then rebuilds the allocation from the container's
// labels, as terok-web does after a restart. Both tiers: Podman 4.3 with
// slirp4netns, and Podman 5 with pasta (the image's, which forwards only
// connections to loopback: the proxy is what makes the UI reachable
// from the LAN).
func TestProxyPodman(t *testing.T) {
	for _, tr := range podmantest.Tiers {
		t.Run(tr.Name, func(t *testing.T) { testProxyPodman(t, tr) })
	}
}

func testProxyPodman(t *testing.T, tr podmantest.Tier) {
	p := podmantest.StartTier(t, tr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := freeBlock(t, 2)
	alloc, err := NewAllocator(base, base+1)
	if err != nil {
		t.Fatal(err)
	}
	const task = "tkwebmodes-web1"
	port, err := alloc.Allocate(task)
	if err != nil {
		t.Fatal(err)
	}
	p.Run(t, ctx, podmanapi.CreateSpec{
		Command: []string{"sh", "-c", "echo served-by-task > /www/index.html && exec httpd -f -p 7860 -h /www"},
		NetNS:   &podmanapi.Namespace{Mode: tr.Network},
		PortMapping: []podmanapi.PortMapping{{HostIP: "127.0.0.1", ContainerPort: 7860,
			HostPort: uint16(port), Protocol: "tcp"}},
		Labels: map[string]string{"terok.task": task, LabelWebPort: strconv.Itoa(port)},
	})
	px, err := New(alloc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(px)
	defer srv.Close()
	if got := getBody(t, srv.URL+"/tasks/"+task+"/ui/index.html"); got != "served-by-task\n" {
		t.Fatalf("through the proxy: %q", got)
	}

	// A fresh allocator (terok-web restarted) learns the port from Podman.
	cs, err := p.API.ListContainers(ctx, podmanapi.ListOptions{All: true, Labels: []string{"terok.task"}})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewAllocator(base, base+1)
	if err := again.Restore(PortsFromContainers(cs, "terok.task")); err != nil {
		t.Fatal(err)
	}
	if got, ok := again.HostPort(task); !ok || got != port {
		t.Fatalf("rebuilt port: %d %v, want %d", got, ok, port)
	}
	// The held port is not handed out again, and the proxy serves from
	// the rebuilt table.
	if other, err := again.Allocate("tkwebmodes-web2"); err != nil || other == port {
		t.Fatalf("second task got %d (%v); the first holds %d", other, err, port)
	}
	px2, _ := New(again, Options{})
	srv2 := httptest.NewServer(px2)
	defer srv2.Close()
	if got := getBody(t, srv2.URL+"/tasks/"+task+"/ui/index.html"); got != "served-by-task\n" {
		t.Fatalf("through the rebuilt proxy: %q", got)
	}
}

// getBody GETs u until it answers 200 (bounded: the app may still be
// starting) and returns the body.
func getBody(t *testing.T, u string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := noRedirect.Get(u)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			last = resp.Status + " " + string(b)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s did not answer 200 within 60s; last: %s", u, last)
	return ""
}
