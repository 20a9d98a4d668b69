package daemon

// Set arithmetic: from profiles, annotation entries and live changes to
// the contents of the allow and deny sets, and the minimal kernel update.

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// sets is what compute makes of a container's entries.
type sets struct {
	allow, deny []iprange.Range
	// withheld is the deny list's share of deny: its addresses and CIDRs
	// and the addresses the daemon resolved for its names.
	withheld []iprange.Range
	domains  []string // domains the sets depend on (re-resolved by TTL)
}

// compute turns profiles, static entries, live changes and the deny list
// into set contents. Names on the deny list are left out of the allow
// sets, and what it withholds is cut out of them; its addresses join the
// deny sets with the live denies.
func (m *Manager) compute(ctx context.Context, c *container) sets {
	now := time.Now()
	var ents []struct {
		t   target.Target
		exp time.Time
	}
	add := func(t target.Target, exp time.Time) {
		if _, listed := listedName(c.denyList, t.Domain); t.IsDomain() && listed {
			return
		}
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
	var denied []target.Target
	for _, e := range c.st.Denied {
		if t, err := target.Parse(e.Target); err == nil {
			denied = append(denied, t)
		}
	}
	// Resolve every domain first (in parallel, outside any netlink work).
	var names []string
	for _, e := range ents {
		if e.t.IsDomain() && !e.t.IsWildcard() {
			names = append(names, e.t.Domain)
		}
	}
	for _, t := range append(append([]target.Target(nil), denied...), c.denyList...) {
		if t.IsDomain() && !t.IsWildcard() {
			names = append(names, t.Domain)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	addrs := m.resolveAll(ctx, names)

	// toRanges gives the addresses of a denied target: the resolved ones of
	// a name, the prefix of an address or CIDR (private ones included).
	toRanges := func(t target.Target) []iprange.Range {
		if !t.IsDomain() {
			return []iprange.Range{iprange.FromPrefix(t.Prefix, time.Time{})}
		}
		var rs []iprange.Range
		for _, a := range addrs[t.Domain] {
			rs = append(rs, iprange.Range{Lo: a, Hi: a})
		}
		return rs
	}
	var out sets
	seen := map[string][]netip.Addr{}
	for _, t := range c.denyList {
		if t.IsDomain() && !t.IsWildcard() {
			// Every address seen for a listed name while the task runs
			// stays withheld (a name may answer a different one each time).
			seen[t.Domain] = withheldOf(c.st.Withheld[t.Domain], addrs[t.Domain])
			for _, a := range seen[t.Domain] {
				out.withheld = append(out.withheld, iprange.Range{Lo: a, Hi: a})
			}
			continue
		}
		out.withheld = append(out.withheld, toRanges(t)...)
	}
	c.st.Withheld = seen
	out.withheld = iprange.Merge(out.withheld)

	private := iprange.Private()
	var allow []iprange.Range
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
	deny := append([]iprange.Range(nil), out.withheld...)
	for _, t := range denied {
		deny = append(deny, toRanges(t)...)
	}
	out.allow = iprange.Merge(iprange.Subtract(allow, out.withheld))
	out.deny = iprange.Merge(deny)
	out.domains = names
	return out
}

// applyLocked recomputes a container's sets and changes only the elements
// that differ, in one batch, then persists its state.
//
// With denyOnly the allow sets are left as they are: a deny only ever
// shrinks them, the deny set is checked first, and deleting interval
// elements costs the kernel an RCU grace period (~8 ms) where adding one
// costs ~0.2 ms. The next full apply prunes them.
func (m *Manager) applyLocked(ctx context.Context, c *container, denyOnly bool) error {
	if err := m.connLocked(c); err != nil {
		return err
	}
	sn := m.compute(ctx, c)
	allow, deny := sn.allow, sn.deny
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
	c.deny, c.domains, c.withheld = deny, sn.domains, sn.withheld
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

func without(es []shieldapi.Entry, key string) []shieldapi.Entry {
	var out []shieldapi.Entry
	for _, e := range es {
		if e.Target != key {
			out = append(out, e)
		}
	}
	return out
}
