package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// TestPastaNamespace arms a namespace that pasta (Podman 5's network, the
// one in the image) made and configured as the unprivileged test user, and
// uses the task resolver from inside it. Only loopback inside the namespace
// and the shield's own refusals are exercised: nothing leaves the machine.
func TestPastaNamespace(t *testing.T) {
	testkit.RequireRoot(t)
	testkit.RequireCommand(t, "pasta")
	testkit.RequireCommand(t, "runuser")
	_, err := user.Lookup(ownerTestUser)
	testkit.Require(t, err == nil, "test user "+ownerTestUser+" (run scripts/setup.d/40-shield.sh)")
	testkit.RequireCommand(t, "pgrep")
	// pasta runs its command in new user, network and pid namespaces; a
	// sleep of a length no one else uses finds it from the outside.
	marker := fmt.Sprintf("sleep %d", 600000+time.Now().UnixNano()%100000)
	// pasta's DNS forwarder at 169.254.1.1, as Podman 5 sets it up.
	cmd := exec.Command("runuser", "-u", ownerTestUser, "--", "pasta", "--config-net", "--dns-forward", "169.254.1.1", "-q", "-f",
		"--", "sh", "-c", "exec "+marker)
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pasta: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var pid int
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && pid == 0 {
		if b, err := exec.Command("pgrep", "-u", ownerTestUser, "-x", "-f", marker).Output(); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("pasta never started its command")
	}
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
	})
	ns, err := netns.Open(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := dnstest.Start(pc, 60)
	defer up.Close()
	up.Set("a.svc.example.test", "203.0.113.31")
	up.Set("leak-99.attacker.test", "203.0.113.32")
	h := newHarness(t, up.Addr)
	ctx := context.Background()
	id := "tkspasta0123"
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: pid, Allow: []string{"*.svc.example.test"}}); err != nil {
		t.Fatalf("arm the pasta namespace: %v", err)
	}
	ask := func(server, name string) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		var r *dns.Msg
		err := ns.Do(func() (err error) {
			r, _, err = (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, server)
			return
		})
		return r, err
	}
	r, err := ask(taskResolver, "a.svc.example.test")
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "203.0.113.31") {
		t.Fatalf("allowed name through the task resolver: %v %v", r, err)
	}
	st, err := h.c.Status(ctx, id)
	if err != nil || st.Answers != 1 {
		t.Fatalf("status after the answer: %+v %v", st, err)
	}
	if r, err := ask(taskResolver, "leak-99.attacker.test"); err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("unlisted name: %v %v", r, err)
	}
	if _, err := ask("169.254.1.1:53", "leak-99.attacker.test"); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("pasta's DNS forwarder: want the send refused, got %v", err)
	}
	if up.Asked("leak-99.attacker.test") {
		t.Fatalf("the unlisted name left the machine: %v", up.Queries())
	}
}
