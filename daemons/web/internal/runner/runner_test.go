package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/keylock"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// The seams below stand in for the daemons; the e2e tests run the real ones.

type fakeGate struct {
	mu      sync.Mutex
	down    bool
	ensure  error // what EnsureRepo answers (the gate answered)
	revoked []string
	tokens  []gateapi.Token
}

func (g *fakeGate) EnsureRepo(ctx context.Context, req gateapi.EnsureRepoRequest) (gateapi.Repo, bool, error) {
	if g.down {
		return gateapi.Repo{}, false, &unixhttp.DialError{Socket: "/run/terok/gate.sock", Err: errors.New("connection refused")}
	}
	if g.ensure != nil {
		return gateapi.Repo{}, false, g.ensure
	}
	return gateapi.Repo{Name: req.Name}, true, nil
}
func (g *fakeGate) MintToken(ctx context.Context, project, task string) (gateapi.MintResponse, error) {
	return gateapi.MintResponse{Secret: "terok-g-secret"}, nil
}
func (g *fakeGate) RevokeTask(ctx context.Context, project, task string) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked = append(g.revoked, task)
	return 1, nil
}
func (g *fakeGate) Tokens(ctx context.Context, project string) ([]gateapi.Token, error) {
	return g.tokens, nil
}

type fakePodman struct {
	list    []podmanapi.ContainerSummary
	inspect map[string]podmanapi.Container // by id; others: a plain exit 0
	// waitCode is what wait answers for a container of inspect that has
	// ended.
	waitCode int
	onStop   func(id string) // what stopping a container does (nil: nothing)
	net      string
	image    bool
	mu       sync.Mutex
	specs    []podmanapi.CreateSpec
	exit     chan int
}

func (p *fakePodman) CreateContainer(ctx context.Context, s podmanapi.CreateSpec) (podmanapi.CreateResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.specs = append(p.specs, s)
	return podmanapi.CreateResult{ID: "c-" + s.Name}, nil
}
func (p *fakePodman) StartContainer(ctx context.Context, id string) error { return nil }
func (p *fakePodman) WaitContainer(ctx context.Context, id string) (int, error) {
	p.mu.Lock()
	c, ok := p.inspect[id]
	p.mu.Unlock()
	if ok && !c.State.Running {
		return p.waitCode, nil // what Podman's wait said, maybe not the real code
	}
	select {
	case c := <-p.exit:
		return c, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
func (p *fakePodman) InspectContainer(ctx context.Context, id string) (podmanapi.Container, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.inspect[id]; ok {
		return c, nil
	}
	return podmanapi.Container{ID: id, State: podmanapi.ContainerState{Status: "exited"}}, nil
}

// StopContainer runs onStop when one is set (a container that ends as
// SIGTERM would end it).
func (p *fakePodman) StopContainer(ctx context.Context, id string, t uint) error {
	if p.onStop != nil {
		p.onStop(id)
	}
	return nil
}
func (p *fakePodman) RemoveContainer(ctx context.Context, id string, o podmanapi.RemoveOptions) error {
	return nil
}
func (p *fakePodman) ListContainers(ctx context.Context, o podmanapi.ListOptions) ([]podmanapi.ContainerSummary, error) {
	return p.list, nil
}
func (p *fakePodman) ContainerLogs(ctx context.Context, id string, o podmanapi.LogOptions, so, se io.Writer) error {
	io.WriteString(so, "agent output\n")
	return nil
}
func (p *fakePodman) ImageExists(ctx context.Context, name string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.image, nil
}
func (p *fakePodman) ListImages(ctx context.Context) ([]podmanapi.Image, error) { return nil, nil }
func (p *fakePodman) ImportImage(ctx context.Context, ref string, tarball io.Reader) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.image = true
	return "sha256:imported", nil
}
func (p *fakePodman) RemoveImage(ctx context.Context, name string, force bool) error  { return nil }
func (p *fakePodman) RemoveVolume(ctx context.Context, name string, force bool) error { return nil }
func (p *fakePodman) RootlessNetwork(ctx context.Context) (string, error)             { return p.net, nil }

type fakeShield struct{}

func (fakeShield) Audit(ctx context.Context, id string, follow bool, fn func(shieldapi.Event) error) error {
	<-ctx.Done()
	return nil
}
func (fakeShield) Status(ctx context.Context, id string) (shieldapi.Status, error) {
	return shieldapi.Status{ArmMillis: 2.5}, nil
}

func newRunner(t *testing.T, pm *fakePodman, g *fakeGate) (*Runner, *projects.Store) {
	t.Helper()
	return newRunnerWith(t, Config{Entry: "/opt/terok-entry", GatePort: 9418}, pm, g)
}

func newRunnerWith(t *testing.T, cfg Config, pm *fakePodman, g *fakeGate) (*Runner, *projects.Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, ps := newRunnerCtx(t, ctx, cfg, pm, g)
	t.Cleanup(func() { cancel(); r.Wait() })
	return r, ps
}

// newRunnerCtx is a reconciled runner whose context is ctx.
// opts change the runner's Deps (a vault, a store of the test's own).
func newRunnerCtx(t *testing.T, ctx context.Context, cfg Config, pm *fakePodman, g *fakeGate, opts ...func(*Deps)) (*Runner, *projects.Store) {
	t.Helper()
	ps := projects.New(t.TempDir())
	st, err := tasks.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	locks := &keylock.Locks{}
	d := Deps{Log: zerolog.Nop(), Store: st, Projects: projects.NewService(ps, g, st, locks),
		Gate: g, Podman: pm, Shield: fakeShield{}, Hub: events.New(), Locks: locks, Imports: images.NewService(pm, t.TempDir())}
	for _, o := range opts {
		o(&d)
	}
	r := New(ctx, cfg, d)
	if err := r.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r, ps
}

func TestGateAddressFollowsPodman(t *testing.T) {
	for _, tc := range []struct {
		net, host, netns string
		loopback         bool
	}{
		{podmanapi.NetSlirp4netns, "10.0.2.2", "slirp4netns", true},
		{podmanapi.NetPasta, "host.containers.internal", "", false},
	} {
		t.Run(tc.net, func(t *testing.T) {
			pm := &fakePodman{net: tc.net, image: true, exit: make(chan int, 1)}
			r, ps := newRunner(t, pm, &fakeGate{})
			ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make"}, Shield: projects.Shield{Allow: []string{"a.example"}}})
			task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo", Prompt: "do it"})
			if err != nil {
				t.Fatal(err)
			}
			s := pm.specs[0]
			if got, want := s.Env["TEROK_GATE_URL"], "http://terok-g-secret@"+tc.host+":9418/demo.git"; got != want {
				t.Fatalf("TEROK_GATE_URL = %q, want %q", got, want)
			}
			if task.GateURL != "http://"+tc.host+":9418/demo.git" {
				t.Fatalf("the record shows %q (the token must not be in it)", task.GateURL)
			}
			if (s.NetNS != nil) != (tc.netns != "") || (s.NetNS != nil && s.NetNS.Mode != tc.netns) {
				t.Fatalf("netns %+v, want %q", s.NetNS, tc.netns)
			}
			if got := strings.Join(s.NetworkOptions["slirp4netns"], ","); (got == "allow_host_loopback=true") != tc.loopback {
				t.Fatalf("network options %v", s.NetworkOptions)
			}
			if s.Annotations[shieldapi.AnnotationShield] != "on" || s.Annotations[shieldapi.AnnotationAllow] != "a.example" ||
				s.Labels[LabelTask] != task.ID || s.Env["TEROK_PROMPT"] != "do it" || s.Env["TEROK_AGENT_COMMAND"] != "make" ||
				s.Entrypoint[0] != EntryPath || s.Mounts[0].Source != "/opt/terok-entry" || s.Volumes[0].Dest != "/workspace" ||
				strings.Join(s.DNSServers, ",") != shieldapi.ResolverAddr {
				t.Fatalf("spec: %+v", s)
			}
			pm.exit <- 0
			done, err := r.WaitEnded(context.Background(), task.ID)
			if err != nil || done.State != webapi.StateExited || *done.ExitCode != 0 {
				t.Fatalf("end: %+v %v", done, err)
			}
		})
	}
}

func TestGateDownFailsNamingIt(t *testing.T) {
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true, exit: make(chan int, 1)}
	r, ps := newRunner(t, pm, &fakeGate{down: true})
	ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make"}})
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if !errors.Is(err, unixhttp.ErrUnavailable) || !strings.Contains(err.Error(), "terok-gate does not answer") {
		t.Fatalf("err = %v", err)
	}
	if got, _ := r.store.Get(task.ID); got.State != webapi.StateFailed || !strings.Contains(got.Reason, "terok-gate") {
		t.Fatalf("record: %+v", got)
	}
	if len(pm.specs) != 0 {
		t.Fatal("a container was created although the gate is down")
	}
}

// TestRefusingUpstreamIsNotBlamedOnTheGate: the gate answers 502 (its
// upstream refused); the task's reason names the upstream and its
// address, says what 127.0.0.1 is, and keeps the token out.
func TestRefusingUpstreamIsNotBlamedOnTheGate(t *testing.T) {
	pm := &fakePodman{net: podmanapi.NetPasta, image: true}
	g := &fakeGate{ensure: &unixhttp.APIError{Status: 502,
		Message: "upstream failed: list http://127.0.0.1:8080/x.git: dial tcp 127.0.0.1:8080: connect: connection refused"}}
	r, ps := newRunner(t, pm, g)
	ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make"}, Git: projects.Git{UpstreamURL: "http://user:s3cret@127.0.0.1:8080/x.git"}})
	task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if !errors.Is(err, projects.ErrUpstream) || fail.Status(err) != http.StatusBadGateway {
		t.Fatalf("err = %v (status %d), want projects.ErrUpstream, 502", err, fail.Status(err))
	}
	got, _ := r.store.Get(task.ID)
	for _, want := range []string{"upstream of project demo, http://127.0.0.1:8080/x.git (address 127.0.0.1:8080)", "connection refused",
		"127.0.0.1 is the machine terok-gate runs on", "docs/docker.md"} {
		if !strings.Contains(got.Reason, want) {
			t.Errorf("reason lacks %q:\n%s", want, got.Reason)
		}
	}
	for _, bad := range []string{"does not answer", "(HTTP 502)", "s3cret"} {
		if strings.Contains(got.Reason, bad) {
			t.Errorf("reason holds %q:\n%s", bad, got.Reason)
		}
	}
}

func TestMissingImageNamesTheFix(t *testing.T) {
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: false}
	r, ps := newRunner(t, pm, &fakeGate{})
	ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make"}})
	_, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
	if !errors.Is(err, ErrImageMissing) || !strings.Contains(err.Error(), "make task-image") {
		t.Fatalf("err = %v", err)
	}
	_, err = r.Run(context.Background(), webapi.RunRequest{Project: "demo", Mode: "web"})
	if !errors.Is(err, unixhttp.ErrBadRequest) || !strings.Contains(err.Error(), "run.web_port") {
		t.Fatalf("web without a port: %v", err)
	}
}

func TestReconcile(t *testing.T) {
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true}
	g := &fakeGate{}
	r, _ := newRunner(t, pm, g)
	st := r.store
	ended, _ := st.Create(tasks.Record{Project: "demo", State: webapi.StateExited})
	vanished, _ := st.Create(tasks.Record{Project: "demo", State: webapi.StateRunning, Container: "gone"})
	pm.list = []podmanapi.ContainerSummary{{ID: "x1", Names: []string{"terok-demo-zzzzzz"}, Labels: map[string]string{LabelTask: "zzzzzz"}}}
	g.tokens = []gateapi.Token{{Project: "demo", Task: ended.ID}, {Project: "demo", Task: "minted-by-hand"}}
	if err := r.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o := r.Orphans(); len(o) != 1 || o[0] != "terok-demo-zzzzzz" {
		t.Fatalf("orphans %v", o)
	}
	if got, _ := st.Get(vanished.ID); got.State != webapi.StateFailed || !strings.Contains(got.Reason, "terok task followup") {
		t.Fatalf("vanished task: %+v", got)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	revoked := strings.Join(g.revoked, ",")
	if !strings.Contains(revoked, ended.ID) || !strings.Contains(revoked, vanished.ID) || strings.Contains(revoked, "minted-by-hand") {
		t.Fatalf("revoked %q (ended %s, vanished %s): want the ended and the vanished task's, not a token terok-web did not mint", revoked, ended.ID, vanished.ID)
	}
}

// fakeFeed sends its events after since, then says so on delivered and
// follows until ctx ends (as the gate's feed does).
type fakeFeed struct {
	evs       []gateapi.Event
	delivered chan struct{}
}

func (f fakeFeed) Events(ctx context.Context, since uint64, follow bool, fn func(gateapi.Event) error) error {
	for _, e := range f.evs {
		if e.Seq > since {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	f.delivered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func TestPushesReachTheirTask(t *testing.T) {
	pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true}
	r, _ := newRunner(t, pm, &fakeGate{})
	task, _ := r.store.Create(tasks.Record{Project: "demo", State: webapi.StateRunning})
	other, _ := r.store.Create(tasks.Record{Project: "other", State: webapi.StateRunning})
	feed := fakeFeed{delivered: make(chan struct{}, 1), evs: []gateapi.Event{
		{Seq: 1, Kind: gateapi.EventPush, Repo: "demo", Task: task.ID, Ref: "refs/heads/agent/x", New: "aaaa", Commits: 2},
		{Seq: 2, Kind: gateapi.EventPush, Repo: "demo", Task: "", Ref: "refs/heads/main", New: "bbbb"},          // admin
		{Seq: 3, Kind: gateapi.EventPush, Repo: "demo", Task: other.ID, Ref: "refs/heads/agent/y", New: "cccc"}, // wrong repo
		{Seq: 4, Kind: gateapi.EventPush, Repo: "demo", Task: task.ID, Ref: "refs/heads/agent/x", Old: "aaaa", New: "dddd", Commits: 1},
	}}
	seq := t.TempDir() + "/web/gate-events.seq"
	// One connection to the feed: every event it holds is handled (the
	// callback records it before the next comes), then it is left.
	follow := func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { r.FollowPushes(ctx, feed, seq); close(done) }()
		select {
		case <-feed.delivered:
		case <-time.After(time.Minute): // a bound for a hang, not a window
			t.Fatal("the feed was never read")
		}
		cancel()
		<-done
	}
	follow()
	follow() // again from the kept position: nothing is repeated
	es, _ := r.store.Timeline(task.ID)
	var pushes []string
	for _, e := range es {
		if e.Kind == webapi.EntryPush {
			pushes = append(pushes, fmt.Sprintf("%s %s>%s %d", e.Ref, e.Old, e.New, e.Commits))
		}
	}
	if strings.Join(pushes, "|") != "agent/x >aaaa 2|agent/x aaaa>dddd 1" {
		t.Fatalf("pushes %q", pushes)
	}
	got, _ := r.store.Get(task.ID)
	if strings.Join(got.Branches, ",") != "agent/x" {
		t.Fatalf("branches %v", got.Branches)
	}
	if es, _ := r.store.Timeline(other.ID); len(es) != 0 {
		t.Fatalf("a push to another project's repository reached task %s: %+v", other.ID, es)
	}
}

// TestSpecHardensEveryTask: every task (shielded or not) gets an explicit
// capability set without NET_BIND_SERVICE and no low ports, and a task
// whose project has the shield off is still annotated for the shield's
// minimal ruleset (terok.shield=open) with none of the allowlist's
// annotations.
func TestSpecHardensEveryTask(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name   string
		shield projects.Shield
		want   string
	}{
		{"shielded", projects.Shield{Allow: []string{"a.example"}}, shieldapi.ShieldOn},
		{"unshielded", projects.Shield{Enabled: &off, Allow: []string{"a.example"}, Profiles: []string{"base"}}, shieldapi.ShieldOpen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm := &fakePodman{net: podmanapi.NetSlirp4netns, image: true, exit: make(chan int, 1)}
			r, ps := newRunner(t, pm, &fakeGate{})
			ps.Create(projects.Project{Name: "demo", Agent: projects.Agent{Command: "make"}, Shield: tc.shield})
			task, err := r.Run(context.Background(), webapi.RunRequest{Project: "demo"})
			if err != nil {
				t.Fatal(err)
			}
			s := pm.specs[0]
			if strings.Join(s.CapDrop, ",") != "ALL" || strings.Join(s.CapAdd, ",") != "CHOWN,DAC_OVERRIDE,FOWNER,FSETID,KILL,SETGID,SETUID" {
				t.Errorf("capabilities: drop %v add %v", s.CapDrop, s.CapAdd)
			}
			if s.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "1024" {
				t.Errorf("sysctls %v", s.Sysctl)
			}
			if s.Annotations[shieldapi.AnnotationShield] != tc.want || s.Annotations[shieldapi.AnnotationProject] != "demo" {
				t.Errorf("annotations %v", s.Annotations)
			}
			if tc.want == shieldapi.ShieldOpen {
				for _, k := range []string{shieldapi.AnnotationAllow, shieldapi.AnnotationProfiles, shieldapi.AnnotationPorts} {
					if v, ok := s.Annotations[k]; ok {
						t.Errorf("an unshielded task carries %s=%q", k, v)
					}
				}
				if len(s.DNSServers) != 0 {
					t.Errorf("an unshielded task's nameservers are %v; want its network's own", s.DNSServers)
				}
			}
			pm.exit <- 0
			if _, err := r.WaitEnded(context.Background(), task.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
}
