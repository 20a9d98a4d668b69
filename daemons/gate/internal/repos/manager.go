package repos

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/names"
)

// Manager owns the repositories under one root.
type Manager struct {
	root   string
	sshDir string
	log    zerolog.Logger

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns a manager for root (created when missing). sshDir holds
// private keys and known_hosts for ssh upstreams.
func New(root, sshDir string, log zerolog.Logger) (*Manager, error) {
	for _, d := range []string{filepath.Join(root, "repos"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Leftovers of a crash while creating or deleting.
	if ents, err := os.ReadDir(filepath.Join(root, "tmp")); err == nil {
		for _, e := range ents {
			_ = os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
		}
	}
	return &Manager{root: root, sshDir: sshDir, log: log, locks: map[string]*sync.Mutex{}}, nil
}

// Dir returns the directory of repository name (which must be valid).
func (m *Manager) Dir(name string) string {
	return filepath.Join(m.root, "repos", name+".git")
}

// Exists reports whether repository name exists.
func (m *Manager) Exists(name string) bool {
	fi, err := os.Stat(filepath.Join(m.Dir(name), MetaFile))
	return err == nil && fi.Mode().IsRegular()
}

// lock serialises changes to one repository's settings and refs.
func (m *Manager) lock(name string) func() {
	m.mu.Lock()
	l, ok := m.locks[name]
	if !ok {
		l = &sync.Mutex{}
		m.locks[name] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// settingsOf checks name and reads its settings.
func (m *Manager) settingsOf(name string) (settings, error) {
	if err := names.CheckProject(name); err != nil {
		return settings{}, err
	}
	return readSettings(m.Dir(name))
}

// Meta returns repository name as the API shows it.
func (m *Manager) Meta(name string) (gateapi.Repo, error) {
	s, err := m.settingsOf(name)
	if err != nil {
		return gateapi.Repo{}, err
	}
	return s.wire(), nil
}

// DefaultBranch returns the default branch of a repository ("" when its
// settings cannot be read).
func (m *Manager) DefaultBranch(name string) string {
	s, err := m.settingsOf(name)
	if err != nil {
		return ""
	}
	return s.DefaultBranch
}

// List returns every repository, sorted by name. A directory whose
// settings cannot be read, or whose name the gate would refuse, is
// skipped with a warning.
func (m *Manager) List() ([]gateapi.Repo, error) {
	ents, err := os.ReadDir(filepath.Join(m.root, "repos"))
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	out := []gateapi.Repo{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".git")
		if !ok || !e.IsDir() {
			continue
		}
		if err := names.CheckProject(name); err != nil {
			m.log.Warn().Err(err).Str("dir", e.Name()).Msg("skip repository with a name the gate does not serve")
			continue
		}
		s, err := readSettings(m.Dir(name))
		if err != nil {
			m.log.Warn().Err(err).Str("repo", name).Msg("skip repository")
			continue
		}
		out = append(out, s.wire())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Delete removes repository name: it is first moved out of the served
// tree, then removed.
func (m *Manager) Delete(name string) error {
	if err := names.CheckProject(name); err != nil {
		return err
	}
	unlock := m.lock(name)
	defer unlock()
	dir := m.Dir(name)
	if _, err := readSettings(dir); err != nil {
		return err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	trash := filepath.Join(m.root, "tmp", "deleted-"+name+"-"+hex.EncodeToString(b[:]))
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("move repository away: %w", err)
	}
	if err := os.RemoveAll(trash); err != nil {
		m.log.Warn().Err(err).Str("path", trash).Msg("remove deleted repository")
	}
	m.log.Info().Str("repo", name).Msg("repository deleted")
	return nil
}
