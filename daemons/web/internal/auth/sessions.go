package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// CSRFHeader carries the session's CSRF value on every mutation a browser
// makes with the session cookie.
const CSRFHeader = "X-Terok-CSRF"

// CookiePrefix starts the name of every cookie terok sets (sessions of
// every instance, task UI grants): proxies to task UIs drop them all.
const CookiePrefix = "terok_"

// Default session lifetimes (TEROK_WEB_SESSION_IDLE, TEROK_WEB_SESSION_MAX).
const (
	DefaultIdle = 12 * time.Hour
	DefaultMax  = 7 * 24 * time.Hour
	// DefaultLimit bounds the sessions kept; the least recently used go
	// first.
	DefaultLimit = 1000
)

// saveEvery bounds how often a session's last use alone is written.
const saveEvery = time.Minute

// SessionOptions tune Sessions.
type SessionOptions struct {
	Idle  time.Duration    // unused this long, a session ends (DefaultIdle)
	Max   time.Duration    // this long after login it ends anyway (DefaultMax)
	Limit int              // most sessions kept (DefaultLimit)
	Now   func() time.Time // the clock (time.Now)
}

// Session is one browser login.
type Session struct {
	ID      string // hex SHA-256 of the cookie value
	CSRF    string // the value CSRFHeader must carry
	Created time.Time
	Seen    time.Time
}

// Sessions keeps browser logins server-side: only a hash of each cookie
// value, in $TEROK_STATE_DIR/web/sessions.json (0600, written
// atomically). It is safe for concurrent use.
type Sessions struct {
	path   string
	cookie string
	o      SessionOptions
	check  string // the token's salted hash, as stored

	mu        sync.Mutex
	byID      map[string]*record
	lastSave  time.Time
	dirty     bool
	saveError error
}

type record struct {
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
}

type sessionsFile struct {
	Version  int                `json:"version"`
	Token    string             `json:"token"` // salt:sha256(salt+token), to notice a new token
	Sessions map[string]*record `json:"sessions"`
}

// SessionsFile is where the sessions are kept, below the state dir.
func SessionsFile(stateDir string) string { return filepath.Join(stateDir, "web", "sessions.json") }

// OpenSessions loads the sessions kept for token. When the file was
// written for another token every session is dropped (a new token ends
// every login). cookieName is the session cookie's name (CookieName).
func OpenSessions(stateDir, token, cookieName string, o SessionOptions) (*Sessions, error) {
	if o.Idle <= 0 {
		o.Idle = DefaultIdle
	}
	if o.Max <= 0 {
		o.Max = DefaultMax
	}
	if o.Limit <= 0 {
		o.Limit = DefaultLimit
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sessions{path: SessionsFile(stateDir), cookie: cookieName, o: o, byID: map[string]*record{}}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: create %s: %v", ErrBadSessions, filepath.Dir(s.path), err)
	}
	var f sessionsFile
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("%w: read %s: %v", ErrBadSessions, s.path, err)
	default:
		if err := json.Unmarshal(b, &f); err != nil {
			// A torn or foreign file costs logins, never the start.
			f = sessionsFile{}
		}
	}
	if f.Token != "" && tokenCheckMatches(f.Token, token) {
		s.check = f.Token
		now := o.Now()
		for id, r := range f.Sessions {
			if r != nil && s.live(r, now) {
				s.byID[id] = r
			}
		}
	} else {
		s.check = newTokenCheck(token)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// CookieName is the session cookie's name for instance id (Instance).
func CookieName(instance string) string { return CookiePrefix + "session_" + instance }

// CookieName is this store's cookie name.
func (s *Sessions) CookieName() string { return s.cookie }

// Idle and Max are the lifetimes in force.
func (s *Sessions) Idle() time.Duration { return s.o.Idle }

// Max is the absolute lifetime of a session.
func (s *Sessions) Max() time.Duration { return s.o.Max }

func (s *Sessions) live(r *record, now time.Time) bool {
	return now.Sub(r.Seen) < s.o.Idle && now.Sub(r.Created) < s.o.Max && !r.Created.After(now.Add(time.Minute))
}

func hashValue(v string) string {
	h := sha256.Sum256([]byte(v))
	return hex.EncodeToString(h[:])
}

func csrfOf(value string) string {
	m := hmac.New(sha256.New, []byte(value))
	m.Write([]byte("terok-web csrf v2"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func newTokenCheck(token string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	sh := hex.EncodeToString(salt)
	h := sha256.Sum256([]byte(sh + token))
	return sh + ":" + hex.EncodeToString(h[:])
}

func tokenCheckMatches(check, token string) bool {
	i := len(check) - 65
	if i <= 0 || check[i] != ':' {
		return false
	}
	h := sha256.Sum256([]byte(check[:i] + token))
	return hmac.Equal([]byte(check[i+1:]), []byte(hex.EncodeToString(h[:])))
}

// Create starts a session and returns the cookie's value.
func (s *Sessions) Create() (string, Session, error) {
	raw := make([]byte, 32) // 256 bits from crypto/rand
	if _, err := rand.Read(raw); err != nil {
		return "", Session{}, err
	}
	value := base64.RawURLEncoding.EncodeToString(raw)
	id := hashValue(value)
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	for len(s.byID) >= s.o.Limit {
		s.evictOldestLocked()
	}
	r := &record{Created: now, Seen: now}
	s.byID[id] = r
	if err := s.saveLocked(); err != nil {
		delete(s.byID, id)
		return "", Session{}, err
	}
	return value, Session{ID: id, CSRF: csrfOf(value), Created: now, Seen: now}, nil
}

// Lookup returns the live session of a cookie value and marks it used.
func (s *Sessions) Lookup(value string) (Session, bool) {
	if value == "" {
		return Session{}, false
	}
	id := hashValue(value)
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	if !ok {
		return Session{}, false
	}
	if !s.live(r, now) {
		delete(s.byID, id)
		s.dirty = true
		s.maybeSaveLocked(now)
		return Session{}, false
	}
	r.Seen = now
	s.dirty = true
	s.maybeSaveLocked(now)
	return Session{ID: id, CSRF: csrfOf(value), Created: r.Created, Seen: r.Seen}, true
}

// Alive reports whether the session with id (Session.ID) is still live,
// without marking it used.
func (s *Sessions) Alive(id string) bool {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byID[id]
	return ok && s.live(r, now)
}

// Revoke ends the session of a cookie value (logout).
func (s *Sessions) Revoke(value string) error {
	id := hashValue(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[id]; !ok {
		return nil
	}
	delete(s.byID, id)
	return s.saveLocked()
}

// RevokeAll ends every session.
func (s *Sessions) RevokeAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID = map[string]*record{}
	return s.saveLocked()
}

// Len is how many sessions are kept (live or not yet pruned).
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *Sessions) pruneLocked(now time.Time) {
	for id, r := range s.byID {
		if !s.live(r, now) {
			delete(s.byID, id)
		}
	}
}

func (s *Sessions) evictOldestLocked() {
	ids := make([]string, 0, len(s.byID))
	for id := range s.byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return s.byID[ids[i]].Seen.Before(s.byID[ids[j]].Seen) })
	if len(ids) > 0 {
		delete(s.byID, ids[0])
	}
}

// maybeSaveLocked writes a last-use change at most every saveEvery.
func (s *Sessions) maybeSaveLocked(now time.Time) {
	if s.dirty && now.Sub(s.lastSave) >= saveEvery {
		_ = s.saveLocked()
	}
}

func (s *Sessions) saveLocked() error {
	f := sessionsFile{Version: 1, Token: s.check, Sessions: s.byID}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.path, b, 0o600); err != nil {
		s.saveError = err
		return fmt.Errorf("%w: %v", ErrBadSessions, err)
	}
	s.lastSave, s.dirty, s.saveError = s.o.Now(), false, nil
	return nil
}
