package runner

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/testkit"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/podmantest"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
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
			r := New(ctx, Config{GatePort: 9418, Entry: bin}, Deps{Log: zerolog.Nop(), Store: st, Podman: pm.API, Hub: events.New()})
			_, netns, netopts, err := r.gateHost(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if netns == nil {
				netns = &podmanapi.Namespace{Mode: tier.Network}
			}
			off := false
			task := tasks.Record{ID: "hostile1", Name: "tkhostile-" + tier.Name, Project: "demo", Image: pm.Image(t, ctx)}
			spec, err := r.spec(task, projects.Project{Name: "demo", Shield: projects.Shield{Enabled: &off}}, "http://gate.invalid/demo.git", netns, netopts, 0, credentials{})
			if err != nil {
				t.Fatal(err)
			}
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

// TestHostileUnshieldedTaskReachesOnlyTerok: a task whose project runs
// without the shield, made from the runner's own spec, with the real
// shield daemon and its OCI hook, on Podman 4 (slirp4netns, the host's
// loopback at 10.0.2.2) and Podman 5 (pasta, the host at 169.254.1.2 as in
// the image): it reaches the gate's port and an address outside the
// machine, and no other listener on the host's loopback. Without the
// shield's daemon it does not start. A shielded task from the same spec
// reaches the gate alone, and its resolver answers in its namespace.
func TestHostileUnshieldedTaskReachesOnlyTerok(t *testing.T) {
	shieldBin := testkit.Build(t, "github.com/terok-ai/terok-in-docker/daemons/shield/cmd/terok-shield")
	outside := testkit.OutsideHost(t, "hello-from-outside")
	// Where a task meets the host: slirp4netns maps 10.0.2.2 to the
	// host's loopback (allow_host_loopback); pasta maps 169.254.1.2 to the
	// host's own address (the one it copies into the task), so the image
	// binds the gate to 0.0.0.0. The listeners stand where each reaches.
	hostOf := map[string]string{"slirp4netns": "10.0.2.2", "pasta": "169.254.1.2"}
	listenOn := map[string]string{"slirp4netns": "127.0.0.1", "pasta": defaultSource(t)}
	for _, tier := range podmantest.Tiers {
		t.Run(tier.Name, func(t *testing.T) {
			gate, other := testkit.Greeter(t, listenOn[tier.Network], "hello-from-gate"), testkit.Greeter(t, listenOn[tier.Network], "hello-from-other")
			pm := podmantest.StartTier(t, tier)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// The shield as the image runs it: root, its socket open to
			// the rootless user's group, the hooks where Podman reads them.
			bin := filepath.Join(pm.Base, "terok-shield")
			b, err := os.ReadFile(shieldBin)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bin, b, 0o755); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(pm.Base, "shield.sock")
			if out, err := exec.Command(bin, "install-hooks", "--dir", filepath.Join(pm.Base, "hooks"), "--socket", sock).CombinedOutput(); err != nil {
				t.Fatalf("install-hooks: %v %s", err, out)
			}
			st, _ := tasks.Open(t.TempDir())
			r := New(ctx, Config{GatePort: gate, Entry: "/bin/true"}, Deps{Log: zerolog.Nop(), Store: st, Podman: pm.API, Hub: events.New()})
			_, netns, netopts, err := r.gateHost(ctx)
			if err != nil {
				t.Fatal(err)
			}
			host := hostOf[tier.Network]
			off := false
			task := tasks.Record{ID: "open1", Name: "tkhostile-open-" + tier.Name, Project: "loose", Image: pm.Image(t, ctx)}
			spec, err := r.spec(task, projects.Project{Name: "loose", Shield: projects.Shield{Enabled: &off}}, "http://gate.invalid/loose.git", netns, netopts, 0, credentials{})
			if err != nil {
				t.Fatal(err)
			}
			spec.Volumes, spec.WorkDir, spec.Mounts = nil, "/", nil
			spec.Entrypoint = []string{"/bin/sh", "-c", fmt.Sprintf(`echo "gate:$(nc -w 3 %s %d </dev/null)"; o=$(nc -w 3 %s %d </dev/null); echo "other-rc:$?"; echo "other:$o"; `+
				`echo "outside:$(nc -w 3 %s 80 </dev/null)"; echo probe-done`, host, gate, host, other, strings.Split(outside, ":")[0])}
			run := func(name string) (string, error) {
				spec.Name = name
				cr, err := pm.API.CreateContainer(ctx, spec)
				if err != nil {
					return "", err
				}
				t.Cleanup(func() { _ = pm.API.RemoveContainer(context.Background(), cr.ID, podmanapi.RemoveOptions{Force: true}) })
				if err := pm.API.StartContainer(ctx, cr.ID); err != nil {
					return "", err
				}
				if _, err := pm.API.WaitContainer(ctx, cr.ID); err != nil {
					return "", err
				}
				var out bytes.Buffer
				err = pm.API.ContainerLogs(ctx, cr.ID, podmanapi.LogOptions{}, &out, &out)
				return out.String(), err
			}
			if out, err := run(task.Name + "-nodaemon"); err == nil {
				t.Fatalf("a task without the shield started with the shield's daemon down:\n%s", out)
			}

			state, err := os.MkdirTemp("", "tkhostile-shield-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(state) })
			var logs testkit.SyncBuffer
			d := exec.Command(bin, "--socket", sock, "serve", "--state", filepath.Join(state, "state"), "--config", filepath.Join(state, "config"),
				"--socket-group", "tkpodman", "--endpoint", fmt.Sprintf("tcp:10.0.2.2:%d", gate), "--endpoint", fmt.Sprintf("tcp:169.254.1.2:%d", gate))
			d.Stdout, d.Stderr = &logs, &logs
			if err := d.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Process.Signal(os.Interrupt); _ = d.Wait() })
			for i := 0; ; i++ {
				if _, err := os.Stat(sock); err == nil {
					break
				}
				if i > 400 {
					t.Fatalf("the shield did not come up:\n%s", logs.String())
				}
				time.Sleep(25 * time.Millisecond)
			}
			out, err := run(task.Name)
			if err != nil {
				t.Fatalf("run: %v\n%s\n%s", err, out, logs.String())
			}
			t.Logf("in the task without the shield (%s):\n%s", tier.Name, out)
			if !strings.Contains(out, "gate:hello-from-gate") {
				t.Errorf("the gate is unreachable at %s:%d", host, gate)
			}
			if !strings.Contains(out, "outside:hello-from-outside") {
				t.Errorf("the outside address %s is unreachable", outside)
			}
			if strings.Contains(out, "hello-from-other") || !strings.Contains(out, "other-rc:1") {
				t.Errorf("another listener on the host's loopback answered at %s:%d", host, other)
			}

			// The same task with the shield: the gate only, and its
			// resolver (opened by the shield in a namespace where the task
			// holds no low port) answers, refusing an unlisted name.
			shielded, err := r.spec(tasks.Record{ID: "on1", Name: "tkhostile-on-" + tier.Name, Project: "tight", Image: task.Image},
				projects.Project{Name: "tight"}, "http://gate.invalid/tight.git", netns, netopts, 0, credentials{})
			if err != nil {
				t.Fatal(err)
			}
			shielded.Volumes, shielded.WorkDir, shielded.Mounts = nil, "/", nil
			shielded.Entrypoint = []string{"/bin/sh", "-c", spec.Entrypoint[2] + "; busybox nslookup unlisted.example.test 127.0.0.53; echo lookup-done"}
			spec = shielded
			out, err = run(shielded.Name)
			if err != nil {
				t.Fatalf("run: %v\n%s\n%s", err, out, logs.String())
			}
			t.Logf("in the shielded task (%s):\n%s", tier.Name, out)
			if !strings.Contains(out, "gate:hello-from-gate") || strings.Contains(out, "hello-from-other") || strings.Contains(out, "hello-from-outside") {
				t.Errorf("the shielded task reaches more or less than the gate")
			}
			if !strings.Contains(out, "REFUSED") {
				t.Errorf("the shield's resolver did not answer in the task (want REFUSED for an unlisted name)")
			}
		})
	}
}

// defaultSource is the host's address on its default route (what pasta
// copies into a task); no packet is sent to find it.
func defaultSource(t *testing.T) string {
	t.Helper()
	c, err := net.Dial("udp", "192.0.2.1:9")
	if err != nil {
		t.Fatalf("the host's default address: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}
