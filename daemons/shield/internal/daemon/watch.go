package daemon

// NFLOG watchers: blocked packets and connection receipts into the audit.

import (
	"context"

	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/audit"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/ruleset"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

func (m *Manager) startWatch(c *container) {
	id := c.st.ID
	stop, err := audit.Watch(context.Background(), c.ns.Fd(), m.opts.LogGroup, func(p audit.Packet) {
		kind := shieldapi.EventBlocked
		if p.Prefix == ruleset.PrefixConnection {
			kind = shieldapi.EventConnection
		} else {
			// Not under m.mu: stop drains this callback while the
			// manager's lock is held (disarm, re-arm).
			c.blocked.Add(1)
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
