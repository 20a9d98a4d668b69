package events

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
)

// DefaultKeep is how many of the newest events a store keeps.
const DefaultKeep = 10000

// Store is the durable, bounded push feed. Appends go to the end of a
// JSON-lines file (synced before Append returns); when the file holds half
// again as many lines as the store keeps, it is rewritten atomically with
// the newest Keep events. The sequence continues from the file's last
// event after a restart.
type Store struct {
	path string
	keep int
	log  zerolog.Logger

	mu      sync.Mutex
	f       *os.File
	events  []gateapi.Event // oldest first, at most keep
	lines   int             // lines in the file
	next    uint64
	changed chan struct{} // closed and replaced on every append
	closed  bool
}

// Open loads (or creates) the feed kept at path, holding at most keep
// events (keep <= 0: DefaultKeep). A line that cannot be read (a write cut
// off by a crash) is dropped and the file rewritten without it.
func Open(path string, keep int, log zerolog.Logger) (*Store, error) {
	if keep <= 0 {
		keep = DefaultKeep
	}
	s := &Store{path: path, keep: keep, log: log, next: 1, changed: make(chan struct{})}
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read event feed %s: %w", path, err)
	}
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e gateapi.Event
		if err := json.Unmarshal(line, &e); err != nil || e.Seq == 0 {
			bad++
			continue
		}
		s.events = append(s.events, e)
		s.lines++
	}
	if err := sc.Err(); err != nil {
		bad++
	}
	// A torn or hand-edited file may be out of order; the feed is by seq.
	sort.SliceStable(s.events, func(i, j int) bool { return s.events[i].Seq < s.events[j].Seq })
	if n := len(s.events); n > 0 {
		s.next = s.events[n-1].Seq + 1
	}
	if bad > 0 || len(s.events) > keep {
		log.Warn().Int("dropped_lines", bad).Str("path", path).Msg("event feed had unreadable lines; rewriting it")
		if err := s.compactLocked(); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open event feed %s: %w", path, err)
	}
	s.f = f
	return s, nil
}

// compactLocked rewrites the file with the newest keep events.
func (s *Store) compactLocked() error {
	if len(s.events) > s.keep {
		s.events = append([]gateapi.Event(nil), s.events[len(s.events)-s.keep:]...)
	}
	var buf bytes.Buffer
	for _, e := range s.events {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(s.path, buf.Bytes(), 0o640); err != nil {
		return fmt.Errorf("rewrite event feed: %w", err)
	}
	s.lines = len(s.events)
	if s.f != nil {
		// The old descriptor points at the replaced file.
		s.f.Close()
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			s.f = nil
			return fmt.Errorf("reopen event feed: %w", err)
		}
		s.f = f
	}
	return nil
}

// Append numbers the events in order, stamps those without a time, writes
// them durably and wakes followers. It returns the events as stored.
func (s *Store) Append(evs ...gateapi.Event) ([]gateapi.Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.f == nil {
		return nil, fmt.Errorf("event feed %s is not open", s.path)
	}
	now := time.Now().UTC()
	var buf bytes.Buffer
	out := make([]gateapi.Event, len(evs))
	for i, e := range evs {
		e.Seq = s.next + uint64(i)
		if e.Time.IsZero() {
			e.Time = now
		}
		b, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		out[i] = e
	}
	if _, err := s.f.Write(buf.Bytes()); err != nil {
		return nil, fmt.Errorf("append to event feed: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return nil, fmt.Errorf("sync event feed: %w", err)
	}
	s.next += uint64(len(evs))
	s.events = append(s.events, out...)
	s.lines += len(out)
	if len(s.events) > s.keep {
		s.events = append([]gateapi.Event(nil), s.events[len(s.events)-s.keep:]...)
	}
	if s.lines > s.keep+s.keep/2 {
		if err := s.compactLocked(); err != nil {
			s.log.Warn().Err(err).Msg("compact event feed; it keeps growing until the next try")
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return out, nil
}

// Since returns the kept events with a sequence above since, oldest first,
// and a channel that is closed at the next append (or when the store
// closes), for a follower to wait on before asking again.
func (s *Store) Since(since uint64) ([]gateapi.Event, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.events), func(i int) bool { return s.events[i].Seq > since })
	out := append([]gateapi.Event(nil), s.events[i:]...)
	return out, s.changed
}

// Last returns the sequence of the newest event (0: none yet).
func (s *Store) Last() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next - 1
}

// Closed reports whether Close was called.
func (s *Store) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close ends every follower's wait and closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.changed)
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}
