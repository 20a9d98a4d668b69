package podconf

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// StateFile is the name of the file, beside containers.conf, in which
// podman-service records the values it wrote.
const StateFile = ".terok-podman-service.json"

const stateComment = "podman-service (terok) records here the values it wrote into the files beside this one. " +
	"A key whose value still equals the one recorded is podman-service's to update; a value you change is yours and is kept. " +
	"Deleting this file makes every value in those files yours."

// record is one value podman-service wrote, in canonical TOML syntax.
// Prior is set only while an update is under way: the value the file held
// before, so that a run interrupted between writing this record and the
// configuration file still recognises the old value as its own.
type record struct {
	Value string `json:"value"`
	Prior string `json:"prior,omitempty"`
}

// state is the content of the state file: file base name → table.key →
// record.
type state struct {
	Comment string                       `json:"comment"`
	Files   map[string]map[string]record `json:"files"`
}

// StatePath is where podman-service records the values it wrote.
func (p Paths) StatePath() string {
	return filepath.Join(filepath.Dir(p.ContainersConf), StateFile)
}

// loadState reads the state file; a missing file means podman-service
// wrote nothing that it still remembers.
func loadState(path string) (state, error) {
	st := state{Files: map[string]map[string]record{}}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%w: %s: %v; delete it (podman-service then treats every value in its configuration files as yours)", ErrBadState, path, err)
	}
	if st.Files == nil {
		st.Files = map[string]map[string]record{}
	}
	return st, nil
}

// owns reports whether the current value cur (canonical TOML) of a key is
// still the one podman-service recorded.
func (r record) owns(cur string) bool {
	return cur == r.Value || (r.Prior != "" && cur == r.Prior)
}

// settled returns a copy without the Prior values.
func (st state) settled() state {
	out := state{Comment: stateComment, Files: map[string]map[string]record{}}
	for f, keys := range st.Files {
		m := map[string]record{}
		for k, r := range keys {
			m[k] = record{Value: r.Value}
		}
		out.Files[f] = m
	}
	return out
}

func (st state) equal(o state) bool {
	nonEmpty := func(s state) map[string]map[string]record {
		m := map[string]map[string]record{}
		for f, keys := range s.Files {
			if len(keys) > 0 {
				m[f] = keys
			}
		}
		return m
	}
	a, b := nonEmpty(st), nonEmpty(o)
	if len(a) != len(b) {
		return false
	}
	for f, keys := range a {
		if !maps.Equal(keys, b[f]) {
			return false
		}
	}
	return true
}

func saveState(path string, st state) error {
	st.Comment = stateComment
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return writeAtomic(path, append(b, '\n'))
}
