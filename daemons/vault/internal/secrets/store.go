package secrets

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/seal"
)

// Kinds of credential.
const (
	// KindAPIKey is a key set by hand, sent as the provider's header.
	KindAPIKey = "api-key"
	// KindOAuth is a subscription login (access and refresh token) that
	// the vault refreshes.
	KindOAuth = "oauth"
)

// MaxValue bounds a stored value.
const MaxValue = 16 << 10

// Meta is what may be shown of a stored credential: never the value.
type Meta struct {
	Provider string `json:"provider"`
	// Project is the scope: empty for the global credential.
	Project     string    `json:"project,omitempty"`
	Kind        string    `json:"kind"`
	SetAt       time.Time `json:"set_at"`
	Fingerprint string    `json:"fingerprint"`
	// Expires is when an OAuth access token runs out.
	Expires *time.Time `json:"expires,omitempty"`
	// Problem says why the credential cannot be used (a login that
	// failed to refresh, a record that does not open).
	Problem string `json:"problem,omitempty"`
}

type record struct {
	Meta
	Nonce  []byte `json:"nonce"`
	Sealed []byte `json:"sealed"`
}

type fileForm struct {
	Version int      `json:"version"`
	KeyID   string   `json:"key_id"`
	Secrets []record `json:"secrets"`
}

type scope struct{ provider, project string }

// Store is the encrypted credential store of one vault.
type Store struct {
	dir  *os.Root
	name string
	path string // for messages
	key  *seal.Key

	mu   sync.RWMutex
	recs map[scope]record
}

// Open reads the store name in the directory dir (a missing file is an
// empty store). A file that is not a store, or one sealed with another key
// while it holds credentials, is refused naming the file; it is not
// changed. Records that do not open with key are kept and marked with a
// Problem.
func Open(dir *os.Root, name string, key *seal.Key) (*Store, error) {
	path := filepath.Join(dir.Name(), name)
	s := &Store{dir: dir, name: name, path: path, key: key, recs: map[scope]record{}}
	b, err := dir.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read store: %w", err)
	}
	var ff fileForm
	if err := json.Unmarshal(b, &ff); err != nil || ff.Version != 1 {
		if err == nil {
			err = fmt.Errorf("version %d, this vault reads 1", ff.Version)
		}
		return nil, fmt.Errorf("%w: %s: %v; nothing was changed: restore it from a backup, or move it away to start with no secrets", ErrCorrupt, path, err)
	}
	if len(ff.Secrets) > 0 && ff.KeyID != key.ID() {
		return nil, fmt.Errorf("%w: %s holds %d secrets sealed with key %s, and the key given is %s; nothing was changed: give the vault the key it was made with (TEROK_VAULT_KEY_FILE, or <config>/system/vault/vault.key), or move the store away to start with no secrets",
			ErrWrongKey, path, len(ff.Secrets), ff.KeyID, key.ID())
	}
	for _, r := range ff.Secrets {
		if _, err := key.Open(r.Nonce, r.Sealed, aad(r.Kind, r.Provider, r.Project)); err != nil {
			r.Problem = "does not open with the vault's key (changed or moved outside the vault); set it again or remove it"
		}
		s.recs[scope{r.Provider, r.Project}] = r
	}
	return s, nil
}

// aad binds a sealed value to its kind, provider and scope.
func aad(kind, provider, project string) []byte {
	return []byte("terok-vault secret v1\x00" + kind + "\x00" + provider + "\x00" + project)
}

// CheckValue refuses a value that cannot be a credential. The error never
// holds the value.
func CheckValue(v []byte) error {
	switch {
	case len(v) == 0:
		return fmt.Errorf("%w: the value is empty", ErrBadValue)
	case len(v) > MaxValue:
		return fmt.Errorf("%w: the value has %d bytes, more than %d", ErrBadValue, len(v), MaxValue)
	}
	for i, c := range v {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("%w: character %d of the value is a space, a control character or not ASCII; a key is one word of printable ASCII (check for a stray quote or line break)", ErrBadValue, i+1)
		}
	}
	return nil
}

// SetRequest is one credential to store.
type SetRequest struct {
	Provider, Project, Kind string
	Value                   []byte
	// FingerprintOf is what the fingerprint is made of (the value when
	// empty).
	FingerprintOf []byte
	Expires       *time.Time
}

// Set stores a credential, replacing the one of the same provider and
// scope, and writes the store.
func (s *Store) Set(req SetRequest) (Meta, error) {
	if req.Kind == KindAPIKey {
		if err := CheckValue(req.Value); err != nil {
			return Meta{}, err
		}
	}
	nonce, sealed, err := s.key.Seal(req.Value, aad(req.Kind, req.Provider, req.Project))
	if err != nil {
		return Meta{}, err
	}
	fp := req.FingerprintOf
	if len(fp) == 0 {
		fp = req.Value
	}
	m := Meta{Provider: req.Provider, Project: req.Project, Kind: req.Kind, SetAt: time.Now().UTC().Truncate(time.Second),
		Fingerprint: s.key.Fingerprint(fp), Expires: req.Expires}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.copyLocked()
	next[scope{req.Provider, req.Project}] = record{Meta: m, Nonce: nonce, Sealed: sealed}
	if err := s.saveLocked(next); err != nil {
		return Meta{}, err
	}
	return m, nil
}

// MarkProblem records why a credential cannot be used (empty: it can).
func (s *Store) MarkProblem(provider, project, problem string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[scope{provider, project}]
	if !ok {
		return ErrNotFound
	}
	if r.Problem == problem {
		return nil
	}
	next := s.copyLocked()
	r.Problem = problem
	next[scope{provider, project}] = r
	return s.saveLocked(next)
}

// Remove deletes the credential of provider in scope project.
func (s *Store) Remove(provider, project string) (Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[scope{provider, project}]
	if !ok {
		return Meta{}, fmt.Errorf("%w for %s", ErrNotFound, scopeName(provider, project))
	}
	next := s.copyLocked()
	delete(next, scope{provider, project})
	return r.Meta, s.saveLocked(next)
}

// Meta returns the metadata of one credential (exact scope).
func (s *Store) Meta(provider, project string) (Meta, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.recs[scope{provider, project}]
	return r.Meta, ok
}

// List returns the metadata of every credential (of one project and the
// global ones when project is not empty), by provider then scope.
func (s *Store) List(project string) []Meta {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Meta{}
	for _, r := range s.recs {
		if project == "" || r.Project == "" || r.Project == project {
			out = append(out, r.Meta)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		return out[i].Project < out[j].Project
	})
	return out
}

// Resolve returns the value and metadata of the credential that applies
// to provider in project: the project's own, else the global one.
func (s *Store) Resolve(provider, project string) ([]byte, Meta, error) {
	if project != "" {
		if _, ok := s.Meta(provider, project); ok {
			return s.Value(provider, project)
		}
	}
	if _, ok := s.Meta(provider, ""); !ok {
		return nil, Meta{}, fmt.Errorf("%w for provider %s (neither for project %s nor global)", ErrNotFound, provider, project)
	}
	return s.Value(provider, "")
}

// Value returns the value of the credential of exactly this provider and
// scope (no fallback to the global one), for the OAuth refresher.
func (s *Store) Value(provider, project string) ([]byte, Meta, error) {
	s.mu.RLock()
	r, ok := s.recs[scope{provider, project}]
	s.mu.RUnlock()
	if !ok {
		return nil, Meta{}, fmt.Errorf("%w for %s", ErrNotFound, scopeName(provider, project))
	}
	v, err := s.key.Open(r.Nonce, r.Sealed, aad(r.Kind, r.Provider, r.Project))
	if err != nil {
		return nil, r.Meta, fmt.Errorf("%w: %s: set it again or remove it", ErrBroken, scopeName(r.Provider, r.Project))
	}
	return v, r.Meta, nil
}

// Problems lists the credentials that cannot be used, as
// "provider (scope): problem".
func (s *Store) Problems() []string {
	var out []string
	for _, m := range s.List("") {
		if m.Problem != "" {
			out = append(out, scopeName(m.Provider, m.Project)+": "+m.Problem)
		}
	}
	return out
}

func scopeName(provider, project string) string {
	if project == "" {
		return provider + " (global)"
	}
	return provider + " (project " + project + ")"
}

func (s *Store) copyLocked() map[scope]record {
	next := make(map[scope]record, len(s.recs)+1)
	for k, v := range s.recs {
		next[k] = v
	}
	return next
}

func (s *Store) saveLocked(next map[scope]record) error {
	ff := fileForm{Version: 1, KeyID: s.key.ID(), Secrets: []record{}}
	for _, r := range next {
		ff.Secrets = append(ff.Secrets, r)
	}
	sort.Slice(ff.Secrets, func(i, j int) bool {
		a, b := ff.Secrets[i], ff.Secrets[j]
		return a.Provider < b.Provider || a.Provider == b.Provider && a.Project < b.Project
	})
	if err := atomicfile.WriteJSONIn(s.dir, s.name, ff, 0o600); err != nil {
		return fmt.Errorf("write store: %w", err)
	}
	s.recs = next
	return nil
}
