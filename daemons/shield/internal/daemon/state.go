package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/shield/internal/trust"
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
	// Unshielded: armed with the minimal ruleset of a task without the
	// shield (ModeOpen); its modes are open and block only.
	Unshielded bool `json:"unshielded,omitempty"`
	// Reason says why the daemon blocked the container by itself (a state
	// that failed the checks, a failed re-arm); cleared by a mode change.
	Reason string `json:"reason,omitempty"`
	// DenyList is the task's own deny list (annotation terok.shield.deny),
	// in canonical form; the daemon's deny_names are added when it is used.
	DenyList []string `json:"deny_list,omitempty"`
	// Withheld are the addresses the daemon resolved for each name of the
	// deny list (the task's and the daemon's) while the task ran.
	Withheld map[string][]netip.Addr `json:"withheld,omitempty"`
}

func (m *Manager) statePath(id string) string { return filepath.Join(m.stateDir, id+".json") }

func (m *Manager) save(s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return atomicfile.WriteFile(m.statePath(s.ID), b, 0o600)
}

// maxState bounds one state file (live changes of a busy task are a few KB).
const maxState = 4 << 20

// readState reads one state file as trust allows (root's, writable by
// root alone, not through a symbolic link) and decodes it strictly.
func readState(path string) (State, error) {
	var s State
	b, err := trust.ReadFile(path, maxState)
	if err != nil {
		return s, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("%s: not a state file: %v", path, err)
	}
	return s, nil
}

// setAside renames a state file that will not be restored to NAME.bad
// (kept for a human to look at, never read again).
func (m *Manager) setAside(path string) {
	if err := os.Rename(path, path+".bad"); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Error().Err(err).Str("file", path).Msg("set aside a refused state file")
	}
}
