package daemon

// Live changes of one container (allow, deny, mode) and the panic.

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

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
	c, err := m.ownedLocked(who, id)
	unshielded, withheld, cid := false, "", ""
	if err == nil {
		unshielded, withheld, cid = c.st.Unshielded, c.withholds(t), c.st.ID
	}
	m.mu.Unlock()
	if err != nil {
		return shieldapi.Status{}, err
	}
	if withheld != "" {
		return shieldapi.Status{}, fmt.Errorf("allow %s: denied by policy: container %s's deny list withholds it (%s; from the annotation %s or deny_names in the shield's config.json), "+
			"and a live allow cannot lift that: a provider's API host is reached through terok's credential broker, never directly: %w",
			t, cid, withheld, shieldapi.AnnotationDeny, ErrBadRequest)
	}
	if unshielded {
		return shieldapi.Status{}, fmt.Errorf("container %s runs without the shield: everything but the host side is open to it already (deny works, allow does not): %w", id, ErrBadRequest)
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
	key := t.String()
	return m.change(who, id, func(c *container) (shieldapi.Event, error) {
		c.st.Denied = without(c.st.Denied, key)
		c.st.Allowed = append(without(c.st.Allowed, key), shieldapi.Entry{Target: key, Expires: exp})
		ev := shieldapi.Event{Kind: shieldapi.EventAllow, Target: key}
		if exp != nil {
			ev.Detail = "until " + exp.Format(time.RFC3339)
		}
		return ev, m.applyLocked(ctx, c, false)
	})
}

// Deny denies a target for a running container; it wins over profiles.
func (m *Manager) Deny(ctx context.Context, who Caller, id, raw string) (shieldapi.Status, error) {
	t, err := target.Parse(raw)
	if err != nil {
		return shieldapi.Status{}, fmt.Errorf("%v: %w", err, ErrBadRequest)
	}
	key := t.String()
	return m.change(who, id, func(c *container) (shieldapi.Event, error) {
		c.st.Allowed = without(c.st.Allowed, key)
		c.st.Denied = append(without(c.st.Denied, key), shieldapi.Entry{Target: key})
		return shieldapi.Event{Kind: shieldapi.EventDeny, Target: key}, m.applyLocked(ctx, c, true)
	})
}

// SetMode switches a container's shield state (a whole-table reload).
func (m *Manager) SetMode(ctx context.Context, who Caller, id string, mode shieldapi.Mode) (shieldapi.Status, error) {
	if !mode.Valid() {
		return shieldapi.Status{}, fmt.Errorf("mode %q: want up, down, block or open: %w", mode, ErrBadRequest)
	}
	return m.change(who, id, func(c *container) (shieldapi.Event, error) {
		return m.setModeLocked(ctx, c, mode)
	})
}

// setModeLocked switches c's mode (a whole-table reload); the caller
// rolls back and audits through changeLocked. A task without the shield
// switches between open and block only, a shielded one among up, down and
// block. Leaving block re-opens the task's resolver when it has none (the
// daemon blocked it because its resolver could not open); a mode change
// clears the reason the daemon blocked it for.
func (m *Manager) setModeLocked(ctx context.Context, c *container, mode shieldapi.Mode) (shieldapi.Event, error) {
	ev := shieldapi.Event{Kind: shieldapi.EventMode, Detail: fmt.Sprintf("%s -> %s", c.st.Mode, mode)}
	if c.st.Unshielded && mode != shieldapi.ModeOpen && mode != shieldapi.ModeBlock {
		return ev, fmt.Errorf("container %s runs without the shield (its project has it off): its modes are open and block; run the task with the shield on for %s: %w",
			c.st.ID, mode, ErrBadRequest)
	}
	if !c.st.Unshielded && mode == shieldapi.ModeOpen {
		return ev, fmt.Errorf("mode open is for tasks without the shield; down opens a shielded task: %w", ErrBadRequest)
	}
	started := false
	if mode != shieldapi.ModeBlock && c.res == nil && m.opts.TaskResolver && !c.st.Unshielded {
		if err := m.startResolverLocked(c, nil); err != nil {
			return ev, fmt.Errorf("%v: container %s stays blocked", err, c.st.ID)
		}
		started = true
	}
	c.st.Mode = mode
	c.st.Reason = ""
	err := m.loadLocked(ctx, c, "switch mode of")
	if err != nil && started {
		stopResolverLocked(c)
	}
	return ev, err
}

// change is every live change of one container: under the lock, find it
// and check the caller may change it, then changeLocked.
func (m *Manager) change(who Caller, id string, apply func(*container) (shieldapi.Event, error)) (shieldapi.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, err := m.ownedLocked(who, id)
	if err != nil {
		return shieldapi.Status{}, err
	}
	if err := m.changeLocked(c, apply); err != nil {
		return shieldapi.Status{}, err
	}
	return m.statusLocked(c), nil
}

// changeLocked applies one change to c (its state and the kernel): on
// failure c's state is put back as it was (the kernel is unchanged: every
// change is one batch), on success the change's event is audited.
func (m *Manager) changeLocked(c *container, apply func(*container) (shieldapi.Event, error)) error {
	old := c.st
	ev, err := apply(c)
	if err != nil {
		c.st = old
		return err
	}
	ev.Container = c.st.ID
	m.audit(ev)
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
		err := m.changeLocked(c, func(c *container) (shieldapi.Event, error) {
			return m.setModeLocked(ctx, c, shieldapi.ModeBlock)
		})
		if err != nil {
			m.log.Error().Err(err).Str("container", c.st.ID).Msg("panic")
			r.Failed = append(r.Failed, c.st.ID)
			continue
		}
		r.Blocked = append(r.Blocked, c.st.ID)
	}
	sort.Strings(r.Blocked)
	return r, nil
}
