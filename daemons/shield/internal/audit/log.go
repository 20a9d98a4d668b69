package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
)

// Hub writes audit records and hands them to live followers.
type Hub struct {
	dir  string
	mu   sync.Mutex
	subs map[string]map[chan shieldapi.Event]struct{}
}

// NewHub stores logs under dir (created 0700).
func NewHub(dir string) (*Hub, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create audit dir: %w", err)
	}
	return &Hub{dir: dir, subs: map[string]map[chan shieldapi.Event]struct{}{}}, nil
}

func (h *Hub) path(id string) string { return filepath.Join(h.dir, id+".jsonl") }

// Write appends one record to the container's log and sends it to followers.
func (h *Hub) Write(ev shieldapi.Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// Never through a symbolic link (the directory is root's alone; this
	// keeps it so should a link appear there anyway).
	f, err := os.OpenFile(h.path(ev.Container), os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if werr != nil || cerr != nil {
		return fmt.Errorf("write audit log %s: %w", h.path(ev.Container), errors.Join(werr, cerr))
	}
	for ch := range h.subs[ev.Container] {
		select {
		case ch <- ev:
		default: // a follower that cannot keep up loses live records, never blocks the daemon
		}
	}
	return nil
}

// Resolve maps a unique prefix of a logged container id to the full id.
func (h *Hub) Resolve(prefix string) (string, error) {
	if !safeID(prefix) {
		return "", fmt.Errorf("%q: %w", prefix, ErrNoLog)
	}
	if _, err := os.Stat(h.path(prefix)); err == nil {
		return prefix, nil
	}
	m, _ := filepath.Glob(filepath.Join(h.dir, prefix+"*.jsonl"))
	if len(m) != 1 {
		return "", fmt.Errorf("%q: %w", prefix, ErrNoLog)
	}
	return strings.TrimSuffix(filepath.Base(m[0]), ".jsonl"), nil
}

// safeID accepts what container ids are made of, so a prefix can be
// neither a path nor a glob pattern.
func safeID(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Read returns every record of the container's log and, with follow, a
// channel of records written after them and a cancel func; no record is
// lost or repeated between the two.
func (h *Hub) Read(id string, follow bool) ([]shieldapi.Event, <-chan shieldapi.Event, func(), error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := os.OpenFile(h.path(id), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("%s: %w", id, ErrNoLog)
		}
		return nil, nil, nil, fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	var evs []shieldapi.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev shieldapi.Event
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("read audit log: %w", err)
	}
	if !follow {
		return evs, nil, func() {}, nil
	}
	ch := make(chan shieldapi.Event, 256)
	if h.subs[id] == nil {
		h.subs[id] = map[chan shieldapi.Event]struct{}{}
	}
	h.subs[id][ch] = struct{}{}
	cancel := func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[id], ch)
	}
	return evs, ch, cancel, nil
}
