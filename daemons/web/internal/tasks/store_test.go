package tasks

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/kit/unixhttp"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func TestStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(Record{Project: "p", State: webapi.StateCreated, Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidID(a.ID); err != nil {
		t.Fatalf("new id %q: %v", a.ID, err)
	}
	if _, err := s.Update(a.ID, func(x *Record) { x.State = webapi.StateRunning }); err != nil {
		t.Fatal(err)
	}
	s.Append(a.ID, Entry{Kind: webapi.EntryState, State: "created"})
	s.Append(a.ID, Entry{Kind: webapi.EntryState, State: "running"})

	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get(a.ID)
	if err != nil || got.State != webapi.StateRunning || got.Project != "p" {
		t.Fatalf("reopened: %+v %v", got, err)
	}
	e, _ := s2.Append(a.ID, Entry{Kind: webapi.EntryNote})
	if e.Seq != 3 {
		t.Fatalf("seq after reopen = %d, want 3", e.Seq)
	}
	es, _ := s2.Timeline(a.ID)
	if len(es) != 3 || es[0].State != "created" || es[2].Seq != 3 {
		t.Fatalf("timeline: %+v", es)
	}
	if err := s2.Remove(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get(a.ID); !errors.Is(err, unixhttp.ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
}

func TestConcurrentCreatesGetDistinctIDs(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x, err := s.Create(Record{Project: "p"})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[x.ID] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != 50 || len(s.List("p")) != 50 || len(s.List("other")) != 0 {
		t.Fatalf("%d distinct ids, %d listed", len(ids), len(s.List("p")))
	}
}

func TestBadIDs(t *testing.T) {
	s, _ := Open(t.TempDir())
	for _, id := range []string{"", "ABCDEF", "abc", "../etc", "abcdefg", "abcde1"} {
		if _, err := s.Get(id); !errors.Is(err, unixhttp.ErrBadRequest) {
			t.Errorf("id %q: %v, want ErrInvalidID", id, err)
		}
	}
}
