package daemon

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/audit"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/profile"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/resolve"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/taskdns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/trust"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// Options configure a Manager.
type Options struct {
	StateDir  string // <state>/system/shield
	Profiles  profile.Store
	Resolver  *resolve.Resolver // nil: domains cannot be resolved (entries naming them fail)
	Endpoints []ruleset.Endpoint
	LogGroup  uint16
	Grace     time.Duration
	Log       zerolog.Logger
	// TaskResolver serves DNS inside every task's namespace (answers of
	// allowed names join the dns sets); Upstream is where it asks.
	TaskResolver bool
	Upstream     string
	// Receipts records allowed connections and answered lookups.
	Receipts bool
	// ResolverLimits bound each task's resolver.
	ResolverLimits taskdns.Limits
	// HostSide is where a task without the shield (mode open) may not go
	// but for Endpoints and ContainerDNS.
	HostSide     []iprange.Range
	ContainerDNS []ruleset.Endpoint
	// DenyNames is every task's deny list (deny_names in config.json),
	// besides each task's own.
	DenyNames []target.Target
}

type container struct {
	st       State
	ns       *netns.NS
	nft      *nftables.Conn  // lasting netlink connection inside ns
	allow    []iprange.Range // what the allow sets hold now
	deny     []iprange.Range // what the deny sets hold now
	domains  []string        // domains this container's allow/deny depends on
	stop     func()          // stops the NFLOG watcher
	blocked  atomic.Uint64
	armTime  time.Duration
	profiles []profile.Profile

	res     *taskdns.Server // the task's resolver (nil without one)
	resFrom *container      // the container res was taken over from (re-arm)
	answers map[netip.Addr]*answer
	names   nameRules
	// denyList is the deny list in force (the task's and the daemon's);
	// withheld what the deny sets hold for it now.
	denyList    []target.Target
	withheld    []iprange.Range
	gone        bool // disarmed or replaced: its resolver refuses
	lookupLimit *limiter
}

func (m *Manager) newContainer(st State, ns *netns.NS, nft *nftables.Conn, profs []profile.Profile) *container {
	return &container{st: st, ns: ns, nft: nft, profiles: profs, answers: map[netip.Addr]*answer{},
		lookupLimit: newLimiter(20, 50), denyList: m.denyListOf(st)}
}

// release closes the netlink connection and the namespace handle.
func (c *container) release() {
	if c.nft != nil {
		_ = ruleset.CloseConn(c.nft)
		c.nft = nil
	}
	if c.ns != nil {
		c.ns.Close()
		c.ns = nil
	}
}

// Manager owns every armed container.
type Manager struct {
	stateDir  string
	opts      Options
	log       zerolog.Logger
	hub       *audit.Hub
	selfNetns uint64

	mu         sync.Mutex
	containers map[string]*container

	dnsMu sync.Mutex
	dns   map[string]*dnsEntry
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// New prepares the state and audit directories. As root they must be
// root's and writable by root alone (so must the state directory's parent):
// the daemon refuses to start on a directory another user could fill.
func New(o Options) (*Manager, error) {
	if o.ResolverLimits == (taskdns.Limits{}) {
		o.ResolverLimits = taskdns.DefaultLimits
	}
	sd := filepath.Join(o.StateDir, "containers")
	ad := filepath.Join(o.StateDir, "audit")
	for _, d := range []string{o.StateDir, sd, ad} {
		if err := trust.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	hub, err := audit.NewHub(ad)
	if err != nil {
		return nil, err
	}
	self, err := netns.SelfInode()
	if err != nil {
		return nil, err
	}
	return &Manager{stateDir: sd, opts: o, log: o.Log, hub: hub, selfNetns: self,
		containers: map[string]*container{}, dns: map[string]*dnsEntry{}}, nil
}

// Hub is the audit hub.
func (m *Manager) Hub() *audit.Hub { return m.hub }

func (m *Manager) audit(ev shieldapi.Event) {
	if err := m.hub.Write(ev); err != nil {
		m.log.Error().Err(err).Str("container", ev.Container).Msg("audit write failed")
	}
}

// Caller identifies who is asking (from the socket's peer credentials).
type Caller struct {
	UID  int
	Root bool
}

func (c Caller) may(owner int) bool { return c.Root || c.UID == owner }

// find resolves an id or unique id prefix.
// ownedLocked finds container id (m.mu held) and checks that who may
// change it.
func (m *Manager) ownedLocked(who Caller, id string) (*container, error) {
	c, err := m.findLocked(id)
	if err != nil {
		return nil, err
	}
	if !who.may(c.st.OwnerUID) {
		return nil, fmt.Errorf("container %s: %w", c.st.ID, ErrForbidden)
	}
	return c, nil
}

func (m *Manager) findLocked(id string) (*container, error) {
	if c := m.containers[id]; c != nil {
		return c, nil
	}
	var hit *container
	for k, c := range m.containers {
		if id != "" && strings.HasPrefix(k, id) {
			if hit != nil {
				return nil, fmt.Errorf("%q: %w", id, ErrAmbiguous)
			}
			hit = c
		}
	}
	if hit == nil {
		return nil, fmt.Errorf("%q (see terok-shield status): %w", id, ErrUnknown)
	}
	return hit, nil
}

// Status returns one container.
func (m *Manager) Status(id string) (shieldapi.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.findLocked(id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	return m.statusLocked(c), nil
}

// List returns every armed container, sorted by id.
func (m *Manager) List() []shieldapi.Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []shieldapi.Status{}
	for _, c := range m.containers {
		out = append(out, m.statusLocked(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Rules renders a container's live table.
func (m *Manager) Rules(id string) (shieldapi.Rules, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.findLocked(id)
	if err != nil {
		return shieldapi.Rules{}, err
	}
	if err := m.connLocked(c); err != nil {
		return shieldapi.Rules{}, err
	}
	txt, err := ruleset.Render(c.nft)
	if err != nil {
		return shieldapi.Rules{}, fmt.Errorf("read rules of %s: %w", c.st.ID, err)
	}
	return shieldapi.Rules{ID: c.st.ID, Text: txt}, nil
}

// Profiles lists known profiles.
func (m *Manager) Profiles() ([]shieldapi.Profile, error) {
	ps, err := m.opts.Profiles.List()
	if err != nil {
		return nil, err
	}
	out := make([]shieldapi.Profile, 0, len(ps))
	for _, p := range ps {
		sp := shieldapi.Profile{Name: p.Name, Source: p.Source, Entries: len(p.Entries), Shadows: p.Shadows}
		if p.Err != nil {
			sp.Error = p.Err.Error()
		}
		out = append(out, sp)
	}
	return out, nil
}

func (m *Manager) statusLocked(c *container) shieldapi.Status {
	a4, a6 := iprange.Split(c.allow)
	st := shieldapi.Status{ID: c.st.ID, PID: c.st.PID, Project: c.st.Project, Mode: c.st.Mode, Profiles: c.st.Profiles,
		Static: c.st.Static, Allowed: c.st.Allowed, Denied: c.st.Denied, Ports: c.st.Ports, Ranges4: len(a4), Ranges6: len(a6),
		Blocked: c.blocked.Load(), ArmedAt: c.st.ArmedAt, ArmMillis: float64(c.armTime.Microseconds()) / 1000,
		Answers: aliveAnswers(c, time.Now()), Resolver: resolverOf(c), Unshielded: c.st.Unshielded, Reason: c.st.Reason,
		DenyList: c.st.DenyList, DenyGlobal: m.globalDeny()}
	if c.res != nil {
		st.DroppedLookups = c.res.Dropped()
	}
	return st
}

// Close stops every watcher and releases namespaces; tables stay loaded.
//
// The task resolvers are closed before Close returns (outside the lock: a
// query in flight may be waiting for it, and then finds its container
// gone), so a stopped daemon answers no lookups.
func (m *Manager) Close() {
	m.mu.Lock()
	var res []*taskdns.Server
	for _, c := range m.containers {
		m.dropLocked(c)
		c.gone = true
		if c.res != nil {
			res = append(res, c.res)
			c.res = nil
		}
		c.release()
	}
	m.containers = map[string]*container{}
	m.mu.Unlock()
	for _, r := range res {
		r.Close()
	}
}

func resolverOf(c *container) string {
	if c.res != nil {
		return shieldapi.ResolverAddr
	}
	return ""
}
