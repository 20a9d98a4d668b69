package daemon

// Arming, re-arming, disarming and forgetting containers: the table load
// and the container's life in the daemon.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/profile"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

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
		Detail: armedDetail(req)})
	return m.statusLocked(c), nil
}

// armedDetail is the audit detail of an arm: every part has a value
// ("no profiles" rather than an empty list).
func armedDetail(req shieldapi.ArmRequest) string {
	profiles := "no profiles"
	if len(req.Profiles) > 0 {
		profiles = "profiles " + strings.Join(req.Profiles, ",")
	}
	return fmt.Sprintf("pid %d project %q mode %s %s", req.PID, req.Project, req.Mode, profiles)
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
