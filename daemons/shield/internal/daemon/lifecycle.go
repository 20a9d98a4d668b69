package daemon

// Arming, re-arming, disarming and forgetting containers: the table load
// and the container's life in the daemon.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/netns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/profile"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// checked is what Arm's checks make of a request or a state file.
type checked struct {
	static []target.Target
	profs  []profile.Profile
	deny   []string // the task's deny list, canonical
}

// check applies Arm's checks to what a container asks for: its id, mode,
// allow entries, profiles, ports and deny list. Arm and Restore both go
// through it, so a state file is held to exactly what an arm request is.
func (m *Manager) check(id string, mode shieldapi.Mode, unshielded bool, allow, profiles []string, ports []uint16, deny []string) (checked, error) {
	var ck checked
	if !idRE.MatchString(id) {
		return ck, fmt.Errorf("container id %q: want letters, digits, '_', '.', '-': %w", id, ErrBadRequest)
	}
	if !mode.Valid() {
		return ck, fmt.Errorf("mode %q: want up, down, block or open: %w", mode, ErrBadRequest)
	}
	if unshielded {
		// A task without the shield gets the minimal ruleset and nothing
		// that only the shield's allowlist means.
		if mode != shieldapi.ModeOpen && mode != shieldapi.ModeBlock {
			return ck, fmt.Errorf("mode %q: a task without the shield is open or block: %w", mode, ErrBadRequest)
		}
		if len(allow) > 0 || len(profiles) > 0 {
			return ck, fmt.Errorf("a task without the shield (mode open) takes no profiles or allow entries: %w", ErrBadRequest)
		}
	} else if mode == shieldapi.ModeOpen {
		return ck, fmt.Errorf("mode open is for a task without the shield (annotation %s=%s); use down: %w",
			shieldapi.AnnotationShield, shieldapi.ShieldOpen, ErrBadRequest)
	}
	for _, p := range ports {
		if p == 0 {
			return ck, fmt.Errorf("inbound port 0: want 1-65535: %w", ErrBadRequest)
		}
	}
	static, err := target.ParseList(allow)
	if err != nil {
		return ck, fmt.Errorf("allow entries: %v: %w", err, ErrBadRequest)
	}
	dl, err := parseDenyList(deny)
	if err != nil {
		return ck, err
	}
	profs, err := m.loadProfiles(profiles)
	if err != nil {
		return ck, err
	}
	return checked{static: static, profs: profs, deny: dl}, nil
}

// checkEntries applies Allow's and Deny's checks to the live changes a
// state file carries.
func checkEntries(es ...[]shieldapi.Entry) error {
	for _, l := range es {
		for _, e := range l {
			if _, err := target.Parse(e.Target); err != nil {
				return fmt.Errorf("live entry: %v: %w", err, ErrBadRequest)
			}
		}
	}
	return nil
}

// openNetns opens pid's network namespace and refuses the daemon's own.
func (m *Manager) openNetns(pid int) (*netns.NS, error) {
	ns, err := netns.Open(pid)
	if err != nil {
		if errors.Is(err, netns.ErrGone) {
			return nil, fmt.Errorf("pid %d: %v: %w", pid, err, ErrGone)
		}
		return nil, err
	}
	if ns.Inode == m.selfNetns {
		ns.Close()
		return nil, fmt.Errorf("pid %d: %v: %w", pid, netns.ErrHostNamespace, ErrForbidden)
	}
	return ns, nil
}

// Arm arms or re-arms a container from a hook request.
func (m *Manager) Arm(ctx context.Context, who Caller, req shieldapi.ArmRequest) (shieldapi.Status, error) {
	start := time.Now()
	if req.Mode == "" {
		req.Mode = shieldapi.ModeUp
	}
	unshielded := req.Mode == shieldapi.ModeOpen
	ck, err := m.check(req.ID, req.Mode, unshielded, req.Allow, req.Profiles, req.Ports, req.Deny)
	if err != nil {
		return shieldapi.Status{}, err
	}
	static, profs := ck.static, ck.profs
	ns, err := m.openNetns(req.PID)
	if err != nil {
		return shieldapi.Status{}, err
	}
	ok := false
	defer func() {
		if !ok {
			ns.Close()
		}
	}()
	owner, err := ns.OwnerUID()
	if err != nil {
		return shieldapi.Status{}, fmt.Errorf("pid %d: %w", req.PID, err)
	}
	if !who.may(owner) {
		return shieldapi.Status{}, fmt.Errorf("pid %d: namespace owned by uid %d, caller uid %d: %w", req.PID, owner, who.UID, ErrForbidden)
	}
	st := State{ID: req.ID, PID: req.PID, NetnsInode: ns.Inode, OwnerUID: owner, Project: req.Project, Mode: req.Mode,
		Profiles: req.Profiles, Ports: req.Ports, ArmedAt: time.Now().UTC(), Unshielded: unshielded, DenyList: ck.deny}
	for _, t := range static {
		st.Static = append(st.Static, t.String())
	}

	// Resolve the domains before taking the lock: a slow resolver must not
	// stall every other container's requests.
	var names []string
	for _, t := range m.denyListOf(st) {
		if t.IsDomain() && !t.IsWildcard() {
			names = append(names, t.Domain)
		}
	}
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
	} else if ps, err := readState(m.statePath(req.ID)); err == nil {
		// Live changes left by a previous run carry over only to the same
		// owner, and only when they pass Allow's and Deny's checks.
		if ps.OwnerUID == owner && checkEntries(ps.Allowed, ps.Denied) == nil {
			st.Allowed, st.Denied = ps.Allowed, ps.Denied
		}
	}
	if unshielded {
		st.Allowed = nil
	}
	c := m.newContainer(st, ns, nft, profs)
	var prev *container
	if exists {
		prev = old
		if old.st.NetnsInode == c.st.NetnsInode {
			c.answers, c.st.Withheld = old.answers, old.st.Withheld
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
	detail := armedDetail(req)
	if len(st.DenyList) > 0 {
		detail += " deny " + strings.Join(st.DenyList, ",")
	}
	m.audit(shieldapi.Event{Container: req.ID, Kind: shieldapi.EventArmed, Detail: detail})
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
	if err := m.connLocked(c); err != nil {
		return err
	}
	t0 := time.Now()
	sn := m.compute(ctx, c)
	spec := ruleset.Spec{Mode: ruleset.Mode(c.st.Mode), Endpoints: m.opts.Endpoints, Allow: sn.allow, Deny: sn.deny,
		Inbound: c.st.Ports, LogGroup: m.opts.LogGroup, Answers: answerRanges(c, t0),
		TaskResolver: m.opts.TaskResolver && !c.st.Unshielded, Receipts: m.opts.Receipts}
	if c.st.Unshielded {
		// A task without the shield resolves through its container
		// network's resolver, on the host side: an endpoint like the gate.
		spec.Endpoints = append(append([]ruleset.Endpoint(nil), m.opts.Endpoints...), m.opts.ContainerDNS...)
		spec.HostSide = m.opts.HostSide
		spec.Receipts = false
	}
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
	c.allow, c.deny, c.domains, c.withheld = sn.allow, sn.deny, sn.domains, sn.withheld
	c.names = rulesOf(c, time.Now())
	if err := m.pruneAnswersLocked(c); err != nil {
		m.log.Error().Err(err).Str("container", c.st.ID).Msg("prune answers")
	}
	if err := m.save(&c.st); err != nil {
		return err
	}
	return nil
}

// connLocked gives c a netlink connection in its namespace if it has none
// (one could not be opened when it was restored).
func (m *Manager) connLocked(c *container) error {
	if c.nft != nil {
		return nil
	}
	if c.ns == nil {
		return fmt.Errorf("container %s: %w", c.st.ID, ruleset.ErrNotArmed)
	}
	nft, err := ruleset.Open(c.ns.Fd())
	if err != nil {
		return fmt.Errorf("container %s: %w", c.st.ID, err)
	}
	c.nft = nft
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
//
// Each state file passes the checks of an arm request first. A file that
// does not (planted, corrupt, naming another owner, an unknown profile) is
// not restored as written: its container is blocked, and so is a container
// whose re-arm fails (its resolver's address taken, say). Either way it
// stays in the daemon's care — status, panic, deny and the audit reach it —
// and the reason is in its status, the log and its audit.
func (m *Manager) Restore(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(m.stateDir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		m.restoreOne(ctx, f)
	}
	return nil
}

// restoreOne restores one state file (see Restore).
func (m *Manager) restoreOne(ctx context.Context, path string) {
	id := strings.TrimSuffix(filepath.Base(path), ".json")
	refuse := func(why string) {
		m.log.Error().Str("file", path).Str("why", why).Msg("container state refused: set aside as .bad, nothing armed from it")
		m.setAside(path)
		if idRE.MatchString(id) {
			m.audit(shieldapi.Event{Container: id, Kind: shieldapi.EventStateRefused, Detail: why + "; nothing armed from it"})
		}
	}
	if !idRE.MatchString(id) {
		refuse(fmt.Sprintf("file name %q is not a container id", filepath.Base(path)))
		return
	}
	st, err := readState(path)
	if err != nil {
		refuse(err.Error())
		return
	}
	// Identity: the namespace the file names must still be the one it
	// was armed in, and never the daemon's own.
	ns, err := m.openNetns(st.PID)
	if err == nil && ns.Inode != st.NetnsInode {
		ns.Close()
		err = fmt.Errorf("pid %d now lives in another namespace", st.PID)
	}
	if errors.Is(err, ErrForbidden) {
		refuse(fmt.Sprintf("names the daemon's own namespace (pid %d)", st.PID))
		return
	}
	if err != nil {
		m.log.Info().Str("container", id).Err(err).Msg("container gone; state dropped")
		_ = os.Remove(path)
		m.audit(shieldapi.Event{Container: id, Kind: shieldapi.EventDisarmed, Detail: "namespace gone while the daemon was down"})
		return
	}
	owner, err := ns.OwnerUID()
	if err != nil {
		ns.Close()
		refuse(fmt.Sprintf("owner of pid %d's namespace: %v", st.PID, err))
		return
	}
	// Content: what an arm request with the same fields would have to pass.
	ck, verr := m.check(st.ID, st.Mode, st.Unshielded, st.Static, st.Profiles, st.Ports, st.DenyList)
	switch {
	case verr != nil:
	case st.ID != id:
		verr = fmt.Errorf("the file of %s names container %q", id, st.ID)
	case st.OwnerUID != owner:
		verr = fmt.Errorf("it names owner uid %d; the namespace belongs to uid %d", st.OwnerUID, owner)
	default:
		verr = checkEntries(st.Allowed, st.Denied)
	}
	reason, kind := "", ""
	if verr != nil {
		// Not restored as written: blocked, with nothing of the file
		// but what names the container, and its real owner. Nor does
		// the file's word that the task runs without the shield count:
		// from block such a container may go up or down, never open.
		// A deny only ever takes away: the file's deny entries that parse
		// (and the addresses seen for them) are kept, so a task leaving
		// block is still kept from them.
		reason = fmt.Sprintf("its state failed the checks of an arm request (%v); blocked: run the task again to arm it with its project's settings", verr)
		kind = shieldapi.EventStateRefused
		st = State{ID: id, PID: st.PID, NetnsInode: ns.Inode, OwnerUID: owner, Mode: shieldapi.ModeBlock, ArmedAt: time.Now().UTC(),
			DenyList: parseableDeny(st.DenyList), Withheld: st.Withheld}
		ck = checked{}
	}
	nft, err := ruleset.Open(ns.Fd())
	if err != nil {
		// Nothing can be loaded into it; its table of the previous run
		// (if any) stays in force. Kept in care all the same.
		m.log.Error().Err(err).Str("container", id).Msg("re-arm: no netlink connection in its namespace")
	}
	c := m.newContainer(st, ns, nft, ck.profs)
	if nft != nil {
		answersFromKernel(c)
	}
	start := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if reason == "" {
		if nft == nil {
			err = fmt.Errorf("open nftables in its namespace failed")
		} else if err = m.startResolverLocked(c, nil); err == nil {
			if err = m.loadLocked(ctx, c, "re-arm"); err != nil {
				stopResolverLocked(c)
			}
		}
		if err != nil {
			again := "mode up or down"
			if st.Unshielded {
				again = "mode open"
			}
			reason = fmt.Sprintf("re-arming it after the daemon's restart failed (%v); blocked: %s re-opens it once that is fixed, or run the task again", err, again)
			kind = shieldapi.EventRearmFailed
		}
	}
	if reason != "" {
		m.blockLocked(ctx, c, reason)
		m.log.Error().Str("container", id).Str("reason", reason).Msg("container blocked")
		m.audit(shieldapi.Event{Container: id, Kind: kind, Detail: reason})
	} else {
		m.audit(shieldapi.Event{Container: id, Kind: shieldapi.EventArmed, Detail: "re-armed after daemon restart"})
	}
	c.armTime = time.Since(start)
	m.containers[id] = c
}

// blockLocked puts c in block mode by the daemon's own decision: no
// resolver, the block table, reason in its state and status. If even the
// block table does not load, c stays in care with the table it had (the
// reason says so), so a later panic or mode change tries again.
func (m *Manager) blockLocked(ctx context.Context, c *container, reason string) {
	stopResolverLocked(c)
	c.st.Mode = shieldapi.ModeBlock
	c.st.Reason = reason
	if c.nft == nil {
		c.st.Reason += "; its rules could not be replaced (no netlink connection), the previous ones stay in force"
		return
	}
	if err := m.loadLocked(ctx, c, "block"); err != nil {
		c.st.Reason += fmt.Sprintf("; loading the block rules failed too (%v), the previous rules stay in force", err)
		if serr := m.save(&c.st); serr != nil {
			m.log.Error().Err(serr).Str("container", c.st.ID).Msg("save state")
		}
	}
}
