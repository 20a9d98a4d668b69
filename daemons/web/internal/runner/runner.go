package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/events"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/images"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/keylock"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/projects"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webports"
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
	// VaultPort is the vault's credential broker's port, reached on the
	// gate's host.
	VaultPort int
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
	// CABundle is the host's CA bundle, mounted into the tasks of a
	// project with build.host_ca: tasks ("" for none).
	CABundle string
}

// Ports is the web-mode port table: a task's port is held (its UI's
// listener open) from Allocate to Release.
type Ports interface {
	Allocate(taskID string) (int, error)
	Release(taskID string)
	Restore(assigned map[string]int) error
	HostPort(taskID string) (int, bool)
}

// Imports tells whether an image is being imported through terok-web
// (images.Service): a task of it waits.
type Imports interface {
	Importing(image string) bool
}

// Deps are what the runner works with.
type Deps struct {
	Log      zerolog.Logger
	Store    *tasks.Store
	Projects *projects.Service
	Gate     Gate
	Podman   Podman
	// Shield is followed for each task's events (nil: not followed).
	Shield Shield
	Hub    *events.Hub
	// Locks are the per-task locks (nil: the runner's own).
	Locks *keylock.Locks
	// Imports are the imports in progress (nil: none).
	Imports Imports
	// Vault lends tasks phantom credentials (nil: a task whose project
	// needs some does not start).
	Vault Vault
	// Builds are the projects' built images (nil: a project with a
	// build: section cannot run tasks); Recipes the agent recipes.
	Builds  Builds
	Recipes Recipes
}

// Runner runs tasks: the service the API, the UI and the CLI call for
// everything a task does. Create one with New and call Reconcile before
// use; Wait returns once every goroutine it started has ended.
type Runner struct {
	cfg      Config
	log      zerolog.Logger
	store    *tasks.Store
	projects *projects.Service
	gate     Gate
	podman   Podman
	shield   Shield
	hub      *events.Hub
	locks    *keylock.Locks
	imports  Imports
	vault    Vault
	builds   Builds
	recipes  Recipes
	logs     notifier

	ctx context.Context // ends when terok-web shuts down

	mu      sync.Mutex
	active  map[string]*active // running monitors by task id
	net     string             // detected rootless network command
	wg      sync.WaitGroup     // every goroutine the runner starts
	ready   chan struct{}      // closed after the first successful Reconcile
	once    sync.Once
	orphans []string
	// revoking is set while retryRevokes' loop runs.
	revoking bool
}

type active struct {
	stop   bool // the user asked to stop
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a runner; ctx bounds its background work (monitors, tasks
// waiting for their image).
func New(ctx context.Context, cfg Config, d Deps) *Runner {
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10
	}
	if d.Locks == nil {
		d.Locks = &keylock.Locks{}
	}
	return &Runner{cfg: cfg, log: d.Log, store: d.Store, projects: d.Projects, gate: d.Gate, podman: d.Podman,
		shield: d.Shield, hub: d.Hub, locks: d.Locks, imports: d.Imports, vault: d.Vault, builds: d.Builds, recipes: d.Recipes, ctx: ctx,
		ready: make(chan struct{}), active: map[string]*active{}}
}

// Wait blocks until every goroutine the runner started has returned
// (after New's ctx ended).
func (r *Runner) Wait() { r.wg.Wait() }

// Orphans lists terok-labelled containers without a record found by the
// last Reconcile.
func (r *Runner) Orphans() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.orphans...)
}

func containerName(t tasks.Record) string { return "terok-" + t.Project + "-" + t.ID }
func volumeName(t tasks.Record) string    { return "terok-ws-" + t.Project + "-" + t.ID }

// lockTask serializes the changes of one task: start, stop, rm, a new
// run.
func (r *Runner) lockTask(id string) (unlock func()) { return r.locks.Lock("task/" + id) }

// Run creates a task of req.Project and starts it. The task is recorded
// even when starting fails (state failed, with the reason); the error
// then names the task.
func (r *Runner) Run(ctx context.Context, req webapi.RunRequest) (tasks.Record, error) {
	if err := r.waitReady(ctx); err != nil {
		return tasks.Record{}, err
	}
	mode := req.Mode
	if mode == "" {
		mode = webapi.ModeHeadless
	}
	if err := r.prepareImage(ctx, req); err != nil {
		return tasks.Record{}, err
	}
	// The record is made under the project's lock: a project deleted
	// meanwhile is either gone here or sees this task.
	unlock := r.projects.Hold(req.Project)
	p, file, err := r.projects.Effective(req.Project)
	if err != nil {
		unlock()
		return tasks.Record{}, err
	}
	switch mode {
	case webapi.ModeHeadless, webapi.ModeInteractive:
	case webapi.ModeWeb:
		if p.Run.WebPort == 0 {
			unlock()
			return tasks.Record{}, fail.BadRequest("project %s has no run.web_port (where its agent serves): set it in %s or with terok project edit %s --web-port PORT", p.Name, file, p.Name)
		}
		if r.cfg.Ports == nil {
			unlock()
			return tasks.Record{}, fail.BadRequest("web mode needs terok-web's TCP listener (TEROK_WEB_LISTEN is off)")
		}
	default:
		unlock()
		return tasks.Record{}, fail.BadRequest("mode %q: use headless, interactive or web", mode)
	}
	pl, err := r.plan(ctx, req, mode, p, file)
	if err != nil {
		unlock()
		return tasks.Record{}, err
	}
	p.Image = pl.image
	t, err := r.store.Create(tasks.Record{Project: p.Name, Mode: mode, State: webapi.StateCreated,
		Prompt: req.Prompt, Command: pl.command, Image: pl.image, Agent: pl.agent, ImageID: pl.imageID, Created: time.Now().UTC()})
	unlock()
	if err != nil {
		return t, err
	}
	t, err = r.store.Update(t.ID, func(x *tasks.Record) { x.Name, x.Volume = containerName(*x), volumeName(*x) })
	if err != nil {
		return t, r.startErr(r.fail(t, "record the task: "+err.Error()), err)
	}
	r.note(t, tasks.Entry{Kind: webapi.EntryState, State: webapi.StateCreated, Detail: "mode " + mode})
	if wait := r.imageWait(p.Image); wait != "" {
		if ok, err := r.podman.ImageExists(ctx, p.Image); err == nil && !ok {
			return r.startAfterImage(t, p, wait), nil
		}
	}
	// A stop or rm that comes while the task starts waits for the start.
	defer r.lockTask(t.ID)()
	t, err = r.start(ctx, t, p)
	return t, r.startErr(t, err)
}

// startErr names the task whose start failed.
func (r *Runner) startErr(t tasks.Record, err error) error {
	if err == nil || t.ID == "" {
		return err
	}
	return fmt.Errorf("task %s failed to start: %w", t.ID, err)
}

// startAfterImage records t as starting and waiting for its image, which
// is being provided, and starts it in the background once the image is
// there. The task can be stopped or removed while it waits.
func (r *Runner) startAfterImage(t tasks.Record, p projects.Project, wait string) tasks.Record {
	t = r.setStateDetail(t, webapi.StateStarting, wait, func(x *tasks.Record) { x.Waiting = wait })
	r.wg.Go(func() {
		ctx, cancel := context.WithTimeout(r.ctx, startTimeout)
		defer cancel()
		err := r.waitImage(ctx, t.ID, p.Image)
		if errors.Is(err, errGone) || r.ctx.Err() != nil {
			return // stopped or removed meanwhile; or terok-web stops (reconcile marks it)
		}
		defer r.lockTask(t.ID)()
		cur, gerr := r.store.Get(t.ID)
		if gerr != nil || cur.Done() {
			return
		}
		if cur, gerr = r.store.Update(t.ID, func(x *tasks.Record) { x.Waiting = "" }); gerr != nil {
			r.fail(cur, "record the task: "+gerr.Error())
			return
		}
		if err != nil {
			r.fail(cur, err.Error())
			return
		}
		r.note(cur, tasks.Entry{Kind: webapi.EntryNote, Detail: "the task image " + p.Image + " is there: starting"})
		if _, err := r.start(ctx, cur, p); err != nil {
			r.log.Info().Err(err).Str("task", t.ID).Msg("the task waited for its image and then failed to start")
		}
	})
	return t
}

// Followup runs a finished task again in its workspace with a new prompt,
// headless.
func (r *Runner) Followup(ctx context.Context, id string, req webapi.FollowupRequest) (tasks.Record, error) {
	return r.again(ctx, id, req, webapi.ModeHeadless)
}

func (r *Runner) again(ctx context.Context, id string, req webapi.FollowupRequest, mode string) (tasks.Record, error) {
	if err := r.waitReady(ctx); err != nil {
		return tasks.Record{}, err
	}
	// One new run of a task at a time: two follow-ups at once would both
	// see it ended.
	defer r.lockTask(id)()
	t, err := r.store.Get(id)
	if err != nil {
		return t, err
	}
	if !t.Done() {
		return t, fail.Conflict("task %s is %s: wait for it to end (terok task wait %s) or stop it", id, t.State, id)
	}
	p, _, err := r.projects.Effective(t.Project)
	if err != nil {
		return t, err
	}
	imageID := t.ImageID
	if t.Image == images.ProjectRef(t.Project) && p.Build.Set() {
		// A new run of an agent task runs the project's current image.
		img, id, err := r.currentImage(ctx, p)
		if err != nil {
			return t, err
		}
		p.Image, imageID = img, id
	}
	t, err = r.store.Update(id, func(x *tasks.Record) {
		x.ImageID = imageID
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
	r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "new run (" + mode + ")"})
	t, err = r.start(ctx, t, p)
	return t, r.startErr(t, err)
}

// Restart runs a task again with its last prompt and command, stopping
// it first when it has not ended.
func (r *Runner) Restart(ctx context.Context, id string) (tasks.Record, error) {
	t, err := r.store.Get(id)
	if err != nil {
		return t, err
	}
	if !t.Done() {
		if t, err = r.Stop(ctx, id); err != nil {
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
		return fail.Unavailable("terok-web is still matching its task records with Podman (does podman answer? terok health): %w", ctx.Err())
	}
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
			return "", nil, nil, fail.Daemon("podman", "ask Podman for its network", err)
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
func (r *Runner) fail(t tasks.Record, reason string) tasks.Record {
	now := time.Now().UTC()
	return r.setStateDetail(t, webapi.StateFailed, reason, func(x *tasks.Record) { x.Reason, x.Ended = reason, &now })
}

func (r *Runner) note(t tasks.Record, e tasks.Entry) {
	e2, err := r.store.Append(t.ID, e)
	if err != nil {
		r.log.Warn().Err(err).Str("task", t.ID).Msg("timeline")
		return
	}
	w := e2.Wire()
	r.hub.Publish(webapi.Event{Type: webapi.EventTimeline, TaskID: t.ID, Entry: &w})
}

func (r *Runner) publish(t tasks.Record) {
	w := t.Wire()
	r.hub.Publish(webapi.Event{Type: webapi.EventTask, TaskID: t.ID, Task: &w})
}

func (r *Runner) setState(t tasks.Record, state string, fn func(*tasks.Record)) tasks.Record {
	return r.setStateDetail(t, state, "", fn)
}

// setStateDetail notes the state in the timeline with detail (why), then
// records it with fn's changes and publishes the task: whoever sees the
// new state (terok task wait) finds its timeline entry there already.
func (r *Runner) setStateDetail(t tasks.Record, state, detail string, fn func(*tasks.Record)) tasks.Record {
	change := func(x *tasks.Record) {
		x.State = state
		if state != webapi.StateStarting {
			x.Waiting = ""
		}
		if fn != nil {
			fn(x)
		}
	}
	if cur, err := r.store.Get(t.ID); err == nil {
		t = cur
	}
	next := t
	change(&next)
	r.note(next, tasks.Entry{Kind: webapi.EntryState, State: state, ExitCode: next.ExitCode, Detail: detail})
	t2, err := r.store.Update(t.ID, change)
	if err != nil {
		r.log.Error().Err(err).Str("task", t.ID).Msg("record state")
		return t
	}
	r.publish(t2)
	return t2
}

// startTimeout bounds one start: the first mirror of a large upstream
// is the slow part.
const startTimeout = 15 * time.Minute

// start does one run of t: gate repo and token, container, start, monitor.
// It goes on when the caller goes away (a change runs to its end, see the
// package doc), bounded by startTimeout.
func (r *Runner) start(ctx context.Context, t tasks.Record, p projects.Project) (tasks.Record, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	if t.State != webapi.StateStarting {
		t = r.setState(t, webapi.StateStarting, nil)
	}
	if err := r.waitImage(ctx, t.ID, p.Image); err != nil {
		if errors.Is(err, errGone) {
			cur, _ := r.store.Get(t.ID)
			return cur, fail.Conflict("task %s ended before it started", t.ID)
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
	if err := r.projects.EnsureRepo(ctx, p); err != nil {
		return r.fail(t, err.Error()), err
	}
	tok, err := r.gate.MintToken(ctx, p.Name, t.ID)
	if err != nil {
		err = fail.Daemon("terok-gate", "mint a task token", err)
		return r.fail(t, err.Error()), err
	}
	lap("gate")
	creds, err := r.credentials(ctx, t, p, host)
	if err != nil {
		r.revoke(t)
		return r.fail(t, err.Error()), err
	}
	gateAddr := net.JoinHostPort(host, strconv.Itoa(r.cfg.GatePort))
	gateURL := fmt.Sprintf("http://%s@%s/%s.git", tok.Secret, gateAddr, p.Name)
	shownURL := fmt.Sprintf("http://%s/%s.git", gateAddr, p.Name)

	// A follow-up or restart replaces the previous run's container.
	if t.Container != "" {
		_ = r.podman.RemoveContainer(ctx, t.Container, podmanapi.RemoveOptions{Force: true})
	}
	// undo takes back what this run holds when it cannot go on.
	undo := func() {
		r.revoke(t)
		r.releasePort(t)
	}
	webPort := 0
	if t.Mode == webapi.ModeWeb {
		if webPort, err = r.cfg.Ports.Allocate(t.ID); err != nil {
			r.revoke(t)
			err = fmt.Errorf("publish the web port: %w (stop a web task to free one of %d-%d)", err, webports.FirstPort, webports.LastPort)
			return r.fail(t, err.Error()), err
		}
	}
	spec, err := r.spec(t, p, gateURL, netns, netopts, webPort, creds)
	if err != nil {
		undo()
		return r.fail(t, err.Error()), err
	}
	res, err := r.podman.CreateContainer(ctx, spec)
	if err != nil && errors.Is(err, podmanapi.ErrConflict) {
		// A container of that name is left from an earlier run.
		_ = r.podman.RemoveContainer(ctx, spec.Name, podmanapi.RemoveOptions{Force: true})
		res, err = r.podman.CreateContainer(ctx, spec)
	}
	if err != nil {
		undo()
		err = fail.Daemon("podman", "create the task container", err)
		return r.fail(t, err.Error()), err
	}
	lap("create")
	for _, w := range res.Warnings {
		r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "podman: " + w})
	}
	offset := logSize(r.store.LogPath(t))
	t2, err := r.store.Update(t.ID, func(x *tasks.Record) {
		x.Container, x.GateURL, x.LogOffset, x.WebPort = res.ID, shownURL, offset, webPort
		x.Runs++
	})
	if err != nil {
		// A container the record does not name would run unseen: it goes.
		_ = r.podman.RemoveContainer(ctx, res.ID, podmanapi.RemoveOptions{Force: true})
		undo()
		err = fmt.Errorf("record the task's container: %w", err)
		return r.fail(t, err.Error()), err
	}
	t = t2
	if err := r.podman.StartContainer(ctx, res.ID); err != nil {
		undo()
		// Every task has the shield's OCI hook (armed or open).
		err = fmt.Errorf("%w (a failing OCI hook is the shield's, which could not arm the task: terok shield profiles and the terok-shield log say why)",
			fail.Daemon("podman", "start the task container", err))
		return r.fail(t, err.Error()), err
	}
	lap("start")
	now := time.Now().UTC()
	t = r.setState(t, webapi.StateRunning, func(x *tasks.Record) { x.Started, x.StartMS = &now, timing })
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
func (r *Runner) spec(t tasks.Record, p projects.Project, gateURL string, netns *podmanapi.Namespace, netopts map[string][]string, webPort int, creds credentials) (podmanapi.CreateSpec, error) {
	env := map[string]string{}
	for k, v := range p.Agent.Env {
		env[k] = v
	}
	// The vault's variables win over agent.env's: a key left there never
	// reaches a task that has the vault's phantom instead.
	for k, v := range creds.env {
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
	// The providers' own hosts, shielded or not: the agent goes through
	// the broker or nowhere.
	if creds.deny != "" {
		ann[shieldapi.AnnotationDeny] = creds.deny
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
		spec.Labels[webports.LabelWebPort] = strconv.Itoa(webPort)
		env["TEROK_WEB_PORT"] = strconv.Itoa(p.Run.WebPort)
	}
	if err := r.agentSpec(&spec, t, p); err != nil {
		return spec, err
	}
	res, err := limits(p.Limits)
	if err != nil {
		return spec, err
	}
	spec.ResourceLimits = res
	return spec, nil
}

// limits are the container's resources; a memory size that does not
// parse is an error (never a task run without its limit).
func limits(l projects.Limits) (*podmanapi.Resources, error) {
	var res podmanapi.Resources
	set := false
	if l.Memory != "" {
		n, err := projects.ParseMemory(l.Memory)
		if err != nil {
			return nil, fail.BadRequest("limits.memory: %v", err)
		}
		res.Memory = &podmanapi.MemoryLimit{Limit: &n}
		set = true
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
		return nil, nil
	}
	return &res, nil
}

// releasePort frees a web task's published port.
func (r *Runner) releasePort(t tasks.Record) {
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
	if err != nil || t.Mode != webapi.ModeWeb || t.Done() {
		return 0, false
	}
	return r.cfg.Ports.HostPort(taskID)
}

// revoke revokes the task's gate tokens and phantoms, noting the
// outcome.
func (r *Runner) revoke(t tasks.Record) {
	defer r.revokeCredentials(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.gate.RevokeTask(ctx, t.Project, t.ID)
	if err != nil {
		r.log.Warn().Err(err).Str("task", t.ID).Msg("revoke task token (reconcile retries at the next start)")
		r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "token revoke failed: " + err.Error()})
		return
	}
	if n > 0 {
		r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "task token revoked"})
	}
}
