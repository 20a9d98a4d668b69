package daemon

// The deny list: names and addresses withheld from a task whatever allows
// them. Each task's own (annotation terok.shield.deny, kept in its state)
// and the daemon's (deny_names in config.json) both apply. A name on it is
// refused by the task's resolver in every mode, also when an answer for
// another name leads to it (CNAME); every address the daemon resolves for
// it while the task runs (at arm time and on each refresh), and the listed
// addresses, go to the deny sets (checked before any allow) and never into
// the allow or answer sets; a live allow cannot lift it. Terok's endpoints
// are let through before any of this.

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// parseDenyList checks a task's deny list as Arm does and returns it in
// canonical form, without repeats.
func parseDenyList(entries []string) ([]string, error) {
	ts, err := target.ParseList(entries)
	if err != nil {
		return nil, fmt.Errorf("deny list (%s): %v: %w", shieldapi.AnnotationDeny, err, ErrBadRequest)
	}
	return canonical(ts), nil
}

// parseableDeny keeps the entries of a deny list that parse, canonical.
func parseableDeny(entries []string) []string {
	var ts []target.Target
	for _, e := range entries {
		if t, err := target.Parse(e); err == nil {
			ts = append(ts, t)
		}
	}
	return canonical(ts)
}

// canonical gives the String forms of ts, without repeats, in order.
func canonical(ts []target.Target) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range ts {
		if s := t.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// denyListOf is the deny list in force for a task with state st: its own
// entries and the daemon's. Entries that do not parse are skipped (Arm and
// Restore have checked them).
func (m *Manager) denyListOf(st State) []target.Target {
	out := append([]target.Target(nil), m.opts.DenyNames...)
	seen := map[string]bool{}
	for _, t := range out {
		seen[t.String()] = true
	}
	for _, s := range st.DenyList {
		if t, err := target.Parse(s); err == nil && !seen[t.String()] {
			seen[t.String()] = true
			out = append(out, t)
		}
	}
	return out
}

// globalDeny is the daemon's deny list in canonical form.
func (m *Manager) globalDeny() []string { return canonical(m.opts.DenyNames) }

// listedName reports the entry of list that covers the query name, if any.
func listedName(list []target.Target, name string) (target.Target, bool) {
	for _, t := range list {
		if t.IsDomain() && t.Matches(name) {
			return t, true
		}
	}
	return target.Target{}, false
}

// denied says why the query name is denied ("" when it is not): on the
// deny list, or denied live (terok-shield deny). m.mu held.
func (c *container) denied(name string) string {
	if t, ok := listedName(c.denyList, name); ok {
		return "denied by policy (" + t.String() + " is on the deny list)"
	}
	for _, t := range c.names.deny {
		if t.Matches(name) {
			return "denied (terok-shield deny " + t.String() + ")"
		}
	}
	return ""
}

// withholds says why a live allow of t would be refused, or "" when it
// would not: a name the deny list covers, a wildcard inside a listed
// wildcard, or an address range wholly inside what the deny list
// withholds (its addresses and the ones the daemon resolved for its
// names). A wider allow that only overlaps them is taken; the deny list
// still wins where they overlap.
func (c *container) withholds(t target.Target) string {
	for _, d := range c.denyList {
		switch {
		case !t.IsDomain() || !d.IsDomain():
		case t.Domain == d.Domain:
			return d.String()
		case !t.IsWildcard() && d.Matches(t.Domain):
			return d.String()
		case t.IsWildcard() && d.IsWildcard() && d.Matches(t.Domain[2:]):
			return d.String()
		}
	}
	if t.IsDomain() {
		return ""
	}
	r := iprange.FromPrefix(t.Prefix, time.Time{})
	if len(iprange.Subtract([]iprange.Range{r}, c.withheld)) == 0 {
		for _, d := range c.denyList {
			if !d.IsDomain() && iprange.FromPrefix(d.Prefix, time.Time{}).Overlaps(r) {
				return d.String()
			}
		}
		return "the addresses of a name on it"
	}
	return ""
}

// maxWithheldPerName bounds the addresses kept for one name of the deny
// list (the oldest go first).
const maxWithheldPerName = 64

// withheldOf adds the addresses the daemon resolved now for a name of the
// deny list to those seen for it before (kept in the task's state, so a
// restart keeps them), and returns them all, oldest first.
func withheldOf(before, now []netip.Addr) []netip.Addr {
	seen := slices.Clone(before)
	for _, a := range now {
		if !slices.Contains(seen, a) {
			seen = append(seen, a)
		}
	}
	if len(seen) > maxWithheldPerName {
		seen = seen[len(seen)-maxWithheldPerName:]
	}
	return seen
}

// withheldAddr reports whether the deny list withholds ip.
func (c *container) withheldAddr(ip netip.Addr) bool { return inRanges(c.withheld, ip) }
