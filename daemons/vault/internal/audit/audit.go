package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/vault/vaultapi"
)

// Entry is one audited request (the wire type).
type Entry = vaultapi.AuditEntry

// Counts sums a task's requests (the wire type).
type Counts = vaultapi.AuditCounts

func add(c *Counts, e Entry) {
	c.Requests++
	if e.Refused != "" {
		c.Refused++
	} else {
		c.Forwarded++
	}
	c.BytesIn += e.BytesIn
	c.BytesOut += e.BytesOut
	if c.ByStatus == nil {
		c.ByStatus, c.ByProvider = map[string]int64{}, map[string]int64{}
	}
	c.ByStatus[strconv.Itoa(e.Status)]++
	c.ByProvider[e.Provider]++
	t := e.Time
	if c.First == nil || t.Before(*c.First) {
		c.First = &t
	}
	if c.Last == nil || t.After(*c.Last) {
		c.Last = &t
	}
}

func clone(c Counts) Counts {
	out := c
	out.ByStatus, out.ByProvider = map[string]int64{}, map[string]int64{}
	for k, v := range c.ByStatus {
		out.ByStatus[k] = v
	}
	for k, v := range c.ByProvider {
		out.ByProvider[k] = v
	}
	return out
}

type key struct{ project, task string }

type taskState struct {
	counts Counts
	size   int64 // bytes of its file, written and queued
}

type line struct {
	k key
	b []byte
}

// Log is the audit of one vault.
type Log struct {
	dir      *os.Root
	maxBytes int64
	log      zerolog.Logger

	mu    sync.Mutex
	tasks map[key]*taskState

	queue chan line
	done  chan struct{}
}

// queueLen bounds the lines waiting for the writer.
const queueLen = 4096

// Open starts the audit log in the directory dir (opened before the vault
// dropped root; every file is reached through it); each task's file holds
// at most maxBytes. Close flushes it.
func Open(dir *os.Root, maxBytes int64, log zerolog.Logger) (*Log, error) {
	l := &Log{dir: dir, maxBytes: maxBytes, log: log, tasks: map[key]*taskState{},
		queue: make(chan line, queueLen), done: make(chan struct{})}
	go l.writer(l.queue)
	return l, nil
}

func (l *Log) file(k key) string { return filepath.Join(k.project, k.task+".jsonl") }

// state returns a task's state, reading its file once after a start.
// Called with l.mu held.
func (l *Log) state(k key) *taskState {
	if st, ok := l.tasks[k]; ok {
		return st
	}
	st := &taskState{}
	f, err := l.dir.Open(l.file(k))
	if err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e Entry
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				add(&st.counts, e)
			}
			st.size += int64(len(sc.Bytes())) + 1
		}
		f.Close()
	}
	l.tasks[k] = st
	return st
}

// Record counts e for (project, task) and queues its line.
func (l *Log) Record(project, task string, e Entry) {
	b, _ := json.Marshal(e)
	b = append(b, '\n')
	k := key{project, task}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.state(k)
	add(&st.counts, e)
	if st.size+int64(len(b)) > l.maxBytes {
		st.counts.Unrecorded++
		return
	}
	select {
	case l.queue <- line{k, b}:
		st.size += int64(len(b))
	default:
		st.counts.Unrecorded++
	}
}

func (l *Log) writer(queue <-chan line) {
	defer close(l.done)
	for ln := range queue {
		path := l.file(ln.k)
		if err := l.dir.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			l.log.Error().Err(err).Msg("audit: create project directory")
			continue
		}
		f, err := l.dir.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			l.log.Error().Err(err).Msg("audit: open task file")
			continue
		}
		if _, err := f.Write(ln.b); err != nil {
			l.log.Error().Err(err).Msg("audit: write")
		}
		f.Close()
	}
}

// Close writes what is queued and stops the writer.
func (l *Log) Close() {
	l.mu.Lock()
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	if q != nil {
		close(q)
		<-l.done
	}
}

// Report is a task's counts and its latest entries.
type Report struct {
	Counts  Counts  `json:"counts"`
	Entries []Entry `json:"entries"`
}

// Read returns the counts of (project, task) and its last limit entries
// (oldest first; limit 0: none).
func (l *Log) Read(project, task string, limit int) (Report, error) {
	k := key{project, task}
	l.mu.Lock()
	r := Report{Counts: clone(l.state(k).counts), Entries: []Entry{}}
	l.mu.Unlock()
	if limit <= 0 {
		return r, nil
	}
	b, err := tail(l.dir, l.file(k), limit)
	if err != nil {
		return r, err
	}
	for _, ln := range bytes.Split(b, []byte("\n")) {
		var e Entry
		if len(ln) > 0 && json.Unmarshal(ln, &e) == nil {
			r.Entries = append(r.Entries, e)
		}
	}
	if len(r.Entries) > limit {
		r.Entries = r.Entries[len(r.Entries)-limit:]
	}
	return r, nil
}

// tail reads about the last n lines of a file (a missing file has none).
func tail(dir *os.Root, name string, n int) ([]byte, error) {
	f, err := dir.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	want := int64(n) * 512 // a line is ~200 bytes; read generously
	off := max(fi.Size()-want, 0)
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:] // drop the partial first line
		}
	}
	return b, nil
}

// Prune removes the files of tasks not written since cutoff and returns
// how many.
func (l *Log) Prune(cutoff time.Time) (int, error) {
	projects, err := readDir(l.dir, ".")
	if err != nil {
		return 0, err
	}
	n := 0
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range projects {
		if !p.IsDir() {
			continue
		}
		files, _ := readDir(l.dir, p.Name())
		for _, f := range files {
			fi, err := f.Info()
			if err != nil || fi.ModTime().After(cutoff) {
				continue
			}
			if l.dir.Remove(filepath.Join(p.Name(), f.Name())) == nil {
				n++
				task := f.Name()[:len(f.Name())-len(filepath.Ext(f.Name()))]
				delete(l.tasks, key{p.Name(), task})
			}
		}
		l.dir.Remove(p.Name()) // only when empty
	}
	return n, nil
}

func readDir(dir *os.Root, name string) ([]os.DirEntry, error) {
	d, err := dir.Open(name)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}
