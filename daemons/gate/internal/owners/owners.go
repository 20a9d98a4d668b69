package owners

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// File is the record's name inside each bare repository.
const File = "terok-owners.json"

// fileForm is the record on disk. Branches maps a full ref name
// (refs/heads/…) to the id of the task that created it.
type fileForm struct {
	Version  int               `json:"version"`
	Branches map[string]string `json:"branches"`
}

// Store reads and changes the owner records of repositories. One process
// (the gate) writes them; Change serialises its writers.
type Store struct {
	mu sync.Mutex
}

// Read returns the owner of every recorded branch of the repository in
// dir (none when it has no record yet).
func (s *Store) Read(dir string) (map[string]string, error) {
	p := filepath.Join(dir, File)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read branch owners: %w", err)
	}
	var ff fileForm
	if err := json.Unmarshal(b, &ff); err != nil || ff.Version != 1 {
		if err == nil {
			err = fmt.Errorf("version %d, want 1", ff.Version)
		}
		return nil, fmt.Errorf("%w: %s: %v; move it away and every branch counts as the user's (tasks then create new ones)", ErrCorrupt, p, err)
	}
	if ff.Branches == nil {
		ff.Branches = map[string]string{}
	}
	return ff.Branches, nil
}

// Change records task as the owner of each ref in set and removes the
// records of the refs in drop (a drop wins over a set of the same ref).
// Nothing is written when nothing changes.
func (s *Store) Change(dir string, set map[string]string, drop []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.Read(dir)
	if err != nil {
		return err
	}
	changed := false
	for ref, task := range set {
		if cur[ref] != task {
			cur[ref] = task
			changed = true
		}
	}
	for _, ref := range drop {
		if _, ok := cur[ref]; ok {
			delete(cur, ref)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, File), fileForm{Version: 1, Branches: cur}, 0o600); err != nil {
		return fmt.Errorf("save branch owners: %w", err)
	}
	return nil
}
