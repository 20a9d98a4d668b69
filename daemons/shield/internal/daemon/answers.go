package daemon

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/iprange"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/target"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/taskdns"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// answer is one address the task's resolver handed out.
type answer struct {
	expires time.Time
	// names are the query names whose answers carried it; empty for an
	// address carried over a daemon restart (kept until it lapses).
	names map[string]bool
}

// nameRules are a container's domain entries, for the task's resolver.
type nameRules struct {
	allow, deny []target.Target
}

// rulesOf collects the domain entries of profiles, annotations and live
// changes (timed allows that lapsed are left out).
func rulesOf(c *container, now time.Time) nameRules {
	var r nameRules
	for _, p := range c.profiles {
		for _, t := range p.Entries {
			if t.IsDomain() {
				r.allow = append(r.allow, t)
			}
		}
	}
	for _, s := range c.st.Static {
		if t, err := target.Parse(s); err == nil && t.IsDomain() {
			r.allow = append(r.allow, t)
		}
	}
	for _, e := range c.st.Allowed {
		if e.Expires != nil && !e.Expires.After(now) {
			continue
		}
		if t, err := target.Parse(e.Target); err == nil && t.IsDomain() {
			r.allow = append(r.allow, t)
		}
	}
	for _, e := range c.st.Denied {
		if t, err := target.Parse(e.Target); err == nil && t.IsDomain() {
			r.deny = append(r.deny, t)
		}
	}
	return r
}

// verdict decides a query name for c (m.mu held): block refuses all, a
// name on the deny list or denied live is refused in every mode, down
// forwards the rest, up only the listed names.
func (c *container) verdict(name string) taskdns.Verdict {
	if c.gone || c.st.Mode == shieldapi.ModeBlock {
		return taskdns.Refuse
	}
	if c.denied(name) != "" {
		return taskdns.Refuse
	}
	if c.st.Mode == shieldapi.ModeDown {
		return taskdns.Forward
	}
	for _, t := range c.names.allow {
		if t.Matches(name) {
			return taskdns.Forward
		}
	}
	return taskdns.Refuse
}

// policy is the taskdns.Policy of one container.
type policy struct {
	m *Manager
	c *container
}

func (p policy) Check(name string) taskdns.Verdict {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	return p.c.verdict(name)
}

func (p policy) Refused(name string, qtype uint16) {
	p.m.mu.Lock()
	why := p.c.denied(name)
	ok := p.c.lookupLimit.allow()
	p.m.mu.Unlock()
	p.refused(ok, name, qtype, why)
}

// refused records a refused lookup (when the rate limit let it through),
// saying why when a deny refused it.
func (p policy) refused(ok bool, name string, qtype uint16, why string) {
	if !ok {
		return
	}
	d := dns.TypeToString[qtype]
	if why != "" {
		d += ": " + why
	}
	p.m.audit(shieldapi.Event{Container: p.c.st.ID, Kind: shieldapi.EventRefused, Target: name, Detail: d})
}

// Dropped records queries the task's resolver dropped over its limits.
func (p policy) Dropped(n uint64) {
	p.m.audit(shieldapi.Event{Container: p.c.st.ID, Kind: shieldapi.EventDropped,
		Detail: fmt.Sprintf("%d queries dropped unanswered: the task asked faster than its resolver's limits (%d a second, %d at once)",
			n, p.m.opts.ResolverLimits.Rate, p.m.opts.ResolverLimits.Workers)})
}

// Answered puts the answer's addresses into the task's dns sets, in one
// batch, before the resolver hands the answer back. An answer that leads
// to a denied name (a CNAME to it) is refused as that name would be.
func (p policy) Answered(name string, qtype uint16, addrs []taskdns.Addr, via []string) error {
	m, c := p.m, p.c
	m.mu.Lock()
	if c.verdict(name) != taskdns.Forward {
		// Denied (or the container left) while the lookup was under way.
		m.mu.Unlock()
		p.Refused(name, qtype)
		return taskdns.ErrRefused
	}
	for _, v := range via {
		if why := c.denied(v); why != "" {
			ok := c.lookupLimit.allow()
			m.mu.Unlock()
			p.refused(ok, name, qtype, fmt.Sprintf("its answer leads to %s, %s", v, why))
			return taskdns.ErrRefused
		}
	}
	var err error
	if c.st.Mode == shieldapi.ModeUp {
		err = m.addAnswersLocked(c, name, addrs)
	}
	ok := err == nil && m.opts.Receipts && c.lookupLimit.allow()
	m.mu.Unlock()
	if err != nil {
		m.log.Error().Err(err).Str("container", c.st.ID).Str("name", name).Msg("add answer to the allow sets")
		return err
	}
	if ok {
		s := make([]string, len(addrs))
		for i, a := range addrs {
			s[i] = a.IP.String()
		}
		m.audit(shieldapi.Event{Container: c.st.ID, Kind: shieldapi.EventLookup, Target: name,
			Detail: strings.TrimSpace(dns.TypeToString[qtype] + " " + strings.Join(s, ","))})
	}
	return nil
}

// minAnswerLife is the shortest time an answered address stays allowed:
// an answer with TTL 0 (and no grace) must still be usable by the task
// that asked.
const minAnswerLife = 5 * time.Second

// addAnswersLocked adds addresses of an answer for name with TTL + grace.
// Private addresses are never added (an answer cannot open the LAN), nor
// any address that is not global unicast (multicast, broadcast, loopback),
// nor addresses a lasting allow entry already covers, nor what the deny
// list withholds. An address whose
// element has at least half the grace left beyond the new TTL is left as
// it is; otherwise its timeout is renewed (taken out and put back in the
// same batch).
func (m *Manager) addAnswersLocked(c *container, name string, addrs []taskdns.Addr) error {
	if c.nft == nil {
		return fmt.Errorf("container %s: %w", c.st.ID, ruleset.ErrNotArmed)
	}
	now := time.Now()
	private := iprange.Private()
	type upd struct {
		ip  netip.Addr
		exp time.Time
		new bool
	}
	var del, add []iprange.Range
	var ups []upd
	seen := map[netip.Addr]bool{}
	for _, a := range addrs {
		ip := a.IP
		// Only global unicast: no loopback, multicast, broadcast or
		// unspecified address from an answer; private ranges neither.
		if seen[ip] || !ip.IsGlobalUnicast() || inRanges(private, ip) || coveredLasting(c.allow, ip) || c.withheldAddr(ip) {
			continue
		}
		seen[ip] = true
		life := max(a.TTL+m.opts.Grace, minAnswerLife)
		want := now.Add(life)
		e := c.answers[ip]
		if e != nil && e.expires.Sub(now) >= life-m.opts.Grace/2 {
			ups = append(ups, upd{ip: ip, exp: e.expires})
			continue
		}
		if e != nil && e.expires.Sub(now) < time.Second && e.expires.After(now) {
			// Too close to lapsing to delete safely in the batch (the
			// kernel may drop it first): leave it; the next lookup renews.
			ups = append(ups, upd{ip: ip, exp: e.expires})
			continue
		}
		if e != nil && e.expires.After(now) {
			del = append(del, iprange.Range{Lo: ip, Hi: ip})
		}
		add = append(add, iprange.Range{Lo: ip, Hi: ip, Expires: want})
		ups = append(ups, upd{ip: ip, exp: want, new: true})
	}
	if err := ruleset.UpdateAnswers(c.nft, del, add); err != nil {
		return fmt.Errorf("container %s: %w", c.st.ID, err)
	}
	for _, u := range ups {
		e := c.answers[u.ip]
		if e == nil || !e.expires.After(now) {
			e = &answer{names: map[string]bool{}}
			c.answers[u.ip] = e
		}
		e.expires = u.exp
		e.names[name] = true
	}
	return nil
}

func inRanges(rs []iprange.Range, ip netip.Addr) bool {
	for _, r := range rs {
		if r.Lo.BitLen() == ip.BitLen() && r.Lo.Compare(ip) <= 0 && ip.Compare(r.Hi) <= 0 {
			return true
		}
	}
	return false
}

// coveredLasting reports whether a range without expiry holds ip.
func coveredLasting(rs []iprange.Range, ip netip.Addr) bool {
	for _, r := range rs {
		if r.Expires.IsZero() && r.Lo.BitLen() == ip.BitLen() && r.Lo.Compare(ip) <= 0 && ip.Compare(r.Hi) <= 0 {
			return true
		}
	}
	return false
}

// pruneAnswersLocked forgets lapsed answers and takes out of the sets the
// addresses that only names no longer allowed (denied, lapsed) brought in.
func (m *Manager) pruneAnswersLocked(c *container) error {
	now := time.Now()
	var del []iprange.Range
	var gone []netip.Addr
	for ip, e := range c.answers {
		if !e.expires.After(now) {
			delete(c.answers, ip)
			continue
		}
		if len(e.names) == 0 {
			continue
		}
		left := 0
		for n := range e.names {
			if c.verdict(n) == taskdns.Forward {
				left++
			}
		}
		if left == 0 {
			gone = append(gone, ip)
			if e.expires.Sub(now) >= time.Second {
				del = append(del, iprange.Range{Lo: ip, Hi: ip})
			}
		}
	}
	if len(del) > 0 && c.nft != nil {
		if err := ruleset.UpdateAnswers(c.nft, del, nil); err != nil {
			return fmt.Errorf("take answers of denied names out of %s: %w", c.st.ID, err)
		}
	}
	for _, ip := range gone {
		delete(c.answers, ip)
	}
	for _, e := range c.answers {
		for n := range e.names {
			if c.verdict(n) != taskdns.Forward {
				delete(e.names, n)
			}
		}
	}
	return nil
}

// answerRanges is what the dns sets must hold after a table reload.
func answerRanges(c *container, now time.Time) []iprange.Range {
	var out []iprange.Range
	for ip, e := range c.answers {
		if e.expires.Sub(now) >= time.Second {
			out = append(out, iprange.Range{Lo: ip, Hi: ip, Expires: e.expires})
		}
	}
	return out
}

func aliveAnswers(c *container, now time.Time) int {
	n := 0
	for _, e := range c.answers {
		if e.expires.After(now) {
			n++
		}
	}
	return n
}

// startResolverLocked gives c its resolver: the one already serving the
// same namespace (from a previous arm) is taken over, else a new one is
// opened inside the namespace.
func (m *Manager) startResolverLocked(c *container, prev *container) error {
	if !m.opts.TaskResolver || c.st.Unshielded {
		// A task without the shield uses its container network's resolver.
		return nil
	}
	p := policy{m: m, c: c}
	if prev != nil && prev.res != nil && prev.st.NetnsInode == c.st.NetnsInode {
		c.res, prev.res = prev.res, nil
		c.res.SetPolicy(p)
		c.resFrom = prev
		return nil
	}
	srv, err := taskdns.Start(c.ns, taskdns.Options{Addr: shieldapi.ResolverAddr, Upstream: m.opts.Upstream, Limits: m.opts.ResolverLimits}, p)
	if err != nil {
		return err
	}
	c.res = srv
	return nil
}

// stopResolverLocked closes c's resolver in the background: a query in
// flight may be waiting for m.mu, which the caller holds.
func stopResolverLocked(c *container) {
	if c.res != nil {
		go c.res.Close()
		c.res = nil
	}
}

// giveBackResolverLocked returns a resolver taken over from prev after a
// failed re-arm, or closes a new one.
func giveBackResolverLocked(m *Manager, c *container) {
	if c.resFrom != nil && c.res != nil {
		c.resFrom.res = c.res
		c.res.SetPolicy(policy{m: m, c: c.resFrom})
		c.res, c.resFrom = nil, nil
		return
	}
	stopResolverLocked(c)
}

// limiter is a token bucket for audit receipts (m.mu held).
type limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, tokens: burst}
}

func (l *limiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}

// answersFromKernel carries the dns sets over a daemon restart.
func answersFromKernel(c *container) {
	rs, err := ruleset.ReadAnswers(c.nft)
	if err != nil {
		return
	}
	for _, r := range rs {
		c.answers[r.Lo] = &answer{expires: r.Expires, names: map[string]bool{}}
	}
}
