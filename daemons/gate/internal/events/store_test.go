package events

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
)

func open(t *testing.T, path string, keep int) *Store {
	t.Helper()
	s, err := Open(path, keep, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func seqs(evs []gateapi.Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func TestBoundedAndDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := open(t, path, 4)
	for i := 0; i < 10; i++ {
		got, err := s.Append(gateapi.Event{Kind: gateapi.EventPush, Repo: "p", Ref: "refs/heads/x"})
		if err != nil || len(got) != 1 || got[0].Seq != uint64(i+1) || got[0].Time.IsZero() {
			t.Fatalf("append %d: %+v %v", i, got, err)
		}
	}
	evs, _ := s.Since(0)
	if got := seqs(evs); len(got) != 4 || got[0] != 7 || got[3] != 10 {
		t.Fatalf("kept %v, want 7..10", got)
	}
	// The file is compacted once it holds half again as many lines.
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "\n"); n > 6 {
		t.Fatalf("file holds %d lines, bound is 6", n)
	}
	s.Close()
	if _, err := s.Append(gateapi.Event{Kind: gateapi.EventPush}); err != ErrClosed {
		t.Fatalf("append after close: %v", err)
	}

	// Reopened: the same events, and the sequence goes on.
	s = open(t, path, 4)
	evs, _ = s.Since(8)
	if got := seqs(evs); len(got) != 2 || got[0] != 9 || got[1] != 10 {
		t.Fatalf("since 8 after reopen: %v", got)
	}
	got, err := s.Append(gateapi.Event{Kind: gateapi.EventPush})
	if err != nil || got[0].Seq != 11 {
		t.Fatalf("seq after reopen: %+v %v", got, err)
	}
	s.Close()

	// A write cut off by a crash leaves a torn last line: it is dropped,
	// the rest kept, and the next seq follows the last whole event.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":12,"kind":"pu`)
	f.Close()
	s = open(t, path, 4)
	if s.Last() != 11 {
		t.Fatalf("last after a torn line: %d", s.Last())
	}
	got, err = s.Append(gateapi.Event{Kind: gateapi.EventPush})
	if err != nil || got[0].Seq != 12 {
		t.Fatalf("append after a torn line: %+v %v", got, err)
	}
	s.Close()
	b, _ = os.ReadFile(path)
	if strings.Contains(string(b), `"pu`+"\n") || strings.Count(string(b), `"seq":12`) != 1 {
		t.Fatalf("torn line kept in the file:\n%s", b)
	}
}

func TestSinceWakesFollowers(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "e.jsonl"), 0)
	evs, changed := s.Since(0)
	if len(evs) != 0 {
		t.Fatalf("new store has %v", evs)
	}
	select {
	case <-changed:
		t.Fatal("woken before any append")
	default:
	}
	if _, err := s.Append(gateapi.Event{Kind: gateapi.EventPush}, gateapi.Event{Kind: gateapi.EventPush}); err != nil {
		t.Fatal(err)
	}
	<-changed // closed by the append; a test timeout catches a miss
	evs, changed = s.Since(0)
	if got := seqs(evs); len(got) != 2 || got[1] != 2 {
		t.Fatalf("after append: %v", got)
	}
	s.Close()
	<-changed
	if !s.Closed() {
		t.Fatal("not closed")
	}
}
