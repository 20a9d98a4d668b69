package daemon_test

// The hostile agent against the shield daemon: a task that takes its
// resolver's address while the daemon restarts, state files planted in
// the daemon's state directory, the daemon's directories handed to
// another user, a task flooding its resolver, and a task without the
// shield reaching for the host's listeners. Real nftables in real
// namespaces, the real daemon.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/daemon"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/trust"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// upstream starts a DNS server on the host's loopback as the daemon's
// resolver.
func upstream(t *testing.T) *dnstest.Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := dnstest.Start(pc, 60)
	t.Cleanup(up.Close)
	return up
}

// noTable reports whether the namespace ns holds no shield table.
func noTable(t *testing.T, ns string) bool {
	t.Helper()
	out, err := nstest.Nft(ns, "list", "tables")
	if err != nil {
		t.Fatalf("nft list tables in %s: %v %s", ns, err, out)
	}
	return !strings.Contains(out, "terok_shield")
}

// TestHostileRestartWithResolverAddressTaken: while the daemon restarts
// the task binds 127.0.0.53:53 itself (a real task cannot: it has no
// NET_BIND_SERVICE and no low ports, see the runner's and the Podman
// tests; here the test binds it as root in the namespace). The re-arm
// then cannot open the task's resolver: the container must stay in the
// daemon's care, blocked, saying why, with panic, deny and the audit
// reaching it; once the address is free again, mode up re-opens it.
func TestHostileRestartWithResolverAddressTaken(t *testing.T) {
	tp := nstest.New(t, "203.0.113.31")
	tp.Listen(tp.Inet, "203.0.113.31:80")
	up := upstream(t)
	up.Set("api.example.test", "203.0.113.31")
	h := newHarness(t, up.Addr)
	ctx := context.Background()
	id := "tkshostile-squat"
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Allow: []string{"api.example.test"}}); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, tp, "api.example.test", dns.TypeA); len(got) != 1 {
		t.Fatalf("lookup before the restart: %v", got)
	}
	connects(t, tp, "203.0.113.31:80")

	h.stop()
	var squat net.PacketConn
	if err := nstest.In(tp.Task, func() (err error) { squat, err = net.ListenPacket("udp", "127.0.0.53:53"); return }); err != nil {
		t.Fatalf("take the resolver's address: %v", err)
	}
	defer func() { squat.Close() }()
	h.start()

	st, err := h.c.Status(ctx, id)
	if err != nil {
		t.Fatalf("the container left the daemon's care after a failed re-arm: %v", err)
	}
	if st.Mode != shieldapi.ModeBlock || !strings.Contains(st.Reason, "address already in use") || !strings.Contains(st.Reason, "blocked") {
		t.Fatalf("status after the failed re-arm: mode %s, reason %q; want block with the reason", st.Mode, st.Reason)
	}
	if r := tp.Dial("203.0.113.31:80", 3*time.Second); r.Err == nil {
		t.Fatal("a container whose re-arm failed still connects")
	}
	l, err := h.c.List(ctx)
	if err != nil || len(l) != 1 || l[0].Reason == "" {
		t.Fatalf("list: %+v %v", l, err)
	}
	eventually(t, 5*time.Second, "rearm-failed in the audit", auditHas(t, h, id, func(ev shieldapi.Event) bool {
		return ev.Kind == shieldapi.EventRearmFailed && strings.Contains(ev.Detail, "address already in use")
	}))
	if _, err := h.c.Deny(ctx, id, "203.0.113.99"); err != nil {
		t.Fatalf("deny does not reach the blocked container: %v", err)
	}
	res, err := h.c.Panic(ctx)
	if err != nil || len(res.Blocked) != 1 || res.Blocked[0] != id || len(res.Failed) != 0 {
		t.Fatalf("panic: %+v %v", res, err)
	}
	// While the address is taken, leaving block fails and changes nothing.
	if _, err := h.c.SetMode(ctx, id, shieldapi.ModeUp); err == nil || !strings.Contains(err.Error(), "stays blocked") {
		t.Fatalf("mode up with the address taken: %v", err)
	}
	if st, _ := h.c.Status(ctx, id); st.Mode != shieldapi.ModeBlock {
		t.Fatalf("a failed mode change left mode %s", st.Mode)
	}
	squat.Close()
	st, err = h.c.SetMode(ctx, id, shieldapi.ModeUp)
	if err != nil || st.Reason != "" || st.Resolver != shieldapi.ResolverAddr {
		t.Fatalf("mode up once the address is free: %+v %v", st, err)
	}
	if got := lookup(t, tp, "api.example.test", dns.TypeA); len(got) != 1 {
		t.Fatalf("lookup after mode up: %v", got)
	}
	connects(t, tp, "203.0.113.31:80")
	refused(t, tp, "203.0.113.99:80")
}

// writeState plants a state file as root (0600) in the daemon's state.
func writeState(t *testing.T, h *harness, name string, v any) string {
	t.Helper()
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(h.cfg.StateDir, "containers", name+".json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func inode(t *testing.T, pid int) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestHostilePlantedState: state files that did not come from an arm
// (planted, corrupt, tampered) are never restored as written. A file that
// names no live namespace of a task arms nothing; one that names a live
// one but fails Arm's checks blocks that container, with nothing of the
// file but its identity and the namespace's real owner.
func TestHostilePlantedState(t *testing.T) {
	tpA := nstest.New(t, "203.0.113.41")
	tpB := nstest.New(t, "203.0.113.41")
	tpC := nstest.New(t, "203.0.113.41")
	tpD := nstest.New(t, "203.0.113.41")
	for _, tp := range []*nstest.Topo{tpA, tpB, tpC, tpD} {
		tp.Listen(tp.Inet, "203.0.113.41:80")
	}
	h := newHarness(t, "")
	ctx := context.Background()
	// A container armed the proper way, tampered with below.
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksreal", PID: tpA.TaskPID, Allow: []string{"203.0.113.41"}}); err != nil {
		t.Fatal(err)
	}
	h.stop()

	// Tampered: the real container's file now claims another owner and
	// opens everything.
	var real map[string]any
	b, err := os.ReadFile(filepath.Join(h.cfg.StateDir, "containers", "tksreal.json"))
	if err != nil || json.Unmarshal(b, &real) != nil {
		t.Fatalf("read real state: %v", err)
	}
	real["owner_uid"] = 4242
	real["allowed"] = []map[string]string{{"target": "0.0.0.0/0"}}
	writeState(t, h, "tksreal", real)
	// Garbage.
	garbage := writeState(t, h, "tksgarbage", "{not json")
	// A live namespace, but the wrong inode: not that container.
	writeState(t, h, "tkswrongns", map[string]any{"id": "tkswrongns", "pid": tpB.TaskPID, "netns_inode": 12345, "mode": "down"})
	// A live namespace with its inode, an unknown profile and an open
	// allowlist: Arm would refuse it.
	writeState(t, h, "tksbadprof", map[string]any{"id": "tksbadprof", "pid": tpC.TaskPID, "netns_inode": inode(t, tpC.TaskPID),
		"mode": "up", "profiles": []string{"no-such-profile"}, "static": []string{"0.0.0.0/0"}, "project": "planted"})
	// A file that claims the task runs without the shield and carries
	// an allowlist no such task has: blocked, and never open after.
	tpE := nstest.New(t, "203.0.113.41")
	tpE.Listen(tpE.Inet, "203.0.113.41:80")
	writeState(t, h, "tksclaims", map[string]any{"id": "tksclaims", "pid": tpE.TaskPID, "netns_inode": inode(t, tpE.TaskPID),
		"mode": "open", "unshielded": true, "static": []string{"203.0.113.41"}})
	// A file whose content names another container than its name.
	writeState(t, h, "tksnamed", map[string]any{"id": "tksother", "pid": tpD.TaskPID, "netns_inode": inode(t, tpD.TaskPID), "mode": "up",
		"static": []string{"203.0.113.41"}})
	// A file another user owns, and a symbolic link to a valid-looking one.
	foreign := writeState(t, h, "tksforeign", map[string]any{"id": "tksforeign", "pid": tpB.TaskPID, "netns_inode": inode(t, tpB.TaskPID), "mode": "down"})
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(elsewhere, []byte(fmt.Sprintf(`{"id":"tkslink","pid":%d,"netns_inode":%d,"mode":"down"}`, tpB.TaskPID, inode(t, tpB.TaskPID))), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(h.cfg.StateDir, "containers", "tkslink.json")
	if err := os.Symlink(elsewhere, link); err != nil {
		t.Fatal(err)
	}

	h.start()
	l, err := h.c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]shieldapi.Status{}
	for _, st := range l {
		got[st.ID] = st
	}
	for _, id := range []string{"tksgarbage", "tkswrongns", "tksforeign", "tkslink", "tksother"} {
		if _, ok := got[id]; ok {
			t.Errorf("%s was armed from a planted file: %+v", id, got[id])
		}
	}
	if !noTable(t, tpB.Task) {
		t.Error("a namespace named only by planted files holds a shield table")
	}
	// Blocked, not as written.
	for id, want := range map[string]string{"tksreal": "belongs to uid 0", "tksbadprof": "unknown profile", "tksnamed": `names container "tksother"`,
		"tksclaims": "takes no profiles or allow entries"} {
		st, ok := got[id]
		if !ok {
			t.Errorf("%s: not in the daemon's care after a refused state", id)
			continue
		}
		if st.Mode != shieldapi.ModeBlock || !strings.Contains(st.Reason, want) || len(st.Allowed)+len(st.Static)+len(st.Profiles) != 0 ||
			st.Project != "" || st.Unshielded {
			t.Errorf("%s: %+v; want block, no entries, a reason naming %q", id, st, want)
		}
		eventually(t, 5*time.Second, id+": state-refused in the audit", auditHas(t, h, id, func(ev shieldapi.Event) bool {
			return ev.Kind == shieldapi.EventStateRefused
		}))
	}
	if got["tksreal"].Reason != "" && !strings.Contains(got["tksreal"].Reason, "4242") {
		t.Errorf("tksreal's reason does not name the claimed owner: %q", got["tksreal"].Reason)
	}
	if _, err := h.c.SetMode(ctx, "tksclaims", shieldapi.ModeOpen); unixhttp.StatusOf(err) != 400 {
		t.Errorf("a refused state that claimed no shield was switched to open: %v", err)
	}
	for _, tp := range []*nstest.Topo{tpA, tpC, tpD, tpE} {
		if r := tp.Dial("203.0.113.41:80", 3*time.Second); r.Err == nil {
			t.Errorf("a container with a refused state connects (%s)", tp.Task)
		}
	}
	// The refused files are set aside, never read again.
	if _, err := os.Stat(garbage + ".bad"); err != nil {
		t.Errorf("garbage not set aside: %v", err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the symbolic link is still read from: %v", err)
	}
	// Its real owner (root here) can still manage the blocked container.
	if _, err := h.c.SetMode(ctx, "tksreal", shieldapi.ModeUp); err != nil {
		t.Fatalf("mode up of the refused container: %v", err)
	}
	refused(t, tpA, "203.0.113.41:80") // its allow entry came from the file: not restored
}

// TestHostilePlantedStateNamingDaemonNamespace: a state file naming a
// process in the daemon's own network namespace is refused, never armed.
// The daemon runs in a namespace of its own here, so that a failure could
// never firewall the host.
func TestHostilePlantedStateNamingDaemonNamespace(t *testing.T) {
	tp := nstest.New(t)
	bin := shieldBinary(t)
	dir, err := os.MkdirTemp("", "tkshostile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	state := filepath.Join(dir, "state")
	if err := trust.MkdirAll(filepath.Join(state, "containers"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The task namespace's process stands for "the daemon's own": the
	// daemon is started in that same namespace.
	st := fmt.Sprintf(`{"id":"tksself","pid":%d,"netns_inode":%d,"mode":"block","owner_uid":0}`, tp.TaskPID, inode(t, tp.TaskPID))
	if err := os.WriteFile(filepath.Join(state, "containers", "tksself.json"), []byte(st), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "shield.sock")
	var logs strings.Builder
	var mu sync.Mutex
	cmd := execIn(tp.Task, bin, "--socket", sock, "serve", "--state", state, "--config", filepath.Join(dir, "config"))
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &logs}, lockedWriter{&mu, &logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	c := shieldapi.New(sock)
	var list []shieldapi.Status
	for i := 0; ; i++ {
		if list, err = c.List(context.Background()); err == nil {
			break
		}
		if i > 400 {
			mu.Lock()
			t.Fatalf("daemon did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	if len(list) != 0 {
		t.Fatalf("the daemon armed its own namespace from a planted file: %+v", list)
	}
	if !noTable(t, tp.Task) {
		t.Fatal("the daemon's own namespace holds a shield table")
	}
	if _, err := os.Stat(filepath.Join(state, "containers", "tksself.json.bad")); err != nil {
		t.Fatalf("the planted file was not set aside: %v", err)
	}
}

// TestHostileShieldDirsNotRoot: the root daemon refuses to read its config,
// profiles or state from a directory or file another user owns or may
// write, or through a symbolic link, and says which path and how to fix it.
func TestHostileShieldDirsNotRoot(t *testing.T) {
	nstest.Require(t)
	const nobody = 65534
	type setup func(t *testing.T, cfg *config.Config)
	chown := func(p string) {
		if err := os.Chown(p, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		setup setup
		path  func(cfg config.Config) string
		fix   string
	}{
		{"config dir of another user", func(t *testing.T, cfg *config.Config) {
			write(filepath.Join(cfg.ConfigDir, "config.json"), "{}")
			chown(cfg.ConfigDir)
		},
			func(c config.Config) string { return c.ConfigDir }, "chmod 0700"},
		{"config dir writable by its group", func(t *testing.T, cfg *config.Config) {
			write(filepath.Join(cfg.ConfigDir, "config.json"), "{}")
			os.Chmod(cfg.ConfigDir, 0o770)
		}, func(c config.Config) string { return c.ConfigDir }, "chmod 0700"},
		{"config dir's parent of another user", func(t *testing.T, cfg *config.Config) {
			write(filepath.Join(cfg.ConfigDir, "config.json"), "{}")
			chown(filepath.Dir(cfg.ConfigDir))
		}, func(c config.Config) string { return filepath.Dir(c.ConfigDir) }, "chmod 0755"},
		{"config.json of another user", func(t *testing.T, cfg *config.Config) {
			p := filepath.Join(cfg.ConfigDir, "config.json")
			write(p, `{"endpoints":["tcp:203.0.113.66:22"]}`)
			chown(p)
		}, func(c config.Config) string { return filepath.Join(c.ConfigDir, "config.json") }, "chmod 0600"},
		{"config.json a symbolic link", func(t *testing.T, cfg *config.Config) {
			elsewhere := filepath.Join(t.TempDir(), "c.json")
			write(elsewhere, "{}")
			write(filepath.Join(cfg.ConfigDir, "x"), "")
			if err := os.Symlink(elsewhere, filepath.Join(cfg.ConfigDir, "config.json")); err != nil {
				t.Fatal(err)
			}
		}, func(c config.Config) string { return filepath.Join(c.ConfigDir, "config.json") }, "symbolic link"},
		{"state dir of another user", func(t *testing.T, cfg *config.Config) {
			write(filepath.Join(cfg.StateDir, "containers", "x"), "")
			chown(cfg.StateDir)
		}, func(c config.Config) string { return c.StateDir }, "chmod 0700"},
		{"state dir's parent of another user", func(t *testing.T, cfg *config.Config) {
			write(filepath.Join(cfg.StateDir, "containers", "x"), "")
			chown(filepath.Dir(cfg.StateDir))
		}, func(c config.Config) string { return filepath.Dir(c.StateDir) }, "chmod 0755"},
		{"containers dir of another user", func(t *testing.T, cfg *config.Config) {
			write(filepath.Join(cfg.StateDir, "containers", "x"), "")
			chown(filepath.Join(cfg.StateDir, "containers"))
		}, func(c config.Config) string { return filepath.Join(c.StateDir, "containers") }, "chmod 0700"},
		{"audit dir world-writable", func(t *testing.T, cfg *config.Config) {
			write(filepath.Join(cfg.StateDir, "audit", "x"), "")
			os.Chmod(filepath.Join(cfg.StateDir, "audit"), 0o777)
		}, func(c config.Config) string { return filepath.Join(c.StateDir, "audit") }, "chmod 0700"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The layout of the image: <volume>/system/shield.
			base, err := os.MkdirTemp("", "tkshostile-dirs-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(base) })
			cfg := config.Default()
			cfg.Socket = filepath.Join(base, "shield.sock")
			cfg.ConfigDir = filepath.Join(base, "config", "system", "shield")
			cfg.StateDir = filepath.Join(base, "state", "system", "shield")
			tc.setup(t, &cfg)
			// The way main does it: the config file first, then Run.
			err = cfg.LoadFile(filepath.Join(cfg.ConfigDir, "config.json"))
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err = daemon.Run(ctx, cfg, zerolog.Nop())
			}
			p := tc.path(cfg)
			if !errors.Is(err, trust.ErrUntrusted) || !strings.Contains(err.Error(), p+" ") || !strings.Contains(err.Error(), tc.fix) {
				t.Fatalf("want a refusal naming %s and %q, got %v", p, tc.fix, err)
			}
			if tc.fix != "symbolic link" && !strings.Contains(err.Error(), "chown root:root "+p) {
				t.Fatalf("the error does not give the fix for %s: %v", p, err)
			}
			if _, err := os.Stat(cfg.Socket); err == nil {
				t.Fatal("the daemon listened on its socket")
			}
		})
	}

	// A profile another user owns: arming with it fails and names it;
	// a root-owned one of the same directory loads.
	t.Run("profile of another user", func(t *testing.T) {
		tp := nstest.New(t)
		h := newHarness(t, "")
		pdir := filepath.Join(h.cfg.ConfigDir, "profiles")
		write(filepath.Join(pdir, "planted.txt"), "0.0.0.0/0\n")
		chown(filepath.Join(pdir, "planted.txt"))
		write(filepath.Join(pdir, "mine.txt"), "203.0.113.5\n")
		_, err := h.c.Arm(context.Background(), shieldapi.ArmRequest{ID: "tksplanted", PID: tp.TaskPID, Profiles: []string{"planted"}})
		if unixhttp.StatusOf(err) != 400 || !strings.Contains(err.Error(), filepath.Join(pdir, "planted.txt")) || !strings.Contains(err.Error(), "chown root:root") {
			t.Fatalf("arm with another user's profile: %v", err)
		}
		if _, err := h.c.Arm(context.Background(), shieldapi.ArmRequest{ID: "tksmine", PID: tp.TaskPID, Profiles: []string{"mine"}}); err != nil {
			t.Fatalf("arm with root's profile: %v", err)
		}
	})
}

// TestHostileResolverFlood: one task floods its resolver far past its
// limits; its drops are counted in its audit and status, and another
// task's lookups still resolve meanwhile.
func TestHostileResolverFlood(t *testing.T) {
	flood := nstest.New(t)
	quiet := nstest.New(t)
	up := upstream(t)
	for i := 0; i < 20; i++ {
		up.Set(fmt.Sprintf("n%d.example.test", i), fmt.Sprintf("203.0.113.%d", 100+i))
	}
	up.Set("flood.example.test", "203.0.113.200")
	h := newHarness(t, up.Addr, func(c *config.Config) { c.ResolverRate, c.ResolverBurst, c.ResolverWorkers = 50, 20, 2 })
	ctx := context.Background()
	for id, tp := range map[string]*nstest.Topo{"tksflood": flood, "tksquiet": quiet} {
		if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Allow: []string{"*.example.test"}}); err != nil {
			t.Fatal(err)
		}
	}
	// 30,000 queries fired without waiting, from the flooding task (a
	// bounded loop), while the quiet one asks 20 names one by one.
	m := new(dns.Msg)
	m.SetQuestion("flood.example.test.", dns.TypeA)
	b, _ := m.Pack()
	fired := make(chan error, 1)
	go func() {
		fired <- nstest.In(flood.Task, func() error {
			c, err := net.Dial("udp", taskResolver)
			if err != nil {
				return err
			}
			defer c.Close()
			for i := 0; i < 30000; i++ {
				_, _ = c.Write(b)
			}
			return nil
		})
	}()
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("n%d.example.test", i)
		if got := lookup(t, quiet, name, dns.TypeA); len(got) != 1 || got[0] != fmt.Sprintf("203.0.113.%d", 100+i) {
			t.Fatalf("the quiet task's lookup of %s during the flood: %v", name, got)
		}
	}
	if err := <-fired; err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "lookup-dropped in the flooding task's audit", auditHas(t, h, "tksflood", func(ev shieldapi.Event) bool {
		return ev.Kind == shieldapi.EventDropped && strings.Contains(ev.Detail, "queries dropped")
	}))
	st, err := h.c.Status(ctx, "tksflood")
	if err != nil || st.DroppedLookups == 0 {
		t.Fatalf("the flooding task's status counts no drops: %+v %v", st, err)
	}
	if st, _ := h.c.Status(ctx, "tksquiet"); st.DroppedLookups != 0 {
		t.Fatalf("the quiet task lost queries: %+v", st)
	}
	if auditHas(t, h, "tksquiet", func(ev shieldapi.Event) bool { return ev.Kind == shieldapi.EventDropped })() {
		t.Fatal("the quiet task's audit records drops")
	}
	// The drop records are rate-limited: far fewer records than drops.
	n := 0
	_ = h.c.Audit(ctx, "tksflood", false, func(ev shieldapi.Event) error {
		if ev.Kind == shieldapi.EventDropped {
			n++
		}
		return nil
	})
	if uint64(n) >= st.DroppedLookups || n > 30 {
		t.Fatalf("%d drop records for %d drops: not rate-limited", n, st.DroppedLookups)
	}
}

// TestHostileUnshieldedTask: a task whose project runs without the shield
// gets the minimal ruleset (mode open): the outside is open, the host side
// (here the internet side's router address stands for it) only at the
// endpoints and the container network's resolver.
func TestHostileUnshieldedTask(t *testing.T) {
	tp := nstest.New(t, "203.0.113.51")
	tp.Listen(tp.Inet, "203.0.113.51:80")
	tp.Listen(tp.Inet, nstest.RouterAddr+":9418") // the gate: an endpoint
	tp.Listen(tp.Inet, nstest.RouterAddr+":9419") // another listener of the host
	var pc net.PacketConn
	if err := nstest.In(tp.Inet, func() (err error) { pc, err = net.ListenPacket("udp", nstest.RouterAddr+":53"); return }); err != nil {
		t.Fatal(err)
	}
	netDNS := dnstest.Start(pc, 60) // the container network's resolver
	defer netDNS.Close()
	netDNS.Set("anything.example.test", "203.0.113.51")
	h := newHarness(t, "", func(c *config.Config) {
		c.HostSide = []string{nstest.RouterAddr + "/32", "169.254.0.0/16", "fe80::/10"}
	})
	ctx := context.Background()
	id := "tksopen"
	st, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Project: "loose", Mode: shieldapi.ModeOpen})
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode != shieldapi.ModeOpen || !st.Unshielded || st.Resolver != "" {
		t.Fatalf("status: %+v", st)
	}
	check := func() {
		t.Helper()
		connects(t, tp, "203.0.113.51:80")
		connects(t, tp, nstest.RouterAddr+":9418")
		refused(t, tp, nstest.RouterAddr+":9419")
		r, err := query(tp.Task, nstest.RouterAddr+":53", "anything.example.test", dns.TypeA, false)
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("the network's resolver from a task without the shield: %v %v", r, err)
		}
	}
	check()
	eventually(t, 5*time.Second, "the refused host-side connection in the audit", auditHas(t, h, id, func(ev shieldapi.Event) bool {
		return ev.Kind == shieldapi.EventBlocked && ev.Dest == nstest.RouterAddr && ev.Port == 9419
	}))
	// Only open and block apply; allow means nothing; deny works.
	for _, m := range []shieldapi.Mode{shieldapi.ModeUp, shieldapi.ModeDown} {
		if _, err := h.c.SetMode(ctx, id, m); unixhttp.StatusOf(err) != 400 {
			t.Errorf("mode %s for a task without the shield: %v", m, err)
		}
	}
	if _, err := h.c.Allow(ctx, id, nstest.RouterAddr, ""); unixhttp.StatusOf(err) != 400 {
		t.Errorf("allow for a task without the shield: %v", err)
	}
	if _, err := h.c.Deny(ctx, id, "203.0.113.51"); err != nil {
		t.Fatal(err)
	}
	refused(t, tp, "203.0.113.51:80")
	if _, err := h.c.Allow(ctx, "nope", "203.0.113.51", ""); unixhttp.StatusOf(err) != 404 {
		t.Errorf("allow for an unknown container: %v", err)
	}
	// Panic blocks it too; open again afterwards.
	if res, err := h.c.Panic(ctx); err != nil || len(res.Blocked) != 1 {
		t.Fatalf("panic: %+v %v", res, err)
	}
	if r := tp.Dial(nstest.RouterAddr+":9418", 3*time.Second); r.Err == nil {
		t.Fatal("a blocked task without the shield still connects")
	}
	// A restart restores it as it was (blocked, still without the shield).
	h.stop()
	h.start()
	if st, err := h.c.Status(ctx, id); err != nil || st.Mode != shieldapi.ModeBlock || !st.Unshielded || st.Reason != "" {
		t.Fatalf("after a restart: %+v %v", st, err)
	}
	if _, err := h.c.SetMode(ctx, id, shieldapi.ModeOpen); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Allow(ctx, id, "203.0.113.51", ""); unixhttp.StatusOf(err) != 400 {
		t.Fatalf("allow after a restart: %v", err)
	}
	connects(t, tp, nstest.RouterAddr+":9418")
	refused(t, tp, nstest.RouterAddr+":9419")
	// A shielded container cannot be switched to open, nor armed so with
	// an allowlist.
	tp2 := nstest.New(t)
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksshielded", PID: tp2.TaskPID}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.SetMode(ctx, "tksshielded", shieldapi.ModeOpen); unixhttp.StatusOf(err) != 400 {
		t.Errorf("mode open for a shielded task: %v", err)
	}
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksopen2", PID: tp2.TaskPID, Mode: shieldapi.ModeOpen, Allow: []string{"10.0.0.0/8"}}); unixhttp.StatusOf(err) != 400 {
		t.Errorf("open with allow entries: %v", err)
	}
}

// TestMain removes what testkit.Build compiled.
func TestMain(m *testing.M) { testkit.Main(m) }

// shieldBinary builds terok-shield (once per test binary).
func shieldBinary(t *testing.T) string {
	t.Helper()
	testkit.RequireCommand(t, "go")
	return testkit.BuildDaemon(t, "github.com/terok-ai/terok-in-docker/daemons/shield/cmd/terok-shield")
}

// execIn runs bin inside the named network namespace.
func execIn(ns, bin string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
}

// lockedWriter lets a child's stdout and stderr share one builder.
type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
