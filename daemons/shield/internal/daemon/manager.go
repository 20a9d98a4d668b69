package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
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
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// Options configure a Manager.
type Options struct {
	StateDir  string // <state>/shield
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
}

type container struct {
	st       State
	ns       *netns.NS
	nft      *nftables.Conn  // lasting netlink connection inside ns
	allow    []iprange.Range // what the allow sets hold now
	deny     []iprange.Range // what the deny sets hold now
	domains  []string        // domains this container's allow/deny depends on
	stop     func()          // stops the NFLOG watcher
	blocked  uint64
	armTime  time.Duration
	profiles []profile.Profile

	res         *taskdns.Server // the task's resolver (nil without one)
	resFrom     *container      // the container res was taken over from (re-arm)
	answers     map[netip.Addr]*answer
	names       nameRules
	gone        bool // disarmed or replaced: its resolver refuses
	lookupLimit *limiter
}

func newContainer(st State, ns *netns.NS, nft *nftables.Conn, profs []profile.Profile) *container {
	return &container{st: st, ns: ns, nft: nft, profiles: profs, answers: map[netip.Addr]*answer{},
		lookupLimit: newLimiter(20, 50)}
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

type dnsEntry struct {
	addrs    []netip.Addr
	expires  time.Time // when to re-resolve
	lastGood time.Time
	ttl      time.Duration
	err      error
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

// New prepares the state and audit directories.
func New(o Options) (*Manager, error) {
	sd := filepath.Join(o.StateDir, "containers")
	if err := os.MkdirAll(sd, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	hub, err := audit.NewHub(filepath.Join(o.StateDir, "audit"))
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

// Arm arms or re-arms a container from a hook request.
func (m *Manager) Arm(ctx context.Context, who Caller, req shieldapi.ArmRequest) (shieldapi.Status, error) {
	start := time.Now()
	if !idRE.MatchString(req.ID) {
		return shieldapi.Status{}, fmt.Errorf("container id %q: want letters, digits, '_', '.', '-': %w", req.ID, ErrBadRequest)
	}
	if req.Mode == "" {
		req.Mode = shieldapi.ModeUp
	}
	if !req.Mode.Valid() {
		return shieldapi.Status{}, fmt.Errorf("mode %q: want up, down or block: %w", req.Mode, ErrBadRequest)
	}
	static, err := target.ParseList(req.Allow)
	if err != nil {
		return shieldapi.Status{}, fmt.Errorf("allow entries: %v: %w", err, ErrBadRequest)
	}
	profs, err := m.loadProfiles(req.Profiles)
	if err != nil {
		return shieldapi.Status{}, err
	}
	ns, err := netns.Open(req.PID)
	if err != nil {
		if errors.Is(err, netns.ErrGone) {
			return shieldapi.Status{}, fmt.Errorf("pid %d: %v: %w", req.PID, err, ErrGone)
		}
		return shieldapi.Status{}, err
	}
	ok := false
	defer func() {
		if !ok {
			ns.Close()
		}
	}()
	if ns.Inode == m.selfNetns {
		return shieldapi.Status{}, fmt.Errorf("pid %d: %v: %w", req.PID, netns.ErrHostNamespace, ErrForbidden)
	}
	owner, err := ns.OwnerUID()
	if err != nil {
		return shieldapi.Status{}, fmt.Errorf("pid %d: %w", req.PID, err)
	}
	if !who.may(owner) {
		return shieldapi.Status{}, fmt.Errorf("pid %d: namespace owned by uid %d, caller uid %d: %w", req.PID, owner, who.UID, ErrForbidden)
	}
	st := State{ID: req.ID, PID: req.PID, NetnsInode: ns.Inode, OwnerUID: owner, Project: req.Project, Mode: req.Mode,
		Profiles: req.Profiles, Ports: req.Ports, ArmedAt: time.Now().UTC()}
	for _, t := range static {
		st.Static = append(st.Static, t.String())
	}

	// Resolve the domains before taking the lock: a slow resolver must not
	// stall every other container's requests.
	var names []string
	for _, t := range static {
		if t.IsDomain() && !t.IsWildcard() {
			names = append(names, t.Domain)
		}
	}
	for _, p := range profs {
		for _, t := range p.Entries {
			if t.IsDomain() && !t.IsWildcard() {
				names = append(names, t.Domain)
			}
		}
	}
	m.resolveAll(ctx, names)

	m.mu.Lock()
	defer m.mu.Unlock()
	old, exists := m.containers[req.ID]
	if exists && !who.may(old.st.OwnerUID) {
		// Re-arming under another owner's id would drop that container
		// from the shield (its table left unmanaged) and hand it over.
		return shieldapi.Status{}, fmt.Errorf("container %s: armed for uid %d, caller uid %d: %w", req.ID, old.st.OwnerUID, who.UID, ErrForbidden)
	}
	nft, err := ruleset.Open(ns.Fd())
	if err != nil {
		return shieldapi.Status{}, err
	}
	if exists {
		// Re-arm keeps the live changes. Its audit watcher stops first:
		// one NFLOG group binds once per namespace.
		st.Allowed, st.Denied = old.st.Allowed, old.st.Denied
		m.dropLocked(old)
	} else if prev, err := os.ReadFile(m.statePath(req.ID)); err == nil {
		var ps State
		// Live changes left by a previous run carry over only to the same owner.
		if jsonUnmarshal(prev, &ps) == nil && ps.OwnerUID == owner {
			st.Allowed, st.Denied = ps.Allowed, ps.Denied
		}
	}
	c := newContainer(st, ns, nft, profs)
	var prev *container
	if exists {
		prev = old
		if old.st.NetnsInode == c.st.NetnsInode {
			c.answers = old.answers
		}
	}
	if err := m.startResolverLocked(c, prev); err != nil {
		_ = ruleset.CloseConn(nft)
		if exists {
			m.startWatch(old)
		}
		return shieldapi.Status{}, err
	}
	if err := m.loadLocked(ctx, c, "armed"); err != nil {
		_ = ruleset.CloseConn(nft)
		giveBackResolverLocked(m, c)
		if exists {
			// A failed re-arm leaves the old one in force.
			m.startWatch(old)
		}
		return shieldapi.Status{}, err
	}
	if exists {
		old.gone = true
		stopResolverLocked(old)
		old.release()
	}
	c.armTime = time.Since(start)
	m.containers[req.ID] = c
	ok = true
	m.log.Info().Str("container", req.ID).Int("pid", req.PID).Str("project", req.Project).Str("mode", string(req.Mode)).
		Int("ranges", len(c.allow)).Dur("took", c.armTime).Msg("armed")
	m.audit(shieldapi.Event{Container: req.ID, Kind: shieldapi.EventArmed,
		Detail: fmt.Sprintf("pid %d project %q mode %s profiles %s", req.PID, req.Project, req.Mode, strings.Join(req.Profiles, ","))})
	return m.statusLocked(c), nil
}

func (m *Manager) loadProfiles(names []string) ([]profile.Profile, error) {
	var out []profile.Profile
	for _, n := range names {
		p, err := m.opts.Profiles.Load(n)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, ErrBadRequest)
		}
		for _, w := range p.Warnings {
			m.log.Warn().Str("profile", n).Msg(w)
		}
		out = append(out, p)
	}
	return out, nil
}

// loadLocked computes the sets, starts the audit watcher and loads the
// whole table in one batch; on error nothing is left running.
func (m *Manager) loadLocked(ctx context.Context, c *container, why string) error {
	t0 := time.Now()
	allow, deny, domains := m.compute(ctx, c)
	spec := ruleset.Spec{Mode: ruleset.Mode(c.st.Mode), Endpoints: m.opts.Endpoints, Allow: allow, Deny: deny,
		Inbound: c.st.Ports, LogGroup: m.opts.LogGroup, Answers: answerRanges(c, t0),
		TaskResolver: m.opts.TaskResolver, Receipts: m.opts.Receipts}
	t1 := time.Now()
	if c.stop == nil {
		m.startWatch(c)
	}
	t2 := time.Now()
	err := ruleset.Load(c.nft, spec)
	t3 := time.Now()
	defer func() {
		m.log.Debug().Str("container", c.st.ID).Dur("compute", t1.Sub(t0)).Dur("nflog", t2.Sub(t1)).
			Dur("load", t3.Sub(t2)).Dur("save", time.Since(t3)).Msg(why)
	}()
	if err != nil {
		if c.stop != nil {
			c.stop()
			c.stop = nil
		}
		return fmt.Errorf("%s %s: %w", why, c.st.ID, err)
	}
	c.allow, c.deny, c.domains = allow, deny, domains
	c.names = rulesOf(c, time.Now())
	if err := m.pruneAnswersLocked(c); err != nil {
		m.log.Error().Err(err).Str("container", c.st.ID).Msg("prune answers")
	}
	if err := m.save(&c.st); err != nil {
		return err
	}
	return nil
}

func (m *Manager) startWatch(c *container) {
	id := c.st.ID
	stop, err := audit.Watch(context.Background(), c.ns.Fd(), m.opts.LogGroup, func(p audit.Packet) {
		kind := shieldapi.EventBlocked
		if p.Prefix == ruleset.PrefixConnection {
			kind = shieldapi.EventConnection
		} else {
			m.mu.Lock()
			if cc := m.containers[id]; cc != nil {
				cc.blocked++
			}
			m.mu.Unlock()
		}
		m.audit(shieldapi.Event{Container: id, Kind: kind, Dest: p.Dest.String(), Port: p.Port, Proto: p.Proto})
	}, func(err error) {
		m.log.Warn().Err(err).Str("container", id).Msg("nflog read")
	})
	if err != nil {
		// The firewall still holds; only the record of blocked packets is lost.
		m.log.Error().Err(err).Str("container", id).Msg("audit of blocked connections unavailable")
		m.audit(shieldapi.Event{Container: id, Kind: shieldapi.EventArmed, Detail: "audit of blocked connections unavailable: " + err.Error()})
		return
	}
	c.stop = stop
}

// compute turns profiles, static entries and live changes into set contents.
func (m *Manager) compute(ctx context.Context, c *container) (allow, deny []iprange.Range, domains []string) {
	now := time.Now()
	var ents []struct {
		t   target.Target
		exp time.Time
	}
	add := func(t target.Target, exp time.Time) {
		ents = append(ents, struct {
			t   target.Target
			exp time.Time
		}{t, exp})
	}
	for _, p := range c.profiles {
		for _, t := range p.Entries {
			add(t, time.Time{})
		}
	}
	for _, s := range c.st.Static {
		if t, err := target.Parse(s); err == nil {
			add(t, time.Time{})
		}
	}
	for _, e := range c.st.Allowed {
		if e.Expires != nil && !e.Expires.After(now) {
			continue
		}
		t, err := target.Parse(e.Target)
		if err != nil {
			continue
		}
		var exp time.Time
		if e.Expires != nil {
			exp = *e.Expires
		}
		add(t, exp)
	}
	// Resolve every domain first (in parallel, outside any netlink work).
	var names []string
	for _, e := range ents {
		if e.t.IsDomain() && !e.t.IsWildcard() {
			names = append(names, e.t.Domain)
		}
	}
	for _, e := range c.st.Denied {
		if t, err := target.Parse(e.Target); err == nil && t.IsDomain() && !t.IsWildcard() {
			names = append(names, t.Domain)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	addrs := m.resolveAll(ctx, names)

	private := iprange.Private()
	for _, e := range ents {
		var rs []iprange.Range
		explicit := false
		if e.t.IsDomain() {
			for _, a := range addrs[e.t.Domain] {
				rs = append(rs, iprange.Range{Lo: a, Hi: a, Expires: e.exp})
			}
		} else {
			r := iprange.FromPrefix(e.t.Prefix, e.exp)
			rs = []iprange.Range{r}
			for _, p := range private {
				if r.Within(p) {
					explicit = true
				}
			}
		}
		if !explicit {
			rs = iprange.Subtract(rs, private)
		}
		allow = append(allow, rs...)
	}
	for _, e := range c.st.Denied {
		t, err := target.Parse(e.Target)
		if err != nil {
			continue
		}
		if t.IsDomain() {
			for _, a := range addrs[t.Domain] {
				deny = append(deny, iprange.Range{Lo: a, Hi: a})
			}
		} else {
			deny = append(deny, iprange.FromPrefix(t.Prefix, time.Time{}))
		}
	}
	return iprange.Merge(allow), iprange.Merge(deny), names
}

// resolveAll returns the current addresses of names, from the cache or a
// fresh lookup; names that never resolved are absent.
func (m *Manager) resolveAll(ctx context.Context, names []string) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	var need []string
	m.dnsMu.Lock()
	for _, n := range names {
		if e := m.dns[n]; e != nil {
			out[n] = e.addrs
		} else {
			need = append(need, n)
		}
	}
	m.dnsMu.Unlock()
	if len(need) == 0 || m.opts.Resolver == nil {
		return out
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	for _, n := range need {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			e := m.lookup(ctx, n, nil)
			mu.Lock()
			out[n] = e.addrs
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// lookup resolves n and updates the cache; prev is the entry being refreshed.
func (m *Manager) lookup(ctx context.Context, n string, prev *dnsEntry) *dnsEntry {
	a, err := m.opts.Resolver.Lookup(ctx, n)
	now := time.Now()
	e := &dnsEntry{}
	if err == nil {
		e.addrs, e.ttl, e.lastGood, e.expires = a.Addrs, a.TTL, now, now.Add(a.TTL)
	} else {
		m.log.Warn().Err(err).Str("domain", n).Msg("resolve failed")
		retry := 30 * time.Second
		if m.opts.Resolver.MinTTL > 0 {
			retry = m.opts.Resolver.MinTTL
		}
		e.err, e.expires = err, now.Add(retry)
		if prev != nil && len(prev.addrs) > 0 && now.Before(prev.lastGood.Add(prev.ttl+m.opts.Grace)) {
			// Keep the last addresses until TTL plus grace.
			e.addrs, e.ttl, e.lastGood = prev.addrs, prev.ttl, prev.lastGood
		}
	}
	m.dnsMu.Lock()
	m.dns[n] = e
	m.dnsMu.Unlock()
	return e
}

// Refresh re-resolves expired names and drops lapsed timed allows, then
// updates every affected container's sets in place. The daemon calls it
// once a second.
func (m *Manager) Refresh(ctx context.Context) {
	now := time.Now()
	// Only names some armed container still uses are kept and refreshed:
	// nothing is looked up for a container that is gone.
	used := map[string]bool{}
	m.mu.Lock()
	for _, c := range m.containers {
		for _, d := range c.domains {
			used[d] = true
		}
		for ip, e := range c.answers {
			if !e.expires.After(now) {
				delete(c.answers, ip)
			}
		}
	}
	m.mu.Unlock()
	var due []string
	prevs := map[string]*dnsEntry{}
	m.dnsMu.Lock()
	for n, e := range m.dns {
		if !used[n] {
			delete(m.dns, n)
			continue
		}
		if now.After(e.expires) {
			due = append(due, n)
			prevs[n] = e
		}
	}
	m.dnsMu.Unlock()
	changed := map[string]bool{}
	for _, n := range due {
		e := m.lookup(ctx, n, prevs[n])
		if !slices.Equal(e.addrs, prevs[n].addrs) {
			changed[n] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reapLocked()
	for _, c := range m.containers {
		var lapsed []string
		var keep []shieldapi.Entry
		for _, e := range c.st.Allowed {
			if e.Expires != nil && !e.Expires.After(now) {
				lapsed = append(lapsed, e.Target)
				continue
			}
			keep = append(keep, e)
		}
		var hit []string
		for _, d := range c.domains {
			if changed[d] {
				hit = append(hit, d)
			}
		}
		if len(lapsed) == 0 && len(hit) == 0 {
			continue
		}
		c.st.Allowed = keep
		if err := m.applyLocked(ctx, c, false); err != nil {
			m.log.Error().Err(err).Str("container", c.st.ID).Msg("refresh sets")
			continue
		}
		for _, t := range lapsed {
			m.audit(shieldapi.Event{Container: c.st.ID, Kind: shieldapi.EventLapsed, Target: t})
		}
		for _, d := range hit {
			m.audit(shieldapi.Event{Container: c.st.ID, Kind: shieldapi.EventResolved, Target: d, Detail: addrList(m.cached(d))})
		}
	}
}

// reapLocked disarms containers whose process is gone (or whose pid now
// lives in another namespace): the safety net when no poststop hook came.
func (m *Manager) reapLocked() {
	for _, c := range m.containers {
		ns, err := netns.Open(c.st.PID)
		if err == nil {
			same := ns.Inode == c.st.NetnsInode
			ns.Close()
			if same {
				continue
			}
		}
		m.dropLocked(c)
		c.gone = true
		stopResolverLocked(c)
		c.release()
		delete(m.containers, c.st.ID)
		_ = os.Remove(m.statePath(c.st.ID))
		m.audit(shieldapi.Event{Container: c.st.ID, Kind: shieldapi.EventDisarmed, Detail: "container process exited"})
	}
}

func (m *Manager) cached(n string) []netip.Addr {
	m.dnsMu.Lock()
	defer m.dnsMu.Unlock()
	if e := m.dns[n]; e != nil {
		return e.addrs
	}
	return nil
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// applyLocked recomputes a container's sets and changes only the elements
// that differ, in one batch, then persists its state.
//
// With denyOnly the allow sets are left as they are: a deny only ever
// shrinks them, the deny set is checked first, and deleting interval
// elements costs the kernel an RCU grace period (~8 ms) where adding one
// costs ~0.2 ms. The next full apply prunes them.
func (m *Manager) applyLocked(ctx context.Context, c *container, denyOnly bool) error {
	allow, deny, domains := m.compute(ctx, c)
	now := time.Now()
	d4o, d6o := iprange.Split(c.deny)
	d4n, d6n := iprange.Split(deny)
	changes := []ruleset.SetChange{
		{Name: ruleset.Deny4, Old: d4o, New: d4n},
		{Name: ruleset.Deny6, Old: d6o, New: d6n},
	}
	if !denyOnly {
		a4o, a6o := iprange.Split(alive(c.allow, now))
		a4n, a6n := iprange.Split(allow)
		changes = append(changes, ruleset.SetChange{Name: ruleset.Allow4, Old: a4o, New: a4n},
			ruleset.SetChange{Name: ruleset.Allow6, Old: a6o, New: a6n})
	}
	if err := ruleset.Update(c.nft, changes...); err != nil {
		return fmt.Errorf("update %s: %w", c.st.ID, err)
	}
	if !denyOnly {
		c.allow = allow
	}
	c.deny, c.domains = deny, domains
	c.names = rulesOf(c, now)
	if err := m.pruneAnswersLocked(c); err != nil {
		return err
	}
	return m.save(&c.st)
}

// alive drops ranges the kernel has already timed out (or is about to):
// deleting them would fail the batch.
func alive(rs []iprange.Range, now time.Time) []iprange.Range {
	var out []iprange.Range
	for _, r := range rs {
		if r.Expires.IsZero() || r.Expires.Sub(now) >= time.Second {
			out = append(out, r)
		}
	}
	return out
}

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

// Allow allows a target for a running container, optionally for a duration.
func (m *Manager) Allow(ctx context.Context, who Caller, id, raw, forDur string) (shieldapi.Status, error) {
	t, err := target.Parse(raw)
	if err != nil {
		return shieldapi.Status{}, fmt.Errorf("%v: %w", err, ErrBadRequest)
	}
	var exp *time.Time
	if forDur != "" {
		d, err := time.ParseDuration(forDur)
		if err != nil || d < 2*time.Second {
			return shieldapi.Status{}, fmt.Errorf("--for %q: want a duration of at least 2s like 90s or 10m: %w", forDur, ErrBadRequest)
		}
		e := time.Now().Add(d).UTC()
		exp = &e
	}
	// An unknown container is reported before any lookup.
	m.mu.Lock()
	_, err = m.ownedLocked(who, id)
	m.mu.Unlock()
	if err != nil {
		return shieldapi.Status{}, err
	}
	switch {
	case t.IsDomain() && m.opts.TaskResolver:
		// The task's resolver lets the name through from its next lookup;
		// the addresses come with the answers.
	case t.IsWildcard():
		return shieldapi.Status{}, fmt.Errorf("%s: a wildcard needs the task resolver (task_resolver in config.json); allow the names instead: %w", t.Domain, ErrBadRequest)
	case t.IsDomain() && m.opts.Resolver == nil:
		return shieldapi.Status{}, fmt.Errorf("%s: the daemon has no resolver (--resolver); allow its address instead: %w", t.Domain, ErrBadRequest)
	case t.IsDomain():
		if e := m.lookup(ctx, t.Domain, nil); e.err != nil {
			return shieldapi.Status{}, fmt.Errorf("%s does not resolve (%v); allow its address instead: %w", t.Domain, e.err, ErrBadRequest)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.ownedLocked(who, id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	old := c.st
	key := t.String()
	c.st.Denied = without(c.st.Denied, key)
	c.st.Allowed = append(without(c.st.Allowed, key), shieldapi.Entry{Target: key, Expires: exp})
	if err := m.applyLocked(ctx, c, false); err != nil {
		c.st = old
		return shieldapi.Status{}, err
	}
	detail := ""
	if exp != nil {
		detail = "until " + exp.Format(time.RFC3339)
	}
	m.audit(shieldapi.Event{Container: c.st.ID, Kind: shieldapi.EventAllow, Target: key, Detail: detail})
	return m.statusLocked(c), nil
}

// Deny denies a target for a running container; it wins over profiles.
func (m *Manager) Deny(ctx context.Context, who Caller, id, raw string) (shieldapi.Status, error) {
	t, err := target.Parse(raw)
	if err != nil {
		return shieldapi.Status{}, fmt.Errorf("%v: %w", err, ErrBadRequest)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.ownedLocked(who, id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	old := c.st
	key := t.String()
	c.st.Allowed = without(c.st.Allowed, key)
	c.st.Denied = append(without(c.st.Denied, key), shieldapi.Entry{Target: key})
	if err := m.applyLocked(ctx, c, true); err != nil {
		c.st = old
		return shieldapi.Status{}, err
	}
	m.audit(shieldapi.Event{Container: c.st.ID, Kind: shieldapi.EventDeny, Target: key})
	return m.statusLocked(c), nil
}

func without(es []shieldapi.Entry, key string) []shieldapi.Entry {
	var out []shieldapi.Entry
	for _, e := range es {
		if e.Target != key {
			out = append(out, e)
		}
	}
	return out
}

// SetMode switches a container's shield state (a whole-table reload).
func (m *Manager) SetMode(ctx context.Context, who Caller, id string, mode shieldapi.Mode) (shieldapi.Status, error) {
	if !mode.Valid() {
		return shieldapi.Status{}, fmt.Errorf("mode %q: want up, down or block: %w", mode, ErrBadRequest)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.ownedLocked(who, id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	if err := m.setModeLocked(ctx, c, mode); err != nil {
		return shieldapi.Status{}, err
	}
	return m.statusLocked(c), nil
}

func (m *Manager) setModeLocked(ctx context.Context, c *container, mode shieldapi.Mode) error {
	prev := c.st.Mode
	c.st.Mode = mode
	if err := m.loadLocked(ctx, c, "switch mode of"); err != nil {
		c.st.Mode = prev
		return err
	}
	m.audit(shieldapi.Event{Container: c.st.ID, Kind: shieldapi.EventMode, Detail: fmt.Sprintf("%s -> %s", prev, mode)})
	return nil
}

// Panic sets every armed container to block.
func (m *Manager) Panic(ctx context.Context, who Caller) (shieldapi.PanicResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r shieldapi.PanicResult
	for _, c := range m.containers {
		if !who.may(c.st.OwnerUID) {
			continue
		}
		if err := m.setModeLocked(ctx, c, shieldapi.ModeBlock); err != nil {
			m.log.Error().Err(err).Str("container", c.st.ID).Msg("panic")
			r.Failed = append(r.Failed, c.st.ID)
			continue
		}
		r.Blocked = append(r.Blocked, c.st.ID)
	}
	sort.Strings(r.Blocked)
	return r, nil
}

// Disarm drops a container's rules and state; its audit log stays.
func (m *Manager) Disarm(who Caller, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.ownedLocked(who, id)
	if err != nil {
		return err
	}
	m.dropLocked(c)
	if err := ruleset.Remove(c.nft); err != nil {
		m.log.Debug().Err(err).Str("container", c.st.ID).Msg("remove table (namespace may be gone)")
	}
	c.gone = true
	stopResolverLocked(c)
	c.release()
	delete(m.containers, c.st.ID)
	if err := os.Remove(m.statePath(c.st.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state of %s: %w", c.st.ID, err)
	}
	m.audit(shieldapi.Event{Container: c.st.ID, Kind: shieldapi.EventDisarmed})
	m.log.Info().Str("container", c.st.ID).Msg("disarmed")
	return nil
}

// dropLocked stops a container's watcher (used on disarm and re-arm).
func (m *Manager) dropLocked(c *container) {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
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
	return shieldapi.Status{ID: c.st.ID, PID: c.st.PID, Project: c.st.Project, Mode: c.st.Mode, Profiles: c.st.Profiles,
		Static: c.st.Static, Allowed: c.st.Allowed, Denied: c.st.Denied, Ports: c.st.Ports, Ranges4: len(a4), Ranges6: len(a6),
		Blocked: c.blocked, ArmedAt: c.st.ArmedAt, ArmMillis: float64(c.armTime.Microseconds()) / 1000,
		Answers: aliveAnswers(c, time.Now()), Resolver: resolverOf(c)}
}

// Restore re-arms the containers of a previous run whose namespaces are
// still alive (same pid, same namespace inode) and forgets the others.
func (m *Manager) Restore(ctx context.Context) error {
	states, err := m.loadStates()
	if err != nil {
		return err
	}
	for _, st := range states {
		ns, err := netns.Open(st.PID)
		if err == nil && ns.Inode != st.NetnsInode {
			ns.Close()
			err = fmt.Errorf("pid %d now lives in another namespace", st.PID)
		}
		if err != nil {
			m.log.Info().Str("container", st.ID).Err(err).Msg("container gone; state dropped")
			_ = os.Remove(m.statePath(st.ID))
			m.audit(shieldapi.Event{Container: st.ID, Kind: shieldapi.EventDisarmed, Detail: "namespace gone while the daemon was down"})
			continue
		}
		profs, perr := m.loadProfiles(st.Profiles)
		if perr != nil {
			m.log.Error().Err(perr).Str("container", st.ID).Msg("re-arm with its profiles failed; blocking it")
			st.Mode = shieldapi.ModeBlock
		}
		nft, err := ruleset.Open(ns.Fd())
		if err != nil {
			ns.Close()
			m.log.Error().Err(err).Str("container", st.ID).Msg("re-arm failed")
			continue
		}
		c := newContainer(st, ns, nft, profs)
		answersFromKernel(c)
		start := time.Now()
		m.mu.Lock()
		err = m.startResolverLocked(c, nil)
		if err == nil {
			err = m.loadLocked(ctx, c, "re-arm")
			if err != nil {
				stopResolverLocked(c)
			}
		}
		if err == nil {
			c.armTime = time.Since(start)
			m.containers[st.ID] = c
		}
		m.mu.Unlock()
		if err != nil {
			_ = ruleset.CloseConn(nft)
			ns.Close()
			m.log.Error().Err(err).Str("container", st.ID).Msg("re-arm failed")
			continue
		}
		m.audit(shieldapi.Event{Container: st.ID, Kind: shieldapi.EventArmed, Detail: "re-armed after daemon restart"})
	}
	return nil
}

// Close stops every watcher and releases namespaces; tables stay loaded.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.containers {
		m.dropLocked(c)
		c.gone = true
		stopResolverLocked(c)
		c.release()
	}
	m.containers = map[string]*container{}
}

func resolverOf(c *container) string {
	if c.res != nil {
		return shieldapi.ResolverAddr
	}
	return ""
}
