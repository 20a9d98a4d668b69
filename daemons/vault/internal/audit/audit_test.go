package audit

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func open(t *testing.T, dir string, maxBytes int64) *Log {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	l, err := Open(r, maxBytes, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRecordReadRestart(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 1<<20)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.Record("demo", "t1", Entry{Time: t0, Provider: "anthropic", Method: "POST", Path: "/v1/messages", Status: 200, BytesIn: 10, BytesOut: 100})
	l.Record("demo", "t1", Entry{Time: t0.Add(time.Second), Provider: "anthropic", Method: "POST", Path: "/v1/x", Status: 403, Refused: "route"})
	l.Record("demo", "t2", Entry{Time: t0, Provider: "openai", Method: "GET", Path: "/v1/models", Status: 200})
	l.Close()

	l2 := open(t, dir, 1<<20)
	defer l2.Close()
	r, err := l2.Read("demo", "t1", 10)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Counts
	if c.Requests != 2 || c.Forwarded != 1 || c.Refused != 1 || c.BytesIn != 10 || c.BytesOut != 100 ||
		c.ByStatus["403"] != 1 || c.ByProvider["anthropic"] != 2 || !c.First.Equal(t0) {
		t.Errorf("counts after restart: %+v", c)
	}
	if len(r.Entries) != 2 || r.Entries[1].Refused != "route" || r.Entries[0].Path != "/v1/messages" {
		t.Errorf("entries %+v", r.Entries)
	}
	if r, _ := l2.Read("demo", "t1", 1); len(r.Entries) != 1 || r.Entries[0].Status != 403 {
		t.Errorf("limit 1: %+v", r.Entries)
	}
	if r, _ := l2.Read("demo", "none", 5); r.Counts.Requests != 0 || len(r.Entries) != 0 {
		t.Errorf("unknown task: %+v", r)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "demo", "t1.jsonl")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

func TestBoundedFile(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 300)
	for i := range 10 {
		l.Record("p", "t", Entry{Time: time.Unix(int64(i), 0), Provider: "x", Method: "GET", Path: "/a", Status: 200})
	}
	l.Close()
	fi, _ := os.Stat(filepath.Join(dir, "p", "t.jsonl"))
	if fi.Size() > 300 {
		t.Errorf("file grew to %d bytes", fi.Size())
	}
	l2 := open(t, dir, 300)
	defer l2.Close()
	l2.Record("p", "t", Entry{Time: time.Unix(99, 0), Provider: "x", Method: "GET", Path: "/a", Status: 200})
	r, _ := l2.Read("p", "t", 0)
	if r.Counts.Unrecorded != 1 || r.Counts.Requests < 2 {
		t.Errorf("counts %+v", r.Counts)
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir, 1<<20)
	l.Record("p", "old", Entry{Time: time.Now(), Provider: "x", Status: 200})
	l.Record("p", "new", Entry{Time: time.Now(), Provider: "x", Status: 200})
	l.Close()
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(dir, "p", "old.jsonl"), old, old)
	l2 := open(t, dir, 1<<20)
	defer l2.Close()
	if n, err := l2.Prune(time.Now().Add(-24 * time.Hour)); n != 1 || err != nil {
		t.Errorf("pruned %d %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p", "new.jsonl")); err != nil {
		t.Error("the recent file went too")
	}
}
