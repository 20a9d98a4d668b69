package webproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/auth"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/nsdial"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/podmantest"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webports"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// poolDialer is the real Dialer: a relay in the task's namespaces.
type poolDialer struct{ p *nsdial.Pool }

func (d poolDialer) DialTask(ctx context.Context, task string) (net.Conn, error) {
	return d.p.Dial(ctx, task)
}
func (d poolDialer) ForgetTask(task string) { d.p.Forget(task) }

// TestProxyPodman publishes a web-mode container's UI on a task listener
// under real rootless Podman, with Podman publishing nothing: the
// listener reaches the app through a relay in the container's namespaces
// run as the Podman user. Then it rebuilds the table from the
// container's labels, as terok-web does after a restart. Both tiers:
// Podman 4.3 with slirp4netns, and Podman 5 with pasta (the image's).
func TestProxyPodman(t *testing.T) {
	for _, tr := range podmantest.Tiers {
		t.Run(tr.Name, func(t *testing.T) { testProxyPodman(t, tr) })
	}
}

func testProxyPodman(t *testing.T, tr podmantest.Tier) {
	p := podmantest.StartTier(t, tr)
	bin := testkit.Build(t, "github.com/terok-ai/terok-in-docker/daemons/web/cmd/terok-web")
	os.Chmod(filepath.Dir(bin), 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const task = "tkwebmodes-web1"
	base := testkit.FreeBlock(t, 2)
	id := p.Run(t, ctx, podmanapi.CreateSpec{
		Command: []string{"sh", "-c", "echo served-by-task > /www/index.html && exec httpd -f -p 8080 -h /www"},
		NetNS:   &podmanapi.Namespace{Mode: tr.Network},
		Labels:  map[string]string{"terok.task": task, webports.LabelWebPort: strconv.Itoa(base)},
	})
	resolve := func(ctx context.Context, name string) (nsdial.Target, error) {
		if name != task {
			return nsdial.Target{}, fmt.Errorf("no task %s", name)
		}
		c, err := p.API.InspectContainer(ctx, id)
		if err != nil {
			return nsdial.Target{}, err
		}
		pid := c.State.Pid
		return nsdial.Target{Key: id, PID: pid, Port: 8080, Verify: func(ctx context.Context) error {
			c, err := p.API.InspectContainer(ctx, id)
			if err != nil || c.State.Pid != pid {
				return fmt.Errorf("container %s changed: %v", id, err)
			}
			return nil
		}}, nil
	}
	pool := nsdial.NewPool(resolve, nsdial.Options{Command: []string{bin, nsdial.RelayCommand}, Credential: podmantest.Credential(t)})
	defer pool.Close()
	newPub := func() (*Publisher, *Tickets) {
		addrs := NewAddresses(nil, "", "127.0.0.1:8566")
		hosts := auth.NewHosts(nil, "", nil)
		tk := NewTickets(0, nil)
		pub, err := NewPublisher(Options{First: base, Last: base + 1, Addresses: addrs, Hosts: hosts, Tickets: tk,
			Instance: "0badcafe", Dialer: poolDialer{pool}, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		return pub, tk
	}
	pub, tickets := newPub()
	port, err := pub.Allocate(task)
	if err != nil || port != base {
		t.Fatalf("allocate: %d %v", port, err)
	}
	openUI := func(tk *Tickets, port int) string {
		c := client()
		c.CheckRedirect = nil
		ticket, _, _ := tk.Mint(task, "")
		deadline := time.Now().Add(60 * time.Second)
		u := "http://127.0.0.1:" + strconv.Itoa(port) + "/index.html?" + TicketParam + "=" + ticket
		var last string
		for time.Now().Before(deadline) {
			resp, err := c.Get(u)
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
			u = "http://127.0.0.1:" + strconv.Itoa(port) + "/index.html" // the grant is set; httpd may still start
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("task UI did not answer 200 within 60s; last: %s", last)
		return ""
	}
	if got := openUI(tickets, port); got != "served-by-task\n" {
		t.Fatalf("through the task listener: %q", got)
	}
	if pool.Relays() != 1 {
		t.Fatalf("%d relays, want 1", pool.Relays())
	}
	pub.Close()
	if pool.Relays() != 0 {
		t.Fatalf("%d relays after the listener closed, want 0", pool.Relays())
	}

	// A fresh publisher (terok-web restarted) learns the port from Podman.
	cs, err := p.API.ListContainers(ctx, podmanapi.ListOptions{All: true, Labels: []string{"terok.task"}})
	if err != nil {
		t.Fatal(err)
	}
	pub2, tickets2 := newPub()
	defer pub2.Close()
	if err := pub2.Restore(webports.PortsFromContainers(cs, "terok.task")); err != nil {
		t.Fatal(err)
	}
	if got, ok := pub2.HostPort(task); !ok || got != port {
		t.Fatalf("rebuilt port: %d %v, want %d", got, ok, port)
	}
	if other, err := pub2.Allocate("tkwebmodes-web2"); err != nil || other == port {
		t.Fatalf("second task got %d (%v); the first holds %d", other, err, port)
	}
	if got := openUI(tickets2, port); got != "served-by-task\n" {
		t.Fatalf("through the restored listener: %q", got)
	}
}
