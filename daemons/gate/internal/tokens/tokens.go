package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// TaskPrefix starts every task token.
const TaskPrefix = "terok-g-"

// AdminPrefix starts every generated admin token.
const AdminPrefix = "terok-admin-"

// Kind tells what a presented token is.
type Kind int

// Token kinds.
const (
	KindNone Kind = iota
	KindAdmin
	KindTask
)

// Entry is one stored task token, without its secret.
type Entry struct {
	ID      string    `json:"id"`
	Hash    string    `json:"sha256"`
	Project string    `json:"project"`
	Task    string    `json:"task"`
	Created time.Time `json:"created"`
}

// Identity is who a presented token belongs to.
type Identity struct {
	Kind    Kind
	Project string // task tokens only
	Task    string // task tokens only
	ID      string // task tokens only
}

type fileForm struct {
	Version int     `json:"version"`
	Tokens  []Entry `json:"tokens"`
}

// Store holds the admin token and the task tokens of one gate.
type Store struct {
	path  string
	admin []byte

	mu      sync.RWMutex
	entries []Entry
}

// Open reads the task tokens from path (missing file: none) and keeps the
// admin token for comparisons.
func Open(path, adminToken string) (*Store, error) {
	s := &Store{path: path, admin: []byte(adminToken)}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read token file: %w", err)
	}
	var ff fileForm
	if err := json.Unmarshal(b, &ff); err != nil {
		return nil, fmt.Errorf("%w: %s: %v; move it away to start without task tokens", ErrCorrupt, path, err)
	}
	s.entries = ff.Tokens
	return s, nil
}

// NewSecret returns prefix followed by 32 random hex digits.
func NewSecret(prefix string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}

func hashOf(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Mint creates a task token for (project, task), stores it and returns the
// secret with its entry. Names must already be validated.
func (s *Store) Mint(project, task string) (string, Entry, error) {
	tok, err := NewSecret(TaskPrefix)
	if err != nil {
		return "", Entry{}, err
	}
	h := hashOf(tok)
	e := Entry{ID: "t-" + h[:12], Hash: h, Project: project, Task: task, Created: time.Now().UTC().Truncate(time.Second)}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := append(append([]Entry(nil), s.entries...), e)
	if err := s.save(next); err != nil {
		return "", Entry{}, err
	}
	s.entries = next
	return tok, e, nil
}

// List returns the stored entries, of one project when project is not
// empty, ordered by project, task and creation.
func (s *Store) List(project string) []Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Entry
	for _, e := range s.entries {
		if project == "" || e.Project == project {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Project != out[j].Project {
			return out[i].Project < out[j].Project
		}
		if out[i].Task != out[j].Task {
			return out[i].Task < out[j].Task
		}
		return out[i].Created.Before(out[j].Created)
	})
	return out
}

// Revoke removes every token of project whose task is task (every token of
// the project when task is empty) and returns how many went.
func (s *Store) Revoke(project, task string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []Entry
	for _, e := range s.entries {
		if e.Project == project && (task == "" || e.Task == task) {
			continue
		}
		keep = append(keep, e)
	}
	n := len(s.entries) - len(keep)
	if n == 0 {
		return 0, nil
	}
	if err := s.save(keep); err != nil {
		return 0, err
	}
	s.entries = keep
	return n, nil
}

// Lookup tells whose token tok is. The admin token and every stored hash
// are compared in constant time; ErrUnknown when none matches.
func (s *Store) Lookup(tok string) (Identity, error) {
	if tok == "" {
		return Identity{}, ErrUnknown
	}
	isAdmin := len(s.admin) > 0 && subtle.ConstantTimeCompare([]byte(tok), s.admin) == 1
	h := []byte(hashOf(tok))
	s.mu.RLock()
	defer s.mu.RUnlock()
	found := -1
	for i := range s.entries {
		if subtle.ConstantTimeCompare(h, []byte(s.entries[i].Hash)) == 1 {
			found = i
		}
	}
	switch {
	case isAdmin:
		return Identity{Kind: KindAdmin}, nil
	case found >= 0:
		e := s.entries[found]
		return Identity{Kind: KindTask, Project: e.Project, Task: e.Task, ID: e.ID}, nil
	}
	return Identity{}, ErrUnknown
}

func (s *Store) save(entries []Entry) error {
	if entries == nil {
		entries = []Entry{}
	}
	b, err := json.MarshalIndent(fileForm{Version: 1, Tokens: entries}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode tokens: %w", err)
	}
	if err := atomicfile.WriteFile(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save tokens: %w", err)
	}
	return nil
}

// ValidAdminToken reports why tok cannot serve as an admin token (nil when
// it can): at least 16 characters that need no escaping in a URL.
func ValidAdminToken(tok string) error {
	if len(tok) < 16 {
		return fmt.Errorf("admin token is shorter than 16 characters")
	}
	if strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") != "" {
		return fmt.Errorf("admin token may only hold letters, digits, '.', '_', '~' and '-' (it is used in URLs)")
	}
	return nil
}

// LoadOrCreateAdmin returns the admin token kept at path, creating a new
// one (0600) when the file does not exist. created tells which.
func LoadOrCreateAdmin(path string) (tok string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok = strings.TrimSpace(string(b))
		if verr := ValidAdminToken(tok); verr != nil {
			return "", false, fmt.Errorf("admin token file %s: %v; delete it to generate a new one", path, verr)
		}
		return tok, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("read admin token: %w", err)
	}
	tok, err = NewSecret(AdminPrefix)
	if err != nil {
		return "", false, err
	}
	if err := atomicfile.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("store admin token: %w", err)
	}
	return tok, true, nil
}
