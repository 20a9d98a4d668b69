package daemon_test

// The hostile agent against the deny list: a task that found a provider's
// key (or wants to log in from inside) and goes for the provider's API
// host directly instead of through terok's credential broker. The
// provider is a TEST-NET host in the test's "internet" namespace, its
// name served by a DNS server of the test's own; the broker is one of the
// shield's endpoints on the host side. Real nftables in real namespaces,
// the real daemon.

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/config"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/dnstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/nstest"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

const (
	provider     = "api.example-provider.test"
	providerAddr = "203.0.113.61" // the provider's API host
	docsAddr     = "203.0.113.62" // an allowed host that is not the provider
	outsideAddr  = "203.0.113.65" // any other host of the outside
	newAddr      = "203.0.113.66" // where the provider's name moves to
	gateEP       = nstest.RouterAddr + ":9418"
	brokerEP     = nstest.RouterAddr + ":9419" // terok-vault's broker: an endpoint like the gate
	hostOther    = nstest.RouterAddr + ":9420" // another listener of the host: never reachable
)

// providerWorld is the provider, an allowed host and the outside in the
// internet namespace, the gate and broker endpoints and another host
// listener at the router address, and the daemon's upstream DNS (TTL 1 s,
// so the daemon re-resolves within the test).
func providerWorld(t *testing.T) (*nstest.Topo, *dnstest.Server) {
	t.Helper()
	tp := nstest.New(t, providerAddr, docsAddr, outsideAddr, newAddr)
	for _, a := range []string{providerAddr, docsAddr, outsideAddr, newAddr} {
		tp.Listen(tp.Inet, net.JoinHostPort(a, "443"))
	}
	for _, a := range []string{gateEP, brokerEP, hostOther} {
		tp.Listen(tp.Inet, a)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := dnstest.Start(pc, 1)
	t.Cleanup(up.Close)
	up.Set(provider, providerAddr)
	up.Set("docs.example.test", docsAddr)
	// An allowed name whose zone the attacker controls, pointing at the
	// provider.
	up.SetCNAME("alias.example.test", provider)
	return tp, up
}

// withEndpoints makes the gate and the broker the daemon's endpoints and
// the router address the host side (for tasks without the shield).
func withEndpoints(c *config.Config) {
	c.Endpoints = []string{"tcp:" + gateEP, "tcp:" + brokerEP}
	c.HostSide = []string{nstest.RouterAddr + "/32", "169.254.0.0/16", "fe80::/10"}
}

// writeProfile writes a user profile (root's, as the daemon wants it).
func writeProfile(t *testing.T, h *harness, name, body string) {
	t.Helper()
	dir := filepath.Join(h.cfg.ConfigDir, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func port443(a string) string { return net.JoinHostPort(a, "443") }

// deniedByPolicy matches the audit record of a lookup the deny list refused.
func deniedByPolicy(name string) func(shieldapi.Event) bool {
	return func(ev shieldapi.Event) bool {
		return ev.Kind == shieldapi.EventRefused && ev.Target == name && strings.Contains(ev.Detail, "denied by policy")
	}
}

// TestHostileDenyListShieldedTask: the project's profile allows the
// provider's host (by name, by a CNAME to it and by its address), the
// task's deny list names it. The task's resolver refuses the name and the
// alias (audited as denied by policy), the address is refused, a live
// allow of the name or the address is refused saying why, and none of it
// changes in down mode or across a daemon restart; the broker (an
// endpoint) and the allowed host stay reachable.
func TestHostileDenyListShieldedTask(t *testing.T) {
	tp, up := providerWorld(t)
	h := newHarness(t, up.Addr, withEndpoints)
	writeProfile(t, h, "agents", "# what the project asked for\n"+provider+"\nalias.example.test\ndocs.example.test\n"+providerAddr+"\n")
	ctx := context.Background()
	id := "tksdeny0123456789"
	st, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Project: "agents", Profiles: []string{"agents"},
		Deny: []string{"API.Example-Provider.test."}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(st.DenyList, ",") != provider {
		t.Fatalf("status deny list %q, want %q", st.DenyList, provider)
	}
	check := func(when string) {
		t.Helper()
		refusedLookup(t, tp, provider)
		refusedLookup(t, tp, "alias.example.test")
		refused(t, tp, port443(providerAddr))
		connects(t, tp, brokerEP)
		connects(t, tp, gateEP)
		if got := lookup(t, tp, "docs.example.test", dns.TypeA); len(got) != 1 || got[0] != docsAddr {
			t.Fatalf("%s: docs.example.test answered %v", when, got)
		}
		connects(t, tp, port443(docsAddr))
		for _, target := range []string{provider, providerAddr, providerAddr + "/32"} {
			_, err := h.c.Allow(ctx, id, target, "")
			if unixhttp.StatusOf(err) != 400 || !strings.Contains(err.Error(), "denied by policy") || !strings.Contains(err.Error(), "deny list") {
				t.Fatalf("%s: live allow of %s: %v; want 400 denied by policy", when, target, err)
			}
		}
		refused(t, tp, port443(providerAddr))
		r := rulesOf(t, h, id)
		if !strings.Contains(setLine(t, r, ruleset.Deny4), providerAddr) || strings.Contains(setLine(t, r, ruleset.Allow4), providerAddr) {
			t.Fatalf("%s: the provider's address must be in deny4 and not in allow4:\n%s", when, r)
		}
	}
	check("up")
	refused(t, tp, hostOther)
	eventually(t, 5*time.Second, "the deny list in the armed record", auditHas(t, h, id, func(ev shieldapi.Event) bool {
		return ev.Kind == shieldapi.EventArmed && strings.HasSuffix(ev.Detail, " deny "+provider)
	}))
	eventually(t, 5*time.Second, "the refused lookup of the provider, denied by policy, in the audit", auditHas(t, h, id, deniedByPolicy(provider)))
	eventually(t, 5*time.Second, "the refused CNAME to the provider in the audit", auditHas(t, h, id, func(ev shieldapi.Event) bool {
		return ev.Kind == shieldapi.EventRefused && ev.Target == "alias.example.test" && strings.Contains(ev.Detail, "leads to "+provider)
	}))
	eventually(t, 5*time.Second, "the refused connection to the provider in the audit", auditHas(t, h, id, func(ev shieldapi.Event) bool {
		return ev.Kind == shieldapi.EventBlocked && ev.Dest == providerAddr && ev.Port == 443
	}))

	// A wider allow is taken, but the deny list still wins inside it; a
	// wildcard over the provider's name does not open the name.
	if _, err := h.c.Allow(ctx, id, "203.0.113.0/24", ""); err != nil {
		t.Fatalf("allow of a wider range: %v", err)
	}
	if _, err := h.c.Allow(ctx, id, "*.example-provider.test", ""); err != nil {
		t.Fatalf("allow of a wildcard: %v", err)
	}
	connects(t, tp, port443(outsideAddr))
	check("after wider allows")

	// Down opens everything but private ranges, and the deny list.
	if _, err := h.c.SetMode(ctx, id, shieldapi.ModeDown); err != nil {
		t.Fatal(err)
	}
	check("down")
	if _, err := h.c.SetMode(ctx, id, shieldapi.ModeUp); err != nil {
		t.Fatal(err)
	}

	// The provider's name moves to another address: the daemon's refresh
	// withholds the new one too, and keeps the old one withheld.
	up.Set(provider, newAddr)
	eventually(t, 15*time.Second, "the provider's new address in deny4", func() bool {
		return strings.Contains(setLine(t, rulesOf(t, h, id), ruleset.Deny4), newAddr)
	})
	refused(t, tp, port443(newAddr))
	refused(t, tp, port443(providerAddr))

	// A restart of the daemon restores the deny list with the rest, and
	// every address seen for the provider's name.
	h.stop()
	h.start()
	st, err = h.c.Status(ctx, id)
	if err != nil || st.Mode != shieldapi.ModeUp || st.Reason != "" || strings.Join(st.DenyList, ",") != provider {
		t.Fatalf("after a restart: %+v %v", st, err)
	}
	refused(t, tp, port443(newAddr))
	check("after a restart")
	refused(t, tp, hostOther)
}

// TestHostileDenyListRestoreChecks: a state file whose deny list fails
// Arm's checks is not restored as written (blocked, as any refused
// state), but a deny only takes away: the entries that parse are kept,
// so the task leaving block is still kept from the provider.
func TestHostileDenyListRestoreChecks(t *testing.T) {
	tp, up := providerWorld(t)
	h := newHarness(t, up.Addr, withEndpoints)
	ctx := context.Background()
	id := "tksdenyplant"
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Deny: []string{provider}}); err != nil {
		t.Fatal(err)
	}
	h.stop()
	p := filepath.Join(h.cfg.StateDir, "containers", id+".json")
	var s map[string]any
	b, err := os.ReadFile(p)
	if err != nil || json.Unmarshal(b, &s) != nil {
		t.Fatalf("read state: %v", err)
	}
	if d, _ := json.Marshal(s["deny_list"]); string(d) != `["`+provider+`"]` {
		t.Fatalf("state file deny_list = %s", d)
	}
	s["deny_list"] = []string{provider, "not a host!"}
	writeState(t, h, id, s)
	h.start()
	st, err := h.c.Status(ctx, id)
	if err != nil || st.Mode != shieldapi.ModeBlock || !strings.Contains(st.Reason, "deny list") || strings.Join(st.DenyList, ",") != provider {
		t.Fatalf("a state with a bad deny list: %+v %v; want blocked, naming the deny list, keeping %s", st, err, provider)
	}
	if _, err := h.c.SetMode(ctx, id, shieldapi.ModeDown); err != nil {
		t.Fatal(err)
	}
	connects(t, tp, port443(outsideAddr))
	refused(t, tp, port443(providerAddr))
	refusedLookup(t, tp, provider)
}

// TestHostileDenyListUnshieldedTask: a task whose project runs without
// the shield (mode open) reaches the whole outside, but not the provider
// on its deny list (the addresses the daemon resolves for the name; the
// task resolves through its container network's resolver, which the
// shield does not answer for), while the broker endpoint answers — even
// with a deny entry covering the host side's address: terok's endpoints
// are let through before the deny list.
func TestHostileDenyListUnshieldedTask(t *testing.T) {
	tp, up := providerWorld(t)
	h := newHarness(t, up.Addr, withEndpoints)
	ctx := context.Background()
	id := "tksdenyopen"
	st, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: id, PID: tp.TaskPID, Mode: shieldapi.ModeOpen, Deny: []string{provider, "198.51.100.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Unshielded || strings.Join(st.DenyList, ",") != provider+",198.51.100.0/24" {
		t.Fatalf("status: %+v", st)
	}
	connects(t, tp, port443(outsideAddr))
	connects(t, tp, port443(docsAddr))
	refused(t, tp, port443(providerAddr))
	connects(t, tp, brokerEP)
	connects(t, tp, gateEP)
	refused(t, tp, hostOther)
	eventually(t, 5*time.Second, "the refused connection to the provider in the audit", auditHas(t, h, id, func(ev shieldapi.Event) bool {
		return ev.Kind == shieldapi.EventBlocked && ev.Dest == providerAddr && ev.Port == 443
	}))
	// After a restart too.
	h.stop()
	h.start()
	if st, err := h.c.Status(ctx, id); err != nil || st.Mode != shieldapi.ModeOpen || strings.Join(st.DenyList, ",") != provider+",198.51.100.0/24" {
		t.Fatalf("after a restart: %+v %v", st, err)
	}
	connects(t, tp, port443(outsideAddr))
	refused(t, tp, port443(providerAddr))
	connects(t, tp, brokerEP)
}

// TestHostileDenyNamesGlobal: deny_names in the daemon's config.json
// applies to every task, with or without the shield and with no deny
// list of its own, and a live allow cannot lift it either.
func TestHostileDenyNamesGlobal(t *testing.T) {
	tp, up := providerWorld(t)
	tpOpen := nstest.New(t, providerAddr, outsideAddr)
	tpOpen.Listen(tpOpen.Inet, port443(providerAddr))
	tpOpen.Listen(tpOpen.Inet, port443(outsideAddr))
	tpOpen.Listen(tpOpen.Inet, brokerEP)
	h := newHarness(t, up.Addr, withEndpoints, func(c *config.Config) {
		// As the operator writes it, read the way terok-shield serve reads it.
		if err := os.MkdirAll(c.ConfigDir, 0o700); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(c.ConfigDir, "config.json")
		if err := os.WriteFile(p, []byte(`{"deny_names": ["`+provider+`"]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := c.LoadFile(p); err != nil {
			t.Fatal(err)
		}
	})
	writeProfile(t, h, "agents", provider+"\ndocs.example.test\n")
	ctx := context.Background()
	st, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksglobal1", PID: tp.TaskPID, Profiles: []string{"agents"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.DenyList) != 0 || strings.Join(st.DenyGlobal, ",") != provider {
		t.Fatalf("status: deny list %q, global %q", st.DenyList, st.DenyGlobal)
	}
	if _, err := h.c.Arm(ctx, shieldapi.ArmRequest{ID: "tksglobal2", PID: tpOpen.TaskPID, Mode: shieldapi.ModeOpen}); err != nil {
		t.Fatal(err)
	}
	refusedLookup(t, tp, provider)
	refused(t, tp, port443(providerAddr))
	connects(t, tp, port443(docsAddr))
	connects(t, tp, brokerEP)
	if _, err := h.c.Allow(ctx, "tksglobal1", provider, ""); unixhttp.StatusOf(err) != 400 || !strings.Contains(err.Error(), "denied by policy") {
		t.Fatalf("live allow of a name on deny_names: %v", err)
	}
	eventually(t, 5*time.Second, "the refused lookup, denied by policy, in the audit", auditHas(t, h, "tksglobal1", deniedByPolicy(provider)))
	connects(t, tpOpen, port443(outsideAddr))
	refused(t, tpOpen, port443(providerAddr))
	connects(t, tpOpen, brokerEP)
}
