package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/config"
	"github.com/terok-ai/terok-in-docker/supervisor/internal/procs"
)

// Supervisor states as Python's SupervisorStates.
const (
	stateFatal      = 2
	stateRunning    = 1
	stateRestarting = 0
	stateShutdown   = -1
)

// Version is what getSupervisorVersion answers; main sets it.
var Version = "dev"

// group is one running process group.
type group struct {
	cfg   *config.Group
	procs []*procs.Process
}

// Supervisor owns the process groups of one configuration.
type Supervisor struct {
	log     zerolog.Logger
	path    string
	opt     procs.Options
	mainLog string

	mu      sync.Mutex
	cfg     *config.Config // the last successfully read configuration
	groups  map[string]*group
	state   int
	done    chan struct{}
	once    sync.Once
	restart bool
}

// New builds the tree for cfg; nothing starts until StartAutostart.
func New(path string, cfg *config.Config, log zerolog.Logger, console *procs.Console, reaper *procs.Reaper) *Supervisor {
	s := &Supervisor{log: log, path: path, cfg: cfg, groups: map[string]*group{}, state: stateRunning,
		done: make(chan struct{}), mainLog: cfg.Supervisord.Logfile}
	s.opt = procs.Options{Log: log, Console: console, Reaper: reaper, ChildLogDir: cfg.Supervisord.Childlogdir,
		Identifier: cfg.Supervisord.Identifier, Env: cfg.Supervisord.Environment, Halt: &atomic.Bool{}}
	if cfg.UnixHTTP != nil {
		s.opt.ServerURL = "unix://" + cfg.UnixHTTP.File
	}
	for _, g := range cfg.Groups {
		s.groups[g.Name] = s.newGroup(g)
	}
	return s
}

func (s *Supervisor) newGroup(g *config.Group) *group {
	out := &group{cfg: g}
	for _, p := range g.Processes {
		out.procs = append(out.procs, procs.New(p, s.opt))
	}
	return out
}

// Done is closed when shutdown or restart was requested.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// RestartRequested reports whether Done was closed by a restart request.
func (s *Supervisor) RestartRequested() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restart
}

// RequestShutdown asks the main loop to stop everything and exit.
func (s *Supervisor) RequestShutdown(restart bool) {
	s.opt.Halt.Store(true)
	s.mu.Lock()
	s.restart = restart
	if restart {
		s.state = stateRestarting
	} else {
		s.state = stateShutdown
	}
	s.mu.Unlock()
	s.once.Do(func() { close(s.done) })
}

// all returns every process in ascending priority (group priority, then
// process priority, then name).
func (s *Supervisor) all() []*procs.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allLocked()
}

func (s *Supervisor) allLocked() []*procs.Process {
	var gs []*group
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool {
		if gs[i].cfg.Priority != gs[j].cfg.Priority {
			return gs[i].cfg.Priority < gs[j].cfg.Priority
		}
		return gs[i].cfg.Name < gs[j].cfg.Name
	})
	var out []*procs.Process
	for _, g := range gs {
		ps := append([]*procs.Process(nil), g.procs...)
		sort.SliceStable(ps, func(i, j int) bool {
			a, b := ps[i].Spec(), ps[j].Spec()
			if a.Priority != b.Priority {
				return a.Priority < b.Priority
			}
			return a.Name < b.Name
		})
		out = append(out, ps...)
	}
	return out
}

// byPriority sorts processes by their own priority across groups, as
// Python's startup and shutdown order does.
func byPriority(ps []*procs.Process, desc bool) []*procs.Process {
	out := append([]*procs.Process(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Spec(), out[j].Spec()
		if a.Priority != b.Priority {
			if desc {
				return a.Priority > b.Priority
			}
			return a.Priority < b.Priority
		}
		if desc {
			return a.Name > b.Name
		}
		return a.Name < b.Name
	})
	return out
}

// StartAutostart spawns every autostart process in ascending priority.
func (s *Supervisor) StartAutostart(ctx context.Context) {
	s.startAutostart(ctx, s.all())
}

func (s *Supervisor) startAutostart(ctx context.Context, ps []*procs.Process) {
	for _, p := range byPriority(ps, false) {
		if !p.Spec().Autostart || p.State() != procs.Stopped {
			continue
		}
		p.Autostart()
	}
}

// StopAll stops every process in descending priority, each within its
// stopwaitsecs (then SIGKILL), and waits until all are down.
func (s *Supervisor) StopAll(ctx context.Context) {
	s.stopList(ctx, s.all())
}

func (s *Supervisor) stopList(ctx context.Context, ps []*procs.Process) {
	// Processes of equal priority stop together; the next priority waits
	// until they are all down.
	ordered := byPriority(ps, true)
	for i := 0; i < len(ordered); {
		j := i
		for j < len(ordered) && ordered[j].Spec().Priority == ordered[i].Spec().Priority {
			j++
		}
		var wg sync.WaitGroup
		for _, p := range ordered[i:j] {
			st := p.State()
			if !st.IsRunning() && st != procs.Stopping {
				continue
			}
			wg.Add(1)
			go func(p *procs.Process) {
				defer wg.Done()
				wctx, cancel := context.WithTimeout(ctx, time.Duration(p.Spec().Stopwaitsecs+5)*time.Second)
				defer cancel()
				if err := p.Stop(wctx, true); err != nil && !errors.Is(err, procs.ErrNotRunning) {
					s.log.Warn().Err(err).Str("program", p.Spec().Name).Msg("stop")
				}
			}(p)
		}
		wg.Wait()
		i = j
	}
}

// Close releases every process's log files.
func (s *Supervisor) Close() {
	for _, p := range s.all() {
		p.Close()
	}
}

// Diff is the result of a reread: group names added, changed and removed.
type Diff struct {
	Added, Changed, Removed []string
}

// Reread reads the configuration again and compares its groups with the
// running ones. Nothing is applied.
func (s *Supervisor) Reread() (Diff, error) {
	cfg, err := config.Load(s.path)
	if err != nil {
		return Diff{}, err
	}
	for _, w := range cfg.Warnings {
		s.log.Warn().Msg(w)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
	return s.diffLocked(), nil
}

func (s *Supervisor) diffLocked() Diff {
	d := Diff{Added: []string{}, Changed: []string{}, Removed: []string{}}
	for _, g := range s.cfg.Groups {
		cur, ok := s.groups[g.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, g.Name)
		case !sameGroup(cur.cfg, g):
			d.Changed = append(d.Changed, g.Name)
		}
	}
	for name := range s.groups {
		if s.cfg.Group(name) == nil {
			d.Removed = append(d.Removed, name)
		}
	}
	sort.Strings(d.Removed)
	return d
}

func sameGroup(a, b *config.Group) bool {
	if a.Name != b.Name || a.Priority != b.Priority || len(a.Processes) != len(b.Processes) {
		return false
	}
	for i := range a.Processes {
		x, y := *a.Processes[i], *b.Processes[i]
		x.Source, y.Source = "", ""
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// Update rereads and applies: removed groups stop and go, changed groups
// restart with their new settings, added groups start (autostart).
func (s *Supervisor) Update(ctx context.Context) (Diff, error) {
	d, err := s.Reread()
	if err != nil {
		return d, err
	}
	for _, name := range d.Removed {
		s.StopGroup(ctx, name)
		s.RemoveGroup(name)
	}
	for _, name := range d.Changed {
		s.StopGroup(ctx, name)
		s.RemoveGroup(name)
		s.AddGroup(ctx, name)
	}
	for _, name := range d.Added {
		s.AddGroup(ctx, name)
	}
	return d, nil
}

// AddGroup activates a group of the last read configuration and starts its
// autostart processes.
func (s *Supervisor) AddGroup(ctx context.Context, name string) error {
	s.mu.Lock()
	g := s.cfg.Group(name)
	if g == nil {
		s.mu.Unlock()
		return errBadName
	}
	if _, ok := s.groups[name]; ok {
		s.mu.Unlock()
		return errAlreadyAdded
	}
	ng := s.newGroup(g)
	s.groups[name] = ng
	s.mu.Unlock()
	s.log.Info().Str("group", name).Msg("added process group")
	s.startAutostart(ctx, ng.procs)
	return nil
}

// RemoveGroup removes a group whose processes are all stopped.
func (s *Supervisor) RemoveGroup(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[name]
	if !ok {
		return errBadName
	}
	for _, p := range g.procs {
		if st := p.State(); st.IsRunning() || st == procs.Stopping {
			return errStillRunning
		}
	}
	for _, p := range g.procs {
		p.Close()
	}
	delete(s.groups, name)
	s.log.Info().Str("group", name).Msg("removed process group")
	return nil
}

// StopGroup stops every process of a group.
func (s *Supervisor) StopGroup(ctx context.Context, name string) {
	s.mu.Lock()
	g, ok := s.groups[name]
	s.mu.Unlock()
	if ok {
		s.stopList(ctx, g.procs)
	}
}

// lookup resolves "group:name", "name" and "group:*" (nil process).
func (s *Supervisor) lookup(spec string) (*group, *procs.Process, error) {
	gname, pname, hasColon := strings.Cut(spec, ":")
	if !hasColon {
		pname = spec
	} else if pname == "" || pname == "*" {
		pname = ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[gname]
	if !ok {
		return nil, nil, errBadName
	}
	if pname == "" {
		return g, nil, nil
	}
	for _, p := range g.procs {
		if p.Spec().Name == pname {
			return g, p, nil
		}
	}
	return nil, nil, errBadName
}

// WritePID writes the pidfile when one is configured: atomically, through a
// new temp file renamed over path, so a file or symlink someone else put
// at path (or at a fixed temp name) is replaced, never written through.
func WritePID(path string) error {
	if path == "" {
		return nil
	}
	if err := atomicfile.WriteFile(path, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("write pidfile: %w", err)
	}
	return nil
}
