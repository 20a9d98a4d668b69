package phantoms

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/vault/internal/providers"
)

// Phantom is one stored phantom token, without the token.
type Phantom struct {
	ID       string `json:"id"`
	Hash     string `json:"sha256"`
	Project  string `json:"project"`
	Task     string `json:"task"`
	Provider string `json:"provider"`
	// Upstream is the provider's upstream when the phantom was minted;
	// the broker sends its requests there and nowhere else.
	Upstream string `json:"upstream"`
	// Routes are the provider's routes when the phantom was minted.
	Routes  []string   `json:"routes"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`

	routes []providers.Route
}

// Live reports whether the phantom may still be used.
func (p *Phantom) Live() bool { return p.Revoked == nil }

// Allowed reports whether the phantom's routes admit method and path.
func (p *Phantom) Allowed(method, path string) bool {
	for _, r := range p.routes {
		if r.Match(method, path) {
			return true
		}
	}
	return false
}

type fileForm struct {
	Version  int        `json:"version"`
	Phantoms []*Phantom `json:"phantoms"`
}

// Store holds the phantoms of one vault.
type Store struct {
	dir  *os.Root
	name string

	mu     sync.RWMutex
	byHash map[string]*Phantom
	byID   map[string]*Phantom
}

// Open reads the phantoms from name in the directory dir (missing: none).
// A damaged file is refused naming it and left as it is.
func Open(dir *os.Root, name string) (*Store, error) {
	path := filepath.Join(dir.Name(), name)
	s := &Store{dir: dir, name: name, byHash: map[string]*Phantom{}, byID: map[string]*Phantom{}}
	b, err := dir.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read phantoms: %w", err)
	}
	var ff fileForm
	if err := json.Unmarshal(b, &ff); err != nil || ff.Version != 1 {
		if err == nil {
			err = fmt.Errorf("version %d, this vault reads 1", ff.Version)
		}
		return nil, fmt.Errorf("%w: %s: %v; nothing was changed: move it away to start with no phantoms (tasks that run get 401 until restarted)", ErrCorrupt, path, err)
	}
	for _, p := range ff.Phantoms {
		if err := p.parseRoutes(); err != nil {
			return nil, fmt.Errorf("%w: %s: phantom %s: %v", ErrCorrupt, path, p.ID, err)
		}
		s.byHash[p.Hash] = p
		s.byID[p.ID] = p
	}
	return s, nil
}

func (p *Phantom) parseRoutes() error {
	p.routes = p.routes[:0]
	for _, r := range p.Routes {
		var m, path string
		if _, err := fmt.Sscan(r, &m, &path); err != nil {
			return fmt.Errorf("route %q: %v", r, err)
		}
		pr, err := providers.ParseRoute(m, path)
		if err != nil {
			return err
		}
		p.routes = append(p.routes, pr)
	}
	return nil
}

// HashOf is the stored form of a token.
func HashOf(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Minted is one new phantom with its token (returned once, never stored).
type Minted struct {
	Phantom
	Token string
}

// Mint creates one phantom per provider for (project, task), stores them
// all in one write, and returns them with their tokens.
func (s *Store) Mint(project, task string, ps []*providers.Provider) ([]Minted, error) {
	now := time.Now().UTC().Truncate(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Minted, 0, len(ps))
	fresh := map[string]*Phantom{}
	for _, pr := range ps {
		var tok, h string
		for range 8 { // a collision of 128+ random bits does not happen; bounded anyway
			t, err := pr.Phantom.Mint()
			if err != nil {
				return nil, err
			}
			if hh := HashOf(t); s.byHash[hh] == nil && fresh[hh] == nil {
				tok, h = t, hh
				break
			}
		}
		if tok == "" {
			return nil, errors.New("mint phantom: no unused token after 8 tries")
		}
		ph := &Phantom{ID: "ph-" + h[:12], Hash: h, Project: project, Task: task, Provider: pr.Name,
			Upstream: pr.Upstream.String(), Created: now, routes: append([]providers.Route(nil), pr.Routes...)}
		for _, r := range pr.Routes {
			ph.Routes = append(ph.Routes, r.String())
		}
		fresh[h] = ph
		out = append(out, Minted{Phantom: *ph, Token: tok})
	}
	all := s.listLocked()
	for _, m := range out {
		all = append(all, fresh[m.Hash])
	}
	if err := s.save(all); err != nil {
		return nil, err
	}
	for h, p := range fresh {
		s.byHash[h] = p
		s.byID[p.ID] = p
	}
	return out, nil
}

// Lookup finds the phantom a token is (live or revoked).
func (s *Store) Lookup(token string) (Phantom, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.byHash[HashOf(token)]
	if !ok {
		return Phantom{}, false
	}
	return *p, true
}

// Revoke ends one phantom by id. Revoking a revoked phantom is not an
// error.
func (s *Store) Revoke(id string) (Phantom, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byID[id]
	if !ok {
		return Phantom{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if p.Live() {
		if err := s.revokeLocked([]*Phantom{p}); err != nil {
			return Phantom{}, err
		}
	}
	return *p, nil
}

// RevokeTask ends every live phantom of (project, task) and returns how
// many it ended.
func (s *Store) RevokeTask(project, task string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hit []*Phantom
	for _, p := range s.byID {
		if p.Project == project && p.Task == task && p.Live() {
			hit = append(hit, p)
		}
	}
	if len(hit) == 0 {
		return 0, nil
	}
	return len(hit), s.revokeLocked(hit)
}

func (s *Store) revokeLocked(ps []*Phantom) error {
	now := time.Now().UTC().Truncate(time.Second)
	all := s.listLocked()
	changed := make([]*Phantom, len(all))
	for i, p := range all {
		c := *p
		for _, r := range ps {
			if r == p {
				c.Revoked = &now
			}
		}
		changed[i] = &c
	}
	if err := s.save(changed); err != nil {
		return err
	}
	for _, p := range ps {
		p.Revoked = &now
	}
	return nil
}

// List returns the phantoms of project (and task, when not empty), every
// phantom when project is empty, oldest first.
func (s *Store) List(project, task string) []Phantom {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []Phantom{}
	for _, p := range s.listLocked() {
		if (project == "" || p.Project == project) && (task == "" || p.Task == task) {
			out = append(out, *p)
		}
	}
	return out
}

// Prune forgets phantoms revoked before cutoff and returns how many.
func (s *Store) Prune(cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keep []*Phantom
	for _, p := range s.listLocked() {
		if p.Revoked == nil || !p.Revoked.Before(cutoff) {
			keep = append(keep, p)
		}
	}
	n := len(s.byID) - len(keep)
	if n == 0 {
		return 0, nil
	}
	if err := s.save(keep); err != nil {
		return 0, err
	}
	s.byHash, s.byID = map[string]*Phantom{}, map[string]*Phantom{}
	for _, p := range keep {
		s.byHash[p.Hash], s.byID[p.ID] = p, p
	}
	return n, nil
}

// Counts returns how many phantoms are live and revoked.
func (s *Store) Counts() (live, revoked int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.byID {
		if p.Live() {
			live++
		} else {
			revoked++
		}
	}
	return live, revoked
}

func (s *Store) listLocked() []*Phantom {
	out := make([]*Phantom, 0, len(s.byID))
	for _, p := range s.byID {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func (s *Store) save(all []*Phantom) error {
	if all == nil {
		all = []*Phantom{}
	}
	if err := atomicfile.WriteJSONIn(s.dir, s.name, fileForm{Version: 1, Phantoms: all}, 0o600); err != nil {
		return fmt.Errorf("write phantoms: %w", err)
	}
	return nil
}
