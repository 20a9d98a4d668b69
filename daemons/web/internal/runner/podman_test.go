package runner

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/podmantest"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
)

// TestGateHostFromRealPodman asks real Podman which rootless network it
// uses — Debian 12's 4.3 (slirp4netns) and Debian 13's 5 (pasta) — and
// checks the gate address and network settings the runner derives.
func TestGateHostFromRealPodman(t *testing.T) {
	want := map[string]struct{ host, netns string }{
		"slirp4netns": {"10.0.2.2", "slirp4netns"},
		"pasta":       {"host.containers.internal", ""},
	}
	for _, tier := range podmantest.Tiers {
		t.Run(tier.Name, func(t *testing.T) {
			pm := podmantest.StartTier(t, tier)
			st, _ := tasks.Open(t.TempDir())
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r := New(ctx, Config{GatePort: 9418}, Deps{Log: zerolog.Nop(), Store: st, Podman: pm.API, Hub: events.New()})
			host, netns, opts, err := r.gateHost(ctx)
			if err != nil {
				t.Fatal(err)
			}
			w := want[tier.Network]
			gotNS := ""
			if netns != nil {
				gotNS = netns.Mode
			}
			if host != w.host || gotNS != w.netns {
				t.Fatalf("Podman %s (%s): host %q netns %q, want %q %q", tier.Major, tier.Network, host, gotNS, w.host, w.netns)
			}
			if tier.Network == "slirp4netns" && (len(opts["slirp4netns"]) != 1 || opts["slirp4netns"][0] != "allow_host_loopback=true") {
				t.Fatalf("slirp4netns options %v", opts)
			}
		})
	}
}
