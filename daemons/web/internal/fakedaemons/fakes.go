package fakedaemons

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/health"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/supervisor/supervisorapi"
)

// Errs makes calls fail: the error a method (by name, e.g.
// "StartContainer") answers. Safe for concurrent use.
type Errs struct {
	mu sync.Mutex
	m  map[string]error
}

// Set makes method answer err (nil: answer again).
func (e *Errs) Set(method string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]error{}
	}
	e.m[method] = err
}

func (e *Errs) of(method string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[method]
}

// Down is the error of a daemon that does not run (nobody answers on its
// socket).
func Down(socket string) error {
	return &unixhttp.DialError{Socket: socket, Err: &net.OpError{Op: "dial", Net: "unix", Err: fmt.Errorf("connect: no such file or directory")}}
}

// Gate is the gate: repositories made on demand, tokens, a feed that
// never sends.
type Gate struct {
	Errs
	mu      sync.Mutex
	Repos   map[string]gateapi.RepoDetail
	Revoked []string
	Pushed  []gateapi.PromoteRequest
}

func (g *Gate) EnsureRepo(ctx context.Context, req gateapi.EnsureRepoRequest) (gateapi.Repo, bool, error) {
	if err := g.of("EnsureRepo"); err != nil {
		return gateapi.Repo{}, false, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.Repos == nil {
		g.Repos = map[string]gateapi.RepoDetail{}
	}
	_, had := g.Repos[req.Name]
	if !had {
		g.Repos[req.Name] = gateapi.RepoDetail{Repo: gateapi.Repo{Name: req.Name, Upstream: req.Upstream, DefaultBranch: "main"}}
	}
	return g.Repos[req.Name].Repo, !had, nil
}

func (g *Gate) MintToken(ctx context.Context, project, task string) (gateapi.MintResponse, error) {
	return gateapi.MintResponse{Secret: "terok-g-" + strings.Repeat("0", 32)}, g.of("MintToken")
}

func (g *Gate) RevokeTask(ctx context.Context, project, task string) (int, error) {
	if err := g.of("RevokeTask"); err != nil {
		return 0, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.Revoked = append(g.Revoked, task)
	return 1, nil
}

func (g *Gate) Tokens(ctx context.Context, project string) ([]gateapi.Token, error) {
	return nil, g.of("Tokens")
}

func (g *Gate) Repo(ctx context.Context, name string) (gateapi.RepoDetail, error) {
	if err := g.of("Repo"); err != nil {
		return gateapi.RepoDetail{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d, ok := g.Repos[name]
	if !ok {
		return d, &unixhttp.APIError{Status: 404, Message: "no such repository: " + name}
	}
	return d, nil
}

func (g *Gate) Log(ctx context.Context, name, branch string, limit int) ([]gateapi.Commit, error) {
	return []gateapi.Commit{{Hash: "3f0c1d2e", Subject: "fix"}}, g.of("Log")
}

func (g *Gate) Sync(ctx context.Context, name string) (gateapi.SyncResult, error) {
	return gateapi.SyncResult{Repo: name}, g.of("Sync")
}

func (g *Gate) Promote(ctx context.Context, name string, req gateapi.PromoteRequest) (gateapi.PromoteResult, error) {
	if err := g.of("Promote"); err != nil {
		return gateapi.PromoteResult{}, err
	}
	g.mu.Lock()
	g.Pushed = append(g.Pushed, req)
	g.mu.Unlock()
	target := req.Target
	if target == "" {
		target = req.Branch
	}
	return gateapi.PromoteResult{Branch: req.Branch, Target: target, Commit: "3f0c1d2e"}, nil
}

func (g *Gate) Diff(ctx context.Context, repo, base, head string) (gateapi.Diff, error) {
	return gateapi.Diff{Repo: repo, Base: base, Head: head}, g.of("Diff")
}

// Events sends nothing and follows until ctx ends.
func (g *Gate) Events(ctx context.Context, since uint64, follow bool, fn func(gateapi.Event) error) error {
	if err := g.of("Events"); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (g *Gate) Health(ctx context.Context) (health.Status, error) {
	return health.Status{Name: "terok-gate", Status: "ok"}, g.of("Health")
}

// Podman runs containers in memory: each prints Output, then runs until
// StopContainer, RemoveContainer or Exit ends it.
type Podman struct {
	Errs
	// Output is what every container prints.
	Output string
	// NoImage makes every image missing.
	NoImage bool

	mu         sync.Mutex
	containers map[string]*container
	execs      map[string]*execSession
	n          int
}

type container struct {
	id, name string
	spec     podmanapi.CreateSpec
	running  bool
	started  time.Time
	finished time.Time
	code     int
	done     chan struct{} // closed when it exits
}

func (p *Podman) init() {
	if p.containers == nil {
		p.containers = map[string]*container{}
		p.execs = map[string]*execSession{}
	}
}

func (p *Podman) get(id string) (*container, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	c, ok := p.containers[id]
	if !ok {
		for _, x := range p.containers {
			if x.name == id {
				return x, nil
			}
		}
		return nil, fmt.Errorf("no such container %s: %w", id, &unixhttp.APIError{Status: 404, Message: "no such container"})
	}
	return c, nil
}

// Exit ends container id with code.
func (p *Podman) Exit(id string, code int) {
	c, err := p.get(id)
	if err != nil {
		return
	}
	p.exit(c, code)
}

func (p *Podman) exit(c *container, code int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !c.running {
		return
	}
	c.running, c.code, c.finished = false, code, time.Now()
	close(c.done)
}

// Running counts the running containers.
func (p *Podman) Running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.containers {
		if c.running {
			n++
		}
	}
	return n
}

func (p *Podman) CreateContainer(ctx context.Context, s podmanapi.CreateSpec) (podmanapi.CreateResult, error) {
	if err := p.of("CreateContainer"); err != nil {
		return podmanapi.CreateResult{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.n++
	c := &container{id: fmt.Sprintf("c%063d", p.n), name: s.Name, spec: s, done: make(chan struct{})}
	p.containers[c.id] = c
	return podmanapi.CreateResult{ID: c.id}, nil
}

func (p *Podman) StartContainer(ctx context.Context, id string) error {
	if err := p.of("StartContainer"); err != nil {
		return err
	}
	c, err := p.get(id)
	if err != nil {
		return err
	}
	p.mu.Lock()
	c.running, c.started = true, time.Now()
	p.mu.Unlock()
	return nil
}

func (p *Podman) WaitContainer(ctx context.Context, id string) (int, error) {
	c, err := p.get(id)
	if err != nil {
		return 0, err
	}
	select {
	case <-c.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return c.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (p *Podman) InspectContainer(ctx context.Context, id string) (podmanapi.Container, error) {
	c, err := p.get(id)
	if err != nil {
		return podmanapi.Container{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := podmanapi.ContainerState{Status: "exited", Running: c.running, ExitCode: c.code, StartedAt: c.started, FinishedAt: c.finished, Pid: 0}
	if c.running {
		st.Status, st.Pid = "running", 4242
	}
	var env []string
	for k, v := range c.spec.Env {
		env = append(env, k+"="+v)
	}
	return podmanapi.Container{ID: c.id, Name: c.name, State: st, Config: podmanapi.ContainerConfig{Env: env}}, nil
}

func (p *Podman) StopContainer(ctx context.Context, id string, t uint) error {
	if err := p.of("StopContainer"); err != nil {
		return err
	}
	c, err := p.get(id)
	if err != nil {
		return err
	}
	p.exit(c, 143)
	return nil
}

func (p *Podman) RemoveContainer(ctx context.Context, id string, o podmanapi.RemoveOptions) error {
	if err := p.of("RemoveContainer"); err != nil {
		return err
	}
	c, err := p.get(id)
	if err != nil {
		return err
	}
	p.exit(c, 137)
	p.mu.Lock()
	delete(p.containers, c.id)
	p.mu.Unlock()
	return nil
}

func (p *Podman) ListContainers(ctx context.Context, o podmanapi.ListOptions) ([]podmanapi.ContainerSummary, error) {
	if err := p.of("ListContainers"); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []podmanapi.ContainerSummary
	for _, c := range p.containers {
		st := "exited"
		if c.running {
			st = "running"
		}
		out = append(out, podmanapi.ContainerSummary{ID: c.id, Names: []string{c.name}, State: st, Labels: c.spec.Labels})
	}
	return out, nil
}

// ContainerLogs writes Output, then with Follow waits for the exit.
func (p *Podman) ContainerLogs(ctx context.Context, id string, o podmanapi.LogOptions, stdout, stderr io.Writer) error {
	c, err := p.get(id)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(stdout, p.Output); err != nil {
		return err
	}
	if !o.Follow {
		return nil
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Podman) ImageExists(ctx context.Context, name string) (bool, error) {
	return !p.NoImage, p.of("ImageExists")
}

func (p *Podman) RemoveVolume(ctx context.Context, name string, force bool) error {
	return p.of("RemoveVolume")
}

func (p *Podman) RootlessNetwork(ctx context.Context) (string, error) {
	return podmanapi.NetPasta, p.of("RootlessNetwork")
}

func (p *Podman) ListImages(ctx context.Context) ([]podmanapi.Image, error) {
	return []podmanapi.Image{{ID: "sha256:base", RepoTags: []string{"localhost/terok-base:latest"}}}, p.of("ListImages")
}

func (p *Podman) ImportImage(ctx context.Context, ref string, tarball io.Reader) (string, error) {
	if err := p.of("ImportImage"); err != nil {
		return "", err
	}
	_, err := io.Copy(io.Discard, tarball)
	return "sha256:imported", err
}

func (p *Podman) RemoveImage(ctx context.Context, name string, force bool) error {
	return p.of("RemoveImage")
}

func (p *Podman) Ping(ctx context.Context) (podmanapi.Ping, error) {
	return podmanapi.Ping{LibpodAPIVersion: "5.4.2"}, p.of("Ping")
}

// execSession is a terminal: what the client types comes back (an echo),
// until the client closes it.
type execSession struct {
	container string
	running   bool
}

func (p *Podman) CreateExec(ctx context.Context, id string, cfg podmanapi.ExecConfig) (string, error) {
	if err := p.of("CreateExec"); err != nil {
		return "", err
	}
	c, err := p.get(id)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !c.running {
		return "", &unixhttp.APIError{Status: 409, Message: "container is not running"}
	}
	p.n++
	eid := fmt.Sprintf("e%d", p.n)
	p.execs[eid] = &execSession{container: c.id}
	return eid, nil
}

// StartExec returns the terminal: it echoes what is written until closed.
func (p *Podman) StartExec(ctx context.Context, id string, o podmanapi.ExecStartOptions) (io.ReadWriteCloser, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.execs[id]
	if !ok {
		return nil, &unixhttp.APIError{Status: 404, Message: "no such exec session"}
	}
	e.running = true
	r, w := io.Pipe()
	return &echo{r: r, w: w, done: func() {
		p.mu.Lock()
		e.running = false
		p.mu.Unlock()
	}}, nil
}

type echo struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	once sync.Once
	done func()
}

func (e *echo) Read(b []byte) (int, error)  { return e.r.Read(b) }
func (e *echo) Write(b []byte) (int, error) { return e.w.Write(b) }
func (e *echo) Close() error {
	e.once.Do(func() { e.w.Close(); e.r.Close(); e.done() })
	return nil
}

func (p *Podman) ResizeExec(ctx context.Context, id string, rows, cols uint16) error { return nil }

func (p *Podman) WaitExec(ctx context.Context, id string) (int, error) { return 0, nil }

func (p *Podman) InspectExec(ctx context.Context, id string) (podmanapi.ExecSession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.execs[id]
	if !ok {
		return podmanapi.ExecSession{}, &unixhttp.APIError{Status: 404, Message: "no such exec session"}
	}
	return podmanapi.ExecSession{ID: id, ContainerID: e.container, Running: false}, nil
}

// Shield guards every container in mode up; Audit follows until ctx
// ends.
type Shield struct {
	Errs
	mu    sync.Mutex
	Modes map[string]shieldapi.Mode
	// Events are more audit events per container, sent after armed
	// (set them with SetEvents once monitors may be reading).
	Events map[string][]shieldapi.Event
}

// SetEvents replaces container id's audit events under the fake's lock
// (the runner's monitors read them while a test sets them).
func (s *Shield) SetEvents(id string, evs []shieldapi.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Events == nil {
		s.Events = map[string][]shieldapi.Event{}
	}
	s.Events[id] = evs
}

func (s *Shield) status(id string) shieldapi.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := shieldapi.Mode("up")
	if x, ok := s.Modes[id]; ok {
		m = x
	}
	return shieldapi.Status{ID: id, Mode: m}
}

func (s *Shield) Status(ctx context.Context, id string) (shieldapi.Status, error) {
	return s.status(id), s.of("Status")
}

func (s *Shield) Allow(ctx context.Context, id, target, forDur string) (shieldapi.Status, error) {
	return s.status(id), s.of("Allow")
}

func (s *Shield) Deny(ctx context.Context, id, target string) (shieldapi.Status, error) {
	return s.status(id), s.of("Deny")
}

func (s *Shield) SetMode(ctx context.Context, id string, m shieldapi.Mode) (shieldapi.Status, error) {
	if err := s.of("SetMode"); err != nil {
		return shieldapi.Status{}, err
	}
	s.mu.Lock()
	if s.Modes == nil {
		s.Modes = map[string]shieldapi.Mode{}
	}
	s.Modes[id] = m
	s.mu.Unlock()
	return s.status(id), nil
}

func (s *Shield) Panic(ctx context.Context) (shieldapi.PanicResult, error) {
	return shieldapi.PanicResult{}, s.of("Panic")
}

// Audit sends armed and the container's Events, then with follow waits
// for ctx.
func (s *Shield) Audit(ctx context.Context, id string, follow bool, fn func(shieldapi.Event) error) error {
	if err := s.of("Audit"); err != nil {
		return err
	}
	if err := fn(shieldapi.Event{Kind: "armed", Detail: "container " + id}); err != nil {
		return err
	}
	s.mu.Lock()
	more := append([]shieldapi.Event(nil), s.Events[id]...)
	s.mu.Unlock()
	for _, ev := range more {
		if err := fn(ev); err != nil {
			return err
		}
	}
	if follow {
		<-ctx.Done()
	}
	return nil
}

func (s *Shield) Profiles(ctx context.Context) ([]shieldapi.Profile, error) {
	return []shieldapi.Profile{{Name: "base"}}, s.of("Profiles")
}

// Supervisor has Programs; Stop of one not running is NOT_RUNNING, as
// terok-supervisord answers.
type Supervisor struct {
	Errs
	mu       sync.Mutex
	Programs []supervisorapi.ProcessInfo
	// Log is every program's log.
	Log string
	// Calls are the starts and stops made, e.g. "stop terok-gate".
	Calls []string
}

func (s *Supervisor) AllProcessInfo(ctx context.Context) ([]supervisorapi.ProcessInfo, error) {
	if err := s.of("AllProcessInfo"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]supervisorapi.ProcessInfo{}, s.Programs...), nil
}

func (s *Supervisor) set(name, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.Programs {
		if p.Name == name {
			s.Programs[i].StateName = state
			return nil
		}
	}
	return &supervisorapi.Fault{Code: supervisorapi.FaultBadName, String: "BAD_NAME: " + name}
}

func (s *Supervisor) Start(ctx context.Context, name string, wait bool) error {
	if err := s.of("Start"); err != nil {
		return err
	}
	s.mu.Lock()
	s.Calls = append(s.Calls, "start "+name)
	s.mu.Unlock()
	return s.set(name, "RUNNING")
}

func (s *Supervisor) Stop(ctx context.Context, name string, wait bool) error {
	if err := s.of("Stop"); err != nil {
		return err
	}
	s.mu.Lock()
	s.Calls = append(s.Calls, "stop "+name)
	running := false
	for _, p := range s.Programs {
		running = running || p.Name == name && p.StateName == "RUNNING"
	}
	s.mu.Unlock()
	if !running {
		return &supervisorapi.Fault{Code: supervisorapi.FaultNotRunning, String: "NOT_RUNNING: " + name}
	}
	return s.set(name, "STOPPED")
}

func (s *Supervisor) ReadStdout(ctx context.Context, name string, n int) (string, error) {
	if err := s.of("ReadStdout"); err != nil {
		return "", err
	}
	if len(s.Log) > n {
		return s.Log[len(s.Log)-n:], nil
	}
	return s.Log, nil
}
