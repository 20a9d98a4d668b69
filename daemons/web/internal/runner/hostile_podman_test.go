package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/attach/podmantest"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// TestHostileTaskBindsLowPorts: a real task container, made from the
// runner's own spec, on Debian 12's Podman 4 (slirp4netns) and Debian 13's
// Podman 5 (pasta, as in the image), tries to take the address of the
// shield's resolver (127.0.0.53:53, UDP and TCP) and other low ports. It
// runs as root in its user namespace, yet every bind below 1024 is refused:
// its capabilities are the runner's explicit list (no NET_BIND_SERVICE),
// whatever the host's containers.conf says, and its namespace's
// ip_unprivileged_port_start is 1024. Port 1024 itself binds (the probe
// works).
func TestHostileTaskBindsLowPorts(t *testing.T) {
	probe := testkit.Build(t, "github.com/terok-ai/terok-in-docker/daemons/kit/testkit/bindprobe")
	for _, tier := range podmantest.Tiers {
		t.Run(tier.Name, func(t *testing.T) {
			pm := podmantest.StartTier(t, tier)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// The probe where the test user can read it.
			bin := filepath.Join(pm.Base, "bindprobe")
			b, err := os.ReadFile(probe)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bin, b, 0o755); err != nil {
				t.Fatal(err)
			}
			st, _ := tasks.Open(t.TempDir())
			r := New(ctx, Config{GatePort: 9418, Entry: bin}, zerolog.Nop(), st, projects.New(t.TempDir()), nil, pm.API, nil, events.New())
			_, netns, netopts, err := r.gateHost(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if netns == nil {
				netns = &podmanapi.Namespace{Mode: tier.Network}
			}
			off := false
			task := webapi.Task{ID: "hostile1", Name: "tkhostile-" + tier.Name, Project: "demo", Image: pm.Image(t, ctx)}
			spec := r.spec(task, webapi.Project{Name: "demo", Shield: webapi.Shield{Enabled: &off}}, "http://gate.invalid/demo.git", netns, netopts, 0)
			// The runner's spec as it is, but for what it runs: the probe
			// (mounted where the entry goes) instead of terok's entry. The
			// shield is not running here: no hook annotation.
			delete(spec.Annotations, "terok.shield")
			spec.Volumes, spec.WorkDir = nil, "/"
			spec.Entrypoint = []string{"/bin/sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status; echo start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start); " +
				EntryPath + " udp:127.0.0.53:53 tcp:127.0.0.53:53 tcp:0.0.0.0:80 udp:0.0.0.0:123 tcp:127.0.0.1:1023 tcp:127.0.0.1:1024; echo probe-done"}
			id := pm.Run(t, ctx, spec)
			if code, err := pm.API.WaitContainer(ctx, id); err != nil || code != 0 {
				t.Fatalf("probe container: exit %d, %v", code, err)
			}
			var out bytes.Buffer
			if err := pm.API.ContainerLogs(ctx, id, podmanapi.LogOptions{}, &out, &out); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			t.Logf("in the task (%s):\n%s", tier.Name, s)
			if !strings.Contains(s, "probe-done") {
				t.Fatalf("the probe did not run:\n%s", s)
			}
			// CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID = 0xfb.
			for _, want := range []string{"CapEff:\t00000000000000fb", "CapBnd:\t00000000000000fb", "start=1024",
				"tcp 127.0.0.1:1024 bound"} {
				if !strings.Contains(s, want) {
					t.Errorf("want %q in the task's output", want)
				}
			}
			for _, a := range []string{"udp 127.0.0.53:53", "tcp 127.0.0.53:53", "tcp 0.0.0.0:80", "udp 0.0.0.0:123", "tcp 127.0.0.1:1023"} {
				if !strings.Contains(s, a+" refused: listen "+a[:3]+" "+a[4:]+": bind: permission denied") {
					t.Errorf("the task bound %s", a)
				}
			}
		})
	}
}
