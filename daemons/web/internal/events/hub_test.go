package events

import (
	"runtime"
	"sync"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

var ack = webapi.Event{Type: webapi.EventSubscribed}

func TestLogsOnlyToWatchers(t *testing.T) {
	h := New()
	a, b := h.Subscribe(4), h.Subscribe(4)
	a.WatchLogs(ack, "abc234")
	<-a.C
	h.Publish(webapi.Event{Type: webapi.EventLog, TaskID: "abc234", Line: "x"})
	h.Publish(webapi.Event{Type: webapi.EventTask, TaskID: "abc234"})
	if got := len(a.C); got != 2 {
		t.Fatalf("watcher got %d events, want 2", got)
	}
	if got := len(b.C); got != 1 {
		t.Fatalf("non-watcher got %d events, want 1 (no log line)", got)
	}
	c := h.Subscribe(4)
	c.WatchLogs(ack, "*")
	<-c.C
	h.Publish(webapi.Event{Type: webapi.EventLog, TaskID: "zzz234", Line: "y"})
	if got := len(c.C); got != 1 {
		t.Fatalf("a * watcher got %d events, want the line", got)
	}
}

// TestSlowSubscriberDropped: a full buffer closes the subscriber's
// channel after the events it holds; publishing goes on, and a watch on
// the dropped subscription says it is of no use.
func TestSlowSubscriberDropped(t *testing.T) {
	h := New()
	s := h.Subscribe(1)
	h.Publish(webapi.Event{Type: webapi.EventTask})
	h.Publish(webapi.Event{Type: webapi.EventTask})
	<-s.C
	if _, ok := <-s.C; ok {
		t.Fatal("the slow subscriber's channel is still open")
	}
	h.Publish(webapi.Event{Type: webapi.EventTask}) // no panic on a closed sub
	if s.WatchLogs(ack, "abc234") {
		t.Fatal("a dropped subscription took a watch")
	}
}

// TestAckComesFirst: a publisher floods the task's lines from another
// goroutine while the subscriber asks for them; whatever the
// interleaving, no line of the task comes before the acknowledgement
// (a watch that set the filter and queued the ack in two steps would
// let one in between). Many rounds, each a fresh race.
func TestAckComesFirst(t *testing.T) {
	for round := range 3000 {
		h := New()
		s := h.Subscribe(4096)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				h.Publish(webapi.Event{Type: webapi.EventLog, TaskID: "abc234", Line: "x"})
				runtime.Gosched()
			}
		})
		runtime.Gosched()
		if !s.WatchLogs(ack, "abc234") {
			t.Fatal("ack not queued")
		}
		close(stop)
		wg.Wait()
		if e := <-s.C; e.Type != webapi.EventSubscribed {
			t.Fatalf("round %d: the first event is %q, before the acknowledgement", round, e.Type)
		}
		for len(s.C) > 0 {
			if e := <-s.C; e.Type != webapi.EventLog {
				t.Fatalf("round %d: then %+v", round, e)
			}
		}
	}
}

// TestPublishAndUnsubscribeRace: publishers, a watcher and an
// unsubscribe at once (-race sees any unguarded field).
func TestPublishAndUnsubscribeRace(t *testing.T) {
	h := New()
	s := h.Subscribe(1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				h.Publish(webapi.Event{Type: webapi.EventLog, TaskID: "abc234"})
			}
		})
	}
	wg.Go(func() { s.WatchLogs(ack, "abc234") })
	wg.Go(func() { h.Unsubscribe(s) })
	wg.Wait()
	for range s.C {
	}
}
