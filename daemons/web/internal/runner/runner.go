package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Labels terok puts on its task containers.
const (
	LabelTask    = "terok.task"
	LabelProject = "terok.project"
	LabelMode    = "terok.mode"
)

// EntryPath is where the entry binary is mounted inside a task.
const EntryPath = "/.terok/entry"

// Config is what the runner needs to know about the tree.
type Config struct {
	// Entry is the host path of the terok-entry binary.
	Entry string
	// GatePort is the port the gate's git HTTP listens on.
	GatePort int
	// TaskGateHost overrides the gate's host as a task sees it; empty:
	// from Podman (pasta: host.containers.internal, slirp4netns: 10.0.2.2).
	TaskGateHost string
	// StopTimeout is how long stop waits before it kills (seconds).
	StopTimeout uint
	// Ports hands out host ports to web-mode tasks and opens their UIs'
	// listeners (webproxy.Publisher); nil refuses web mode.
	Ports Ports
	// ImageStatusFile is where the image's podman-tasks says how the
	// default task image is being provided ($TEROK_RUN_DIR/task-image.json);
	// empty: not read.
	ImageStatusFile string
	// TreeStopDir holds the TreeStop markers the tree's shutdown leaves
	// ($TEROK_STATE_DIR/web/tree-stops); empty: none are read.
	TreeStopDir string
}

// Ports is the web-mode port table: a task's port is held (its UI's
// listener open) from Allocate to Release.
type Ports interface {
	Allocate(taskID string) (int, error)
	Release(taskID string)
	Restore(assigned map[string]int) error
	HostPort(taskID string) (int, bool)
}

// Runner runs tasks. Create one with New and call Reconcile before use.
type Runner struct {
	cfg      Config
	log      zerolog.Logger
	store    *tasks.Store
	projects *projects.Store
	gate     Gate
	podman   Podman
	shield   Shield
	hub      *events.Hub

	ctx context.Context // ends when terok-web shuts down

	mu      sync.Mutex
	active  map[string]*active // running monitors by task id
	net     string             // detected rootless network command
	project map[string]*sync.Mutex
	taskMu  map[string]*sync.Mutex
	wg      sync.WaitGroup
	imports map[string]int // images being imported through the API
	ready   chan struct{}  // closed after the first successful Reconcile
	once    sync.Once
	orphans []string
}

type active struct {
	stop   bool // the user asked to stop
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a runner; ctx bounds its background monitors.
func New(ctx context.Context, cfg Config, log zerolog.Logger, store *tasks.Store, ps *projects.Store,
	gate Gate, podman Podman, shield Shield, hub *events.Hub) *Runner {
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10
	}
	return &Runner{cfg: cfg, log: log, store: store, projects: ps, gate: gate, podman: podman,
		shield: shield, hub: hub, ctx: ctx, ready: make(chan struct{}), active: map[string]*active{}, imports: map[string]int{}, project: map[string]*sync.Mutex{}, taskMu: map[string]*sync.Mutex{}}
}

// Wait blocks until every monitor has returned (after ctx ended).
func (r *Runner) Wait() { r.wg.Wait() }

// Store returns the task store.
func (r *Runner) Store() *tasks.Store { return r.store }

// Orphans lists terok-labelled containers without a record found by the
// last Reconcile.
func (r *Runner) Orphans() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.orphans...)
}

func containerName(t webapi.Task) string { return "terok-" + t.Project + "-" + t.ID }
func volumeName(t webapi.Task) string    { return "terok-ws-" + t.Project + "-" + t.ID }

// daemonErr names the daemon that failed a call: one that did not answer
// at all, or one whose answer was an error (its message says what).
func daemonErr(daemon, what string, err error) error {
	var ne *net.OpError
	var ae *unixhttp.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %s: %w", what, daemon, err)
	}
	if errors.Is(err, unixhttp.ErrUnavailable) || errors.As(err, &ne) || strings.Contains(err.Error(), "is podman-service running") {
		return fmt.Errorf("%w: %s: %s does not answer (terok daemons status shows why): %v", ErrUnavailable, what, daemon, err)
	}
	return fmt.Errorf("%s: %s: %w", what, daemon, err)
}

// Run creates a task of req.Project and starts it. The task is recorded
// even when starting fails (state failed, with the reason).
func (r *Runner) Run(ctx context.Context, req webapi.RunRequest) (webapi.Task, error) {
	if err := r.waitReady(ctx); err != nil {
		return webapi.Task{}, err
	}
	info, err := r.projects.Get(req.Project)
	if err != nil {
		return webapi.Task{}, err
	}
	defs, _, err := r.projects.Defaults()
	if err != nil {
		return webapi.Task{}, err
	}
	p := projects.Effective(info.Project, defs)
	mode := req.Mode
	if mode == "" {
		mode = webapi.ModeHeadless
	}
	switch mode {
	case webapi.ModeHeadless, webapi.ModeInteractive:
	case webapi.ModeWeb:
		if p.Run.WebPort == 0 {
			return webapi.Task{}, fmt.Errorf("%w: project %s has no run.web_port (where its agent serves): set it in %s or with terok project edit %s --web-port PORT", ErrBadRequest, p.Name, info.File, p.Name)
		}
		if r.cfg.Ports == nil {
			return webapi.Task{}, fmt.Errorf("%w: web mode needs terok-web's TCP listener (TEROK_WEB_LISTEN is off)", ErrBadRequest)
		}
	default:
		return webapi.Task{}, fmt.Errorf("%w: mode %q: use headless, interactive or web", ErrBadRequest, mode)
	}
	command := req.Command
	if command == "" {
		command = p.Agent.Command
	}
	if command == "" && mode != webapi.ModeInteractive {
		return webapi.Task{}, fmt.Errorf("%w: project %s has no agent command: set agent.command in %s or pass --cmd", ErrBadRequest, p.Name, info.File)
	}
	t, err := r.store.Create(webapi.Task{Project: p.Name, Mode: mode, State: webapi.StateCreated,
		Prompt: req.Prompt, Command: command, Image: p.Image, Created: time.Now().UTC()})
	if err != nil {
		return t, err
	}
	t.Name, t.Volume = containerName(t), volumeName(t)
	t, _ = r.store.Update(t.ID, func(x *webapi.Task) { x.Name, x.Volume = t.Name, t.Volume })
	r.note(t, webapi.Entry{Kind: webapi.EntryState, State: webapi.StateCreated, Detail: "mode " + mode})
	if wait := r.imageWait(p.Image); wait != "" {
		if ok, err := r.podman.ImageExists(ctx, p.Image); err == nil && !ok {
			return r.startAfterImage(t, p, wait), nil
		}
	}
	// A stop or rm that comes while the task starts waits for the start.
	tl := r.taskLock(t.ID)
	tl.Lock()
	defer tl.Unlock()
	return r.start(ctx, t, p)
}

// startAfterImage records t as starting and waiting for its image, which
// is being provided, and starts it in the background once the image is
// there. The task can be stopped or removed while it waits.
func (r *Runner) startAfterImage(t webapi.Task, p webapi.Project, wait string) webapi.Task {
	t = r.setStateDetail(t, webapi.StateStarting, wait, func(x *webapi.Task) { x.Waiting = wait })
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(r.ctx, startTimeout)
		defer cancel()
		err := r.waitImage(ctx, t.ID, p.Image)
		if errors.Is(err, errGone) || r.ctx.Err() != nil {
			return // stopped or removed meanwhile; or terok-web stops (reconcile marks it)
		}
		tl := r.taskLock(t.ID)
		tl.Lock()
		defer tl.Unlock()
		cur, gerr := r.store.Get(t.ID)
		if gerr != nil || webapi.Ended(cur.State) {
			return
		}
		cur, _ = r.store.Update(t.ID, func(x *webapi.Task) { x.Waiting = "" })
		if err != nil {
			r.fail(cur, err.Error())
			return
		}
		r.note(cur, webapi.Entry{Kind: webapi.EntryNote, Detail: "the task image " + p.Image + " is there: starting"})
		if _, err := r.start(ctx, cur, p); err != nil {
			r.log.Info().Err(err).Str("task", t.ID).Msg("the task waited for its image and then failed to start")
		}
	}()
	return t
}

// Followup runs a finished task again in its workspace with a new prompt,
// headless.
func (r *Runner) Followup(ctx context.Context, id string, req webapi.FollowupRequest) (webapi.Task, error) {
	return r.again(ctx, id, req, webapi.ModeHeadless)
}

func (r *Runner) again(ctx context.Context, id string, req webapi.FollowupRequest, mode string) (webapi.Task, error) {
	if err := r.waitReady(ctx); err != nil {
		return webapi.Task{}, err
	}
	// One new run of a task at a time: two follow-ups at once would both
	// see it ended.
	tl := r.taskLock(id)
	tl.Lock()
	defer tl.Unlock()
	t, err := r.store.Get(id)
	if err != nil {
		return t, err
	}
	if !webapi.Ended(t.State) {
		return t, fmt.Errorf("%w: task %s is %s: wait for it to end (terok task wait %s) or stop it", ErrConflict, id, t.State, id)
	}
	info, err := r.projects.Get(t.Project)
	if err != nil {
		return t, err
	}
	defs, _, err := r.projects.Defaults()
	if err != nil {
		return t, err
	}
	p := projects.Effective(info.Project, defs)
	t, err = r.store.Update(id, func(x *webapi.Task) {
		x.Prompt = req.Prompt
		if req.Command != "" {
			x.Command = req.Command
		}
		x.Mode = mode
		x.ExitCode, x.Reason, x.Ended = nil, "", nil
	})
	if err != nil {
		return t, err
	}
	r.note(t, webapi.Entry{Kind: webapi.EntryNote, Detail: "new run (" + mode + ")"})
	return r.start(ctx, t, p)
}

// Restart runs a finished task again with its last prompt and command.
func (r *Runner) Restart(ctx context.Context, id string) (webapi.Task, error) {
	t, err := r.store.Get(id)
	if err != nil {
		return t, err
	}
	if !webapi.Ended(t.State) {
		if _, err := r.Stop(ctx, id); err != nil {
			return t, err
		}
		if t, err = r.WaitEnded(ctx, id); err != nil {
			return t, err
		}
	}
	return r.again(ctx, id, webapi.FollowupRequest{Prompt: t.Prompt, Command: t.Command}, t.Mode)
}

// waitReady holds new runs until the records are reconciled with Podman,
// so reconcile never mistakes a task being started for a stale one.
func (r *Runner) waitReady(ctx context.Context) error {
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: terok-web is still matching its task records with Podman (does podman answer? terok health): %v", ErrUnavailable, ctx.Err())
	}
}

func (r *Runner) taskLock(id string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.taskMu[id]
	if !ok {
		m = &sync.Mutex{}
		r.taskMu[id] = m
	}
	return m
}

func (r *Runner) projectLock(name string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.project[name]
	if !ok {
		m = &sync.Mutex{}
		r.project[name] = m
	}
	return m
}

// gateHost returns the gate's address as a task sees it and the netns
// settings that make it reachable.
func (r *Runner) gateHost(ctx context.Context) (string, *podmanapi.Namespace, map[string][]string, error) {
	r.mu.Lock()
	n := r.net
	r.mu.Unlock()
	if n == "" {
		var err error
		if n, err = r.podman.RootlessNetwork(ctx); err != nil {
			return "", nil, nil, daemonErr("podman", "ask Podman for its network", err)
		}
		r.mu.Lock()
		r.net = n
		r.mu.Unlock()
	}
	host := r.cfg.TaskGateHost
	if n == podmanapi.NetPasta {
		if host == "" {
			host = "host.containers.internal"
		}
		return host, nil, nil, nil
	}
	if host == "" {
		host = "10.0.2.2"
	}
	return host, &podmanapi.Namespace{Mode: "slirp4netns"},
		map[string][]string{"slirp4netns": {"allow_host_loopback=true"}}, nil
}

// fail records t as failed with reason and publishes it.
func (r *Runner) fail(t webapi.Task, reason string) webapi.Task {
	now := time.Now().UTC()
	t2, err := r.store.Update(t.ID, func(x *webapi.Task) {
		x.State, x.Reason, x.Ended, x.Waiting = webapi.StateFailed, reason, &now, ""
	})
	if err != nil {
		r.log.Error().Err(err).Str("task", t.ID).Msg("record failure")
		t2 = t
	}
	r.note(t2, webapi.Entry{Kind: webapi.EntryState, State: webapi.StateFailed, Detail: reason})
	r.publish(t2)
	return t2
}

// Note appends e to t's timeline and publishes it.
func (r *Runner) Note(t webapi.Task, e webapi.Entry) { r.note(t, e) }

func (r *Runner) note(t webapi.Task, e webapi.Entry) {
	e2, err := r.store.Append(t.ID, e)
	if err != nil {
		r.log.Warn().Err(err).Str("task", t.ID).Msg("timeline")
		return
	}
	r.hub.Publish(webapi.Event{Type: webapi.EventTimeline, TaskID: t.ID, Entry: &e2})
}

func (r *Runner) publish(t webapi.Task) {
	r.hub.Publish(webapi.Event{Type: webapi.EventTask, TaskID: t.ID, Task: &t})
}

func (r *Runner) setState(t webapi.Task, state string, fn func(*webapi.Task)) webapi.Task {
	return r.setStateDetail(t, state, "", fn)
}

// setStateDetail records the state with fn's changes and notes it in the
// timeline with detail (why), then publishes the task.
func (r *Runner) setStateDetail(t webapi.Task, state, detail string, fn func(*webapi.Task)) webapi.Task {
	t2, err := r.store.Update(t.ID, func(x *webapi.Task) {
		x.State = state
		if state != webapi.StateStarting {
			x.Waiting = ""
		}
		if fn != nil {
			fn(x)
		}
	})
	if err != nil {
		r.log.Error().Err(err).Str("task", t.ID).Msg("record state")
		return t
	}
	e := webapi.Entry{Kind: webapi.EntryState, State: state, ExitCode: t2.ExitCode, Detail: detail}
	r.note(t2, e)
	r.publish(t2)
	return t2
}

// startTimeout bounds one start: the first mirror of a large upstream
// is the slow part.
const startTimeout = 15 * time.Minute

// start does one run of t: gate repo and token, container, start, monitor.
// It goes on when the caller goes away (a client that disconnects must not
// leave a half-started task), bounded by startTimeout.
func (r *Runner) start(ctx context.Context, t webapi.Task, p webapi.Project) (webapi.Task, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	if t.State != webapi.StateStarting {
		t = r.setState(t, webapi.StateStarting, nil)
	}
	if err := r.waitImage(ctx, t.ID, p.Image); err != nil {
		if errors.Is(err, errGone) {
			err = fmt.Errorf("%w: task %s ended before it started", ErrConflict, t.ID)
			cur, _ := r.store.Get(t.ID)
			return cur, err
		}
		return r.fail(t, err.Error()), err
	}
	host, netns, netopts, err := r.gateHost(ctx)
	if err != nil {
		return r.fail(t, err.Error()), err
	}
	timing := map[string]float64{}
	mark := time.Now()
	lap := func(name string) {
		now := time.Now()
		timing[name] = float64(now.Sub(mark).Microseconds()) / 1000
		mark = now
	}
	if err := r.EnsureGateRepo(ctx, p); err != nil {
		return r.fail(t, err.Error()), err
	}
	tok, err := r.gate.MintToken(ctx, p.Name, t.ID)
	if err != nil {
		err = daemonErr("terok-gate", "mint a task token", err)
		return r.fail(t, err.Error()), err
	}
	lap("gate")
	gateURL := fmt.Sprintf("http://%s@%s/%s.git", tok.Secret, net.JoinHostPort(host, strconv.Itoa(r.cfg.GatePort)), p.Name)
	shownURL := fmt.Sprintf("http://%s/%s.git", net.JoinHostPort(host, strconv.Itoa(r.cfg.GatePort)), p.Name)

	// A follow-up or restart replaces the previous run's container.
	if t.Container != "" {
		_ = r.podman.RemoveContainer(ctx, t.Container, podmanapi.RemoveOptions{Force: true})
	}
	webPort := 0
	if t.Mode == webapi.ModeWeb {
		if webPort, err = r.cfg.Ports.Allocate(t.ID); err != nil {
			r.revoke(t)
			err = fmt.Errorf("%w: publish the web port: %v (stop a web task to free one of %d-%d)", ErrConflict, err, webproxy.FirstPort, webproxy.LastPort)
			return r.fail(t, err.Error()), err
		}
	}
	spec := r.spec(t, p, gateURL, netns, netopts, webPort)
	res, err := r.podman.CreateContainer(ctx, spec)
	if err != nil && errors.Is(err, podmanapi.ErrConflict) {
		// A container of that name is left from an earlier run.
		_ = r.podman.RemoveContainer(ctx, spec.Name, podmanapi.RemoveOptions{Force: true})
		res, err = r.podman.CreateContainer(ctx, spec)
	}
	if err != nil {
		r.revoke(t)
		r.releasePort(t)
		err = daemonErr("podman", "create the task container", err)
		return r.fail(t, err.Error()), err
	}
	lap("create")
	for _, w := range res.Warnings {
		r.note(t, webapi.Entry{Kind: webapi.EntryNote, Detail: "podman: " + w})
	}
	offset := logSize(r.store.LogPath(t))
	t, _ = r.store.Update(t.ID, func(x *webapi.Task) {
		x.Container, x.GateURL, x.LogOffset, x.WebPort = res.ID, shownURL, offset, webPort
		x.Runs++
	})
	if err := r.podman.StartContainer(ctx, res.ID); err != nil {
		r.revoke(t)
		r.releasePort(t)
		reason := fmt.Sprintf("start the task container: %v", err)
		if strings.Contains(err.Error(), "hook") {
			reason += " (the shield could not arm it: terok shield profiles and the terok-shield log say why)"
		}
		return r.fail(t, reason), fmt.Errorf("%s", reason)
	}
	lap("start")
	now := time.Now().UTC()
	t = r.setState(t, webapi.StateRunning, func(x *webapi.Task) { x.Started, x.StartMS = &now, timing })
	r.monitor(t, false)
	return t, nil
}

// TaskCapabilities are the only capabilities a task's root has (inside its
// user namespace): what installing packages and running builds as root
// need (chown and file modes, apt's drop to its own user, signalling its
// own processes). Left out of Podman's defaults: NET_BIND_SERVICE (low
// ports), SETFCAP, SETPCAP and SYS_CHROOT.
var TaskCapabilities = []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID"}

// UnprivilegedPortStart is the task's net.ipv4.ip_unprivileged_port_start:
// without NET_BIND_SERVICE no port below it can be bound in the task.
const UnprivilegedPortStart = 1024

// spec builds the container of one run.
func (r *Runner) spec(t webapi.Task, p webapi.Project, gateURL string, netns *podmanapi.Namespace, netopts map[string][]string, webPort int) podmanapi.CreateSpec {
	env := map[string]string{}
	for k, v := range p.Agent.Env {
		env[k] = v
	}
	env["TEROK_GATE_URL"] = gateURL
	env["TEROK_TASK_ID"] = t.ID
	env["TEROK_PROJECT"] = t.Project
	env["TEROK_PROMPT"] = t.Prompt
	env["TEROK_AGENT_COMMAND"] = t.Command
	env["TEROK_MODE"] = t.Mode
	// Without the shield the task still gets the shield's minimal
	// ruleset (terok.shield=open): the host side only at terok's own
	// endpoints. Its hook fails the start if it cannot apply it.
	ann := map[string]string{shieldapi.AnnotationShield: shieldapi.ShieldOpen, shieldapi.AnnotationProject: t.Project}
	if p.Shield.On() {
		ann[shieldapi.AnnotationShield] = shieldapi.ShieldOn
		if len(p.Shield.Profiles) > 0 {
			ann[shieldapi.AnnotationProfiles] = strings.Join(p.Shield.Profiles, ",")
		}
		if len(p.Shield.Allow) > 0 {
			ann[shieldapi.AnnotationAllow] = strings.Join(p.Shield.Allow, ",")
		}
	}
	spec := podmanapi.CreateSpec{
		Name:           t.Name,
		Image:          t.Image,
		Entrypoint:     []string{EntryPath},
		Env:            env,
		WorkDir:        "/workspace",
		Labels:         map[string]string{LabelTask: t.ID, LabelProject: t.Project, LabelMode: t.Mode},
		Annotations:    ann,
		Mounts:         []podmanapi.Mount{{Destination: EntryPath, Type: "bind", Source: r.cfg.Entry, Options: []string{"ro", "rbind"}}},
		Volumes:        []podmanapi.Volume{{Name: t.Volume, Dest: "/workspace"}},
		NetNS:          netns,
		NetworkOptions: netopts,
		// An explicit set of capabilities (not the host's containers.conf
		// defaults) and no low ports, so the agent cannot take the
		// address of the shield's resolver (127.0.0.53:53) while the
		// shield restarts. See docs/security.md.
		CapDrop: []string{"ALL"},
		CapAdd:  TaskCapabilities,
		Sysctl:  map[string]string{"net.ipv4.ip_unprivileged_port_start": strconv.Itoa(UnprivilegedPortStart)},
	}
	if p.Shield.On() {
		// The shield answers the task's DNS itself, inside its namespace,
		// for allowed names only; the network's own resolver is refused.
		spec.DNSServers = []string{shieldapi.ResolverAddr}
	}
	if webPort > 0 {
		// Podman publishes nothing: terok-web's listener on webPort
		// reaches the app from inside the task's namespaces (WebTarget).
		spec.Labels[webproxy.LabelWebPort] = strconv.Itoa(webPort)
		env["TEROK_WEB_PORT"] = strconv.Itoa(p.Run.WebPort)
	}
	if res := limits(p.Limits); res != nil {
		spec.ResourceLimits = res
	}
	return spec
}

func limits(l webapi.Limits) *podmanapi.Resources {
	var res podmanapi.Resources
	set := false
	if l.Memory != "" {
		if n, err := projects.ParseMemory(l.Memory); err == nil {
			res.Memory = &podmanapi.MemoryLimit{Limit: &n}
			set = true
		}
	}
	if l.CPUs > 0 {
		period := uint64(100000)
		quota := int64(l.CPUs * float64(period))
		res.CPU = &podmanapi.CPULimit{Quota: &quota, Period: &period}
		set = true
	}
	if l.Pids > 0 {
		res.Pids = &podmanapi.PidsLimit{Limit: l.Pids}
		set = true
	}
	if !set {
		return nil
	}
	return &res
}

// releasePort frees a web task's published port.
func (r *Runner) releasePort(t webapi.Task) {
	if r.cfg.Ports != nil {
		r.cfg.Ports.Release(t.ID)
	}
}

// HostPort returns the published port of a running web-mode task (the
// web proxy's lookup).
func (r *Runner) HostPort(taskID string) (int, bool) {
	if r.cfg.Ports == nil {
		return 0, false
	}
	t, err := r.store.Get(taskID)
	if err != nil || t.Mode != webapi.ModeWeb || webapi.Ended(t.State) {
		return 0, false
	}
	return r.cfg.Ports.HostPort(taskID)
}

// revoke revokes the task's gate tokens, noting the outcome.
func (r *Runner) revoke(t webapi.Task) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.gate.RevokeTask(ctx, t.Project, t.ID)
	if err != nil {
		r.log.Warn().Err(err).Str("task", t.ID).Msg("revoke task token (reconcile retries at the next start)")
		r.note(t, webapi.Entry{Kind: webapi.EntryNote, Detail: "token revoke failed: " + err.Error()})
		return
	}
	if n > 0 {
		r.note(t, webapi.Entry{Kind: webapi.EntryNote, Detail: "task token revoked"})
	}
}

// EnsureGateRepo makes sure the project's gate repository exists: a mirror
// of its upstream, or an empty repository for a local-only project. A
// project's repository is ensured by one caller at a time (a mirror may
// take a while); an error names the gate.
func (r *Runner) EnsureGateRepo(ctx context.Context, p webapi.Project) error {
	pl := r.projectLock(p.Name)
	pl.Lock()
	defer pl.Unlock()
	_, _, err := r.gate.EnsureRepo(ctx, gateapi.EnsureRepoRequest{Name: p.Name, Upstream: p.Git.UpstreamURL,
		DefaultBranch: p.Git.DefaultBranch, Policy: p.SecurityClass})
	if err != nil {
		if unixhttp.StatusOf(err) == http.StatusBadGateway {
			return UpstreamErr(p.Name, p.Git.UpstreamURL, err)
		}
		return daemonErr("terok-gate", "ensure the gate repository "+p.Name, err)
	}
	return nil
}
