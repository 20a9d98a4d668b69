package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// State is what the daemon persists per armed container, so a restart or
// re-arm keeps the live changes.
type State struct {
	ID         string            `json:"id"`
	PID        int               `json:"pid"`
	NetnsInode uint64            `json:"netns_inode"`
	OwnerUID   int               `json:"owner_uid"`
	Project    string            `json:"project,omitempty"`
	Mode       shieldapi.Mode    `json:"mode"`
	Profiles   []string          `json:"profiles,omitempty"`
	Static     []string          `json:"static,omitempty"`
	Allowed    []shieldapi.Entry `json:"allowed,omitempty"`
	Denied     []shieldapi.Entry `json:"denied,omitempty"`
	Ports      []uint16          `json:"ports,omitempty"`
	ArmedAt    time.Time         `json:"armed_at"`
}

func (m *Manager) statePath(id string) string { return filepath.Join(m.stateDir, id+".json") }

func (m *Manager) save(s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return atomicfile.WriteFile(m.statePath(s.ID), b, 0o600)
}

func (m *Manager) loadStates() ([]State, error) {
	files, err := filepath.Glob(filepath.Join(m.stateDir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []State
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read state %s: %w", f, err)
		}
		var s State
		if err := json.Unmarshal(b, &s); err != nil {
			m.log.Error().Err(err).Str("file", f).Msg("unreadable container state; moved aside")
			_ = os.Rename(f, f+".bad")
			continue
		}
		out = append(out, s)
	}
	return out, nil
}
