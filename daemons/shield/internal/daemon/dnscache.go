package daemon

// The daemon's own DNS cache of listed names, refreshed by TTL.

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

type dnsEntry struct {
	addrs    []netip.Addr
	expires  time.Time // when to re-resolve
	lastGood time.Time
	ttl      time.Duration
	err      error
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
