package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/daemon"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// harness runs the real daemon on a temp socket, stoppable and restartable
// on the same state.
type harness struct {
	t      *testing.T
	cfg    config.Config
	cancel context.CancelFunc
	done   chan error
	c      *shieldapi.Client
}

func newHarness(t *testing.T, resolver string, opts ...func(*config.Config)) *harness {
	dir, err := os.MkdirTemp("", "tkshield2-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := config.Default()
	cfg.Socket = filepath.Join(dir, "shield.sock")
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.ConfigDir = filepath.Join(dir, "config")
	cfg.Endpoints = []string{"tcp:" + nstest.RouterAddr + ":9418"}
	cfg.ContainerDNS = []string{nstest.RouterAddr}
	cfg.Resolver = resolver
	cfg.MinTTLSeconds = 1
	cfg.GraceSeconds = 3
	for _, o := range opts {
		o(&cfg)
	}
	h := &harness{t: t, cfg: cfg, c: shieldapi.New(cfg.Socket)}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- daemon.Run(ctx, h.cfg, zerolog.New(os.Stderr).Level(zerolog.WarnLevel)) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := h.c.List(context.Background()); err == nil {
			return
		}
		select {
		case err := <-h.done:
			h.t.Fatalf("daemon exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	h.t.Fatal("daemon did not come up")
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("daemon: %v", err)
	}
	h.cancel = nil
}

func refused(t *testing.T, tp *nstest.Topo, addr string) {
	t.Helper()
	// A generous timeout: ECONNREFUSED itself shows the reset came at
	// once (a dropped packet would end in a timeout instead).
	r := tp.Dial(addr, 20*time.Second)
	if !errors.Is(r.Err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: want refused (reset), got %v after %v", addr, r.Err, r.Elapsed)
	}
}

func connects(t *testing.T, tp *nstest.Topo, addr string) {
	t.Helper()
	if r := tp.Dial(addr, 20*time.Second); r.Err != nil {
		t.Fatalf("dial %s: want connected, got %v after %v", addr, r.Err, r.Elapsed)
	}
}

// eventually polls cond for up to d (bounded).
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("timed out waiting for %s", what)
	t.FailNow()
}

func TestDaemonEndToEnd(t *testing.T) {
	hosts := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5", "203.0.113.6", "203.0.113.9", "203.0.113.10"}
	tp := nstest.New(t, hosts...)
	for _, h := range hosts {
		tp.Listen(tp.Inet, h+":80")
	}
	tp.Listen(tp.Inet, nstest.RouterAddr+":9418")
	tp.Listen(tp.Inet, nstest.RouterAddr+":9419")
	tp.Listen(tp.Task, "127.0.0.1:8080")
	tp.Listen(tp.Task, nstest.TaskAddr+":7860") // the task's published web port
	tp.Listen(tp.Task, nstest.TaskAddr+":7861")

	// The daemon's resolver (host side) and the task's resolver (internet side).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upDNS := dnstest.Start(pc, 1)
	defer upDNS.Close()
	upDNS.Set("api.example.test", "203.0.113.3")
	var taskPC net.PacketConn
	if err := nstest.In(tp.Inet, func() (err error) { taskPC, err = net.ListenPacket("udp", nstest.RouterAddr+":53"); return }); err != nil {
		t.Fatal(err)
	}
	taskDNS := dnstest.Start(taskPC, 60)
	defer taskDNS.Close()
	taskDNS.Set("api.example.test", "203.0.113.3")

	h := newHarness(t, upDNS.Addr)
	ctx := context.Background()
	id := "tks0123456789abcdef"

	// Follow the audit stream from before the first blocked packet.
	var mu sync.Mutex
	var seen []shieldapi.Event
	actx, acancel := context.WithCancel(ctx)
	defer acancel()

	st, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Project: "demo", Allow: []string{"203.0.113.1", "api.example.test"}, Ports: []uint16{7860}})
	if err != nil {
		t.Fatalf("arm: %v", err)
	}
	if st.Mode != shieldapi.ModeUp || st.Ranges4 != 2 {
		t.Fatalf("status after arm: %+v", st)
	}
	go func() {
		_ = h.c.Audit(actx, id[:8], true, func(ev shieldapi.Event) error {
			mu.Lock()
			seen = append(seen, ev)
			mu.Unlock()
			return nil
		})
	}()
	has := func(kind, what string) func() bool {
		match := func(ev shieldapi.Event) bool {
			return ev.Kind == kind && (what == "" || ev.Dest == what || ev.Target == what || strings.Contains(ev.Detail, what))
		}
		return func() bool {
			mu.Lock()
			for _, ev := range seen {
				if match(ev) {
					mu.Unlock()
					return true
				}
			}
			mu.Unlock()
			// The stream ends when the daemon restarts; the log itself does not.
			found := false
			_ = h.c.Audit(ctx, id, false, func(ev shieldapi.Event) error { found = found || match(ev); return nil })
			return found
		}
	}
	eventually(t, 5*time.Second, "armed record in the audit stream", has(shieldapi.EventArmed, ""))

	t.Run("default deny", func(t *testing.T) {
		connects(t, tp, "203.0.113.1:80")
		connects(t, tp, "203.0.113.3:80") // via the domain
		connects(t, tp, nstest.RouterAddr+":9418")
		connects(t, tp, "127.0.0.1:8080")
		refused(t, tp, "203.0.113.2:80")
		refused(t, tp, nstest.RouterAddr+":9419")
		// DNS goes through the task's own resolver; the container's
		// resolver (the internet side's port 53) is refused.
		if got := lookup(t, tp, "api.example.test", dns.TypeA); len(got) != 1 || got[0] != "203.0.113.3" {
			t.Fatalf("DNS from the task through its resolver: %v", got)
		}
		if _, err := query(tp.Task, nstest.RouterAddr+":53", "api.example.test", dns.TypeA, true); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("DNS to the container's resolver: want refused, got %v", err)
		}
		// Inbound: only the published port answers.
		var in error
		if err := nstest.In(tp.Inet, func() error {
			c, err := net.DialTimeout("tcp", nstest.TaskAddr+":7860", 10*time.Second)
			if err == nil {
				c.Close()
			}
			in = err
			return nil
		}); err != nil {
			t.Fatalf("enter %s: %v", tp.Inet, err)
		}
		if in != nil {
			t.Fatalf("published port 7860 unreachable from outside: %v", in)
		}
		if err := nstest.In(tp.Inet, func() error {
			c, err := net.DialTimeout("tcp", nstest.TaskAddr+":7861", 3*time.Second)
			if err == nil {
				c.Close()
			}
			in = err
			return nil
		}); err != nil {
			t.Fatalf("enter %s: %v", tp.Inet, err)
		}
		if in == nil {
			t.Fatal("unpublished port 7861 reachable from outside")
		}
	})

	t.Run("audit records a blocked connection", func(t *testing.T) {
		eventually(t, 5*time.Second, "blocked record for 203.0.113.2 in the live stream", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range seen {
				if ev.Kind == shieldapi.EventBlocked && ev.Dest == "203.0.113.2" {
					return true
				}
			}
			return false
		})
		mu.Lock()
		for _, ev := range seen {
			if ev.Kind == shieldapi.EventBlocked && ev.Dest == "203.0.113.2" && (ev.Port != 80 || ev.Proto != "tcp") {
				t.Errorf("blocked record %+v", ev)
			}
		}
		mu.Unlock()
	})

	t.Run("live allow and deny", func(t *testing.T) {
		start := time.Now()
		if _, err := h.c.Allow(ctx, id, "203.0.113.2", ""); err != nil {
			t.Fatal(err)
		}
		t.Logf("allow took %v", time.Since(start))
		connects(t, tp, "203.0.113.2:80")
		if _, err := h.c.Deny(ctx, id, "203.0.113.1"); err != nil {
			t.Fatal(err)
		}
		refused(t, tp, "203.0.113.1:80")
		// A deny wins over an allowing CIDR; allowing the same target undoes a deny.
		for _, step := range []struct {
			allow  bool
			target string
		}{{true, "203.0.113.8/30"}, {false, "203.0.113.9"}} {
			var err error
			if step.allow {
				_, err = h.c.Allow(ctx, id, step.target, "")
			} else {
				_, err = h.c.Deny(ctx, id, step.target)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		refused(t, tp, "203.0.113.9:80")
		connects(t, tp, "203.0.113.10:80")
		if _, err := h.c.Deny(ctx, id, "203.0.113.8/30"); err != nil {
			t.Fatal(err)
		}
		refused(t, tp, "203.0.113.10:80")
		if _, err := h.c.Allow(ctx, id, "203.0.113.8/30", ""); err != nil {
			t.Fatal(err)
		}
		connects(t, tp, "203.0.113.10:80")
		refused(t, tp, "203.0.113.9:80")
		connects(t, tp, "203.0.113.2:80")
	})

	t.Run("timed allow lapses", func(t *testing.T) {
		// .6 touches no other allowed address, so it stays a timed element.
		// 8 s leaves a busy machine room to see it before it lapses; what
		// happens after that is waited for, not timed.
		allowed := time.Now()
		if _, err := h.c.Allow(ctx, id, "203.0.113.6", "8s"); err != nil {
			t.Fatal(err)
		}
		r, err := h.c.Rules(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if early := time.Since(allowed) < 6*time.Second; early {
			if !strings.Contains(r.Text, "203.0.113.6 expires") {
				t.Errorf("timed element carries no kernel timeout:\n%s", r.Text)
			}
			if d := tp.Dial("203.0.113.6:80", 20*time.Second); d.Err != nil && time.Since(allowed) < 7*time.Second {
				t.Errorf("timed allow did not connect: %v", d.Err)
			}
		}
		eventually(t, 40*time.Second, "lapsed record", has(shieldapi.EventLapsed, "203.0.113.6"))
		refused(t, tp, "203.0.113.6:80")
	})

	t.Run("re-resolve by TTL", func(t *testing.T) {
		upDNS.Set("api.example.test", "203.0.113.5")
		eventually(t, 6*time.Second, "re-resolved record", has(shieldapi.EventResolved, "203.0.113.5"))
		connects(t, tp, "203.0.113.5:80")
		refused(t, tp, "203.0.113.3:80")
		// The name stops resolving: its last addresses stay for TTL + grace, then go.
		upDNS.Set("api.example.test")
		stopped := time.Now()
		connects(t, tp, "203.0.113.5:80")
		eventually(t, 10*time.Second, "addresses of a dead name dropped", func() bool {
			return tp.Dial("203.0.113.5:80", time.Second).Err != nil
		})
		if since := time.Since(stopped); since < 2*time.Second {
			t.Errorf("addresses dropped after %v, before TTL + grace", since)
		}
		upDNS.Set("api.example.test", "203.0.113.5")
		eventually(t, 6*time.Second, "name resolving again", func() bool {
			return tp.Dial("203.0.113.5:80", time.Second).Err == nil
		})
	})

	t.Run("restart re-arms and keeps live changes", func(t *testing.T) {
		h.stop()
		// With the daemon gone the table stays: still filtered.
		refused(t, tp, "203.0.113.1:80")
		connects(t, tp, "203.0.113.2:80")
		h.start()
		st, err := h.c.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Denied) == 0 || len(st.Allowed) == 0 {
			t.Fatalf("live changes lost: %+v", st)
		}
		refused(t, tp, "203.0.113.1:80")
		connects(t, tp, "203.0.113.2:80")
		// Re-arm through the hook path replaces the table and keeps them too.
		if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Allow: []string{"203.0.113.3"}}); err != nil {
			t.Fatal(err)
		}
		refused(t, tp, "203.0.113.1:80")
		connects(t, tp, "203.0.113.2:80")
		connects(t, tp, "203.0.113.3:80")
	})

	t.Run("rules", func(t *testing.T) {
		r, err := h.c.Rules(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"table inet terok_shield", "203.0.113.2", "ip daddr @deny4 jump refuse", "reject with tcp reset"} {
			if !strings.Contains(r.Text, want) {
				t.Errorf("rules lack %q:\n%s", want, r.Text)
			}
		}
	})

	t.Run("modes and panic", func(t *testing.T) {
		if _, err := h.c.SetMode(ctx, id, shieldapi.ModeDown); err != nil {
			t.Fatal(err)
		}
		connects(t, tp, "203.0.113.6:80") // not allowed, but down lets it through
		if r, _ := h.c.Rules(ctx, id); !strings.Contains(r.Text, "ip daddr @private4 jump refuse") ||
			!strings.Contains(r.Text, `log prefix "tks-conn"`) {
			t.Errorf("down mode lacks the private-range refusal or the connection log:\n%s", r.Text)
		}
		refused(t, tp, "203.0.113.1:80") // denies still hold
		defer func() {
			if t.Failed() {
				_ = h.c.Audit(ctx, id, false, func(ev shieldapi.Event) error { t.Logf("%+v", ev); return nil })
			}
		}()
		eventually(t, 5*time.Second, "connection record in down mode", has(shieldapi.EventConnection, "203.0.113.6"))
		res, err := h.c.Panic(ctx)
		if err != nil || len(res.Blocked) != 1 {
			t.Fatalf("panic: %+v %v", res, err)
		}
		if r := tp.Dial("203.0.113.2:80", 3*time.Second); r.Err == nil {
			t.Fatal("block mode let a connection through")
		}
		if _, err := h.c.SetMode(ctx, id, shieldapi.ModeUp); err != nil {
			t.Fatal(err)
		}
		connects(t, tp, "203.0.113.2:80")
	})

	t.Run("bad input is refused and changes nothing", func(t *testing.T) {
		cases := []struct {
			name string
			call func() error
			code int
			msg  string // what the user reads
		}{
			{"bad target", func() error { _, err := h.c.Allow(ctx, id, "not a host", ""); return err }, http.StatusBadRequest,
				`"not a host": invalid target`},
			{"bad duration", func() error { _, err := h.c.Allow(ctx, id, "203.0.113.9", "soon"); return err }, http.StatusBadRequest,
				`--for "soon": want a duration of at least 2s like 90s or 10m`},
			{"bad wildcard", func() error { _, err := h.c.Allow(ctx, id, "*.test", ""); return err }, http.StatusBadRequest,
				`a wildcard is *. followed by a domain with a dot, like *.example.com`},
			{"unknown container", func() error { _, err := h.c.Deny(ctx, "nope", "203.0.113.9"); return err }, http.StatusNotFound,
				`"nope" (see terok-shield status): unknown container`},
			{"unknown profile", func() error {
				_, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksother", PID: tp.TaskPID, Profiles: []string{"no-such"}})
				return err
			}, http.StatusBadRequest, `unknown profile`},
			{"pid gone", func() error {
				_, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksgone", PID: 1 << 30})
				return err
			}, http.StatusUnprocessableEntity, "pid 1073741824: /proc/1073741824/ns/net: process gone"},
			{"host namespace", func() error {
				_, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tkshost", PID: os.Getpid()})
				return err
			}, http.StatusForbidden, "refusing to firewall the host"},
			{"bad mode", func() error { _, err := h.c.SetMode(ctx, id, "sideways"); return err }, http.StatusBadRequest,
				`mode "sideways": want up, down, block or open`},
		}
		before, err := h.c.Rules(ctx, id)
		if err != nil {
			t.Fatalf("rules before: %v", err)
		}
		for _, c := range cases {
			err := c.call()
			if got := unixhttp.StatusOf(err); got != c.code || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: status %d (%v), want %d with %q", c.name, got, err, c.code, c.msg)
			}
		}
		after, err := h.c.Rules(ctx, id)
		if err != nil {
			t.Fatalf("rules after: %v", err)
		}
		if stripCounters(before.Text) != stripCounters(after.Text) {
			t.Errorf("bad input changed the ruleset:\n%s\n---\n%s", before.Text, after.Text)
		}
		if l, err := h.c.List(ctx); err != nil || len(l) != 1 {
			t.Errorf("bad input armed something: %+v %v", l, err)
		}
	})

	t.Run("disarm keeps the audit log", func(t *testing.T) {
		if err := h.c.Disarm(ctx, id); err != nil {
			t.Fatal(err)
		}
		if ok, err := present(tp); err != nil || ok {
			t.Fatalf("table still present: %v %v", ok, err)
		}
		connects(t, tp, "203.0.113.1:80")
		n := 0
		if err := h.c.Audit(ctx, id, false, func(shieldapi.Event) error { n++; return nil }); err != nil || n < 5 {
			t.Fatalf("audit after disarm: %d records, %v", n, err)
		}
	})
}

func stripCounters(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "counter packets"); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func present(tp *nstest.Topo) (bool, error) {
	out, err := nstest.Nft(tp.Task, "list", "tables")
	return strings.Contains(out, ruleset.TableName), err
}

func TestDaemonLargeProfileAndReap(t *testing.T) {
	tp := nstest.New(t, "203.0.113.9")
	tp.Listen(tp.Inet, "203.0.113.9:80")
	h := newHarness(t, "")
	// A 10,000-entry user profile.
	pdir := filepath.Join(h.cfg.ConfigDir, "profiles")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# generated\n203.0.113.9\n")
	for i := 0; i < 9999; i++ {
		fmt.Fprintf(&b, "11.%d.%d.%d\n", i>>15, (i>>7)&0xff, (i&0x7f)*2)
	}
	if err := os.WriteFile(filepath.Join(pdir, "big.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksbig", PID: tp.TaskPID, Profiles: []string{"big"}})
	if err != nil {
		t.Fatalf("arm with 10k profile: %v", err)
	}
	if st.Ranges4 != 10000 {
		t.Fatalf("want 10000 ranges, got %d", st.Ranges4)
	}
	t.Logf("10,000-entry profile armed in %.1f ms", st.ArmMillis)
	connects(t, tp, "203.0.113.9:80")
	refused(t, tp, "203.0.113.10:80")
	ps, err := h.c.Profiles(ctx)
	if err != nil || len(ps) < 6 {
		t.Fatalf("profiles: %+v %v", ps, err)
	}

	// The task process exits without a poststop: the daemon notices.
	tp.KillTask()
	eventually(t, 30*time.Second, "reaped container", func() bool {
		l, err := h.c.List(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		return len(l) == 0
	})
}
