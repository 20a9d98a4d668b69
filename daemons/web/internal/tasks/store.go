package tasks

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/atomicfile"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
)

// idAlphabet has no look-alike characters (no 0/o, 1/l/i).
const idAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// IDLen is the length of a task id.
const IDLen = 6

var idRE = regexp.MustCompile(`^[a-z2-9]{6}$`)

// ValidID checks the form of a task id.
func ValidID(id string) error {
	if !idRE.MatchString(id) {
		return fail.BadRequest("task id %q: a task id is 6 characters of a-z and 2-9 (terok task list shows them)", id)
	}
	return nil
}

type rec struct {
	mu  sync.Mutex // guards the timeline file and seq
	t   Record
	seq int
}

// Store holds every task record in memory and on disk.
type Store struct {
	dir  string
	mu   sync.Mutex
	recs map[string]*rec
}

// Open loads the records under stateDir/tasks.
func Open(stateDir string) (*Store, error) {
	s := &Store{dir: filepath.Join(stateDir, "tasks"), recs: map[string]*rec{}}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", s.dir, err)
	}
	projs, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.dir, err)
	}
	for _, p := range projs {
		ids, _ := os.ReadDir(filepath.Join(s.dir, p.Name()))
		for _, e := range ids {
			f := filepath.Join(s.dir, p.Name(), e.Name(), "task.json")
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			var t Record
			if err := json.Unmarshal(b, &t); err != nil || t.ID != e.Name() {
				continue
			}
			r := &rec{t: t}
			r.seq = countLines(filepath.Join(s.dir, p.Name(), e.Name(), "timeline.jsonl"))
			s.recs[t.ID] = r
		}
	}
	return s, nil
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		n++
	}
	return n
}

// Dir returns a task's directory.
func (s *Store) Dir(t Record) string { return filepath.Join(s.dir, t.Project, t.ID) }

// LogPath returns the path of a task's log file.
func (s *Store) LogPath(t Record) string { return filepath.Join(s.Dir(t), "log") }

// Create assigns a fresh id to t, writes its record and returns it.
func (s *Store) Create(t Record) (Record, error) {
	s.mu.Lock()
	for range 100 {
		t.ID = newID()
		if _, ok := s.recs[t.ID]; !ok {
			break
		}
	}
	if _, ok := s.recs[t.ID]; ok {
		s.mu.Unlock()
		return t, errors.New("could not find a free task id")
	}
	r := &rec{t: t}
	s.recs[t.ID] = r
	s.mu.Unlock()
	if err := os.MkdirAll(s.Dir(t), 0o700); err != nil {
		s.drop(t.ID)
		return t, fmt.Errorf("create %s: %w", s.Dir(t), err)
	}
	if err := s.write(t); err != nil {
		s.drop(t.ID)
		return t, err
	}
	return t, nil
}

func (s *Store) drop(id string) {
	s.mu.Lock()
	delete(s.recs, id)
	s.mu.Unlock()
}

func newID() string {
	b := make([]byte, IDLen)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

func (s *Store) write(t Record) error {
	return atomicfile.WriteJSON(filepath.Join(s.Dir(t), "task.json"), t, 0o600)
}

// Get returns a task by id.
func (s *Store) Get(id string) (Record, error) {
	if err := ValidID(id); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok {
		return Record{}, fail.NotFound("no such task: %s (terok task list shows the tasks)", id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t, nil
}

// Update applies fn to a task's record and writes it; fn's changes are
// dropped when the write fails.
func (s *Store) Update(id string, fn func(*Record)) (Record, error) {
	s.mu.Lock()
	r, ok := s.recs[id]
	s.mu.Unlock()
	if !ok {
		return Record{}, fail.NotFound("no such task: %s (terok task list shows the tasks)", id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.t
	fn(&t)
	if err := s.write(t); err != nil {
		return r.t, err
	}
	r.t = t
	return t, nil
}

// List returns the tasks of project (all when empty), oldest first.
func (s *Store) List(project string) []Record {
	s.mu.Lock()
	out := make([]Record, 0, len(s.recs))
	for _, r := range s.recs {
		r.mu.Lock()
		if project == "" || r.t.Project == project {
			out = append(out, r.t)
		}
		r.mu.Unlock()
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Remove deletes a task's record and files.
func (s *Store) Remove(id string) error {
	t, err := s.Get(id)
	if err != nil {
		return err
	}
	s.drop(id)
	if err := os.RemoveAll(s.Dir(t)); err != nil {
		return fmt.Errorf("remove %s: %w", s.Dir(t), err)
	}
	return nil
}

// Append adds an entry to a task's timeline, setting its Seq and Time.
func (s *Store) Append(id string, e Entry) (Entry, error) {
	s.mu.Lock()
	r, ok := s.recs[id]
	s.mu.Unlock()
	if !ok {
		return e, fail.NotFound("no such task: %s (terok task list shows the tasks)", id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e.Seq = r.seq
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	f, err := os.OpenFile(filepath.Join(s.Dir(r.t), "timeline.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return e, fmt.Errorf("open timeline of %s: %w", id, err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return e, fmt.Errorf("append to timeline of %s: %w", id, err)
	}
	return e, nil
}

// Timeline reads a task's timeline in order.
func (s *Store) Timeline(id string) ([]Entry, error) {
	t, err := s.Get(id)
	if err != nil {
		return nil, err
	}
	out := []Entry{}
	f, err := os.Open(filepath.Join(s.Dir(t), "timeline.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}
