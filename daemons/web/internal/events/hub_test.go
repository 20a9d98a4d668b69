package events

import (
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

func TestLogsOnlyToWatchers(t *testing.T) {
	h := New()
	a, b := h.Subscribe(4), h.Subscribe(4)
	a.WatchLogs("abc234")
	h.Publish(webapi.Event{Type: webapi.EventLog, TaskID: "abc234", Line: "x"})
	h.Publish(webapi.Event{Type: webapi.EventTask, TaskID: "abc234"})
	if got := len(a.C); got != 2 {
		t.Fatalf("watcher got %d events, want 2", got)
	}
	if got := len(b.C); got != 1 {
		t.Fatalf("non-watcher got %d events, want 1 (no log line)", got)
	}
	c := h.Subscribe(4)
	c.WatchLogs("*")
	h.Publish(webapi.Event{Type: webapi.EventLog, TaskID: "zzz234", Line: "y"})
	if got := len(c.C); got != 1 {
		t.Fatalf("a * watcher got %d events, want the line", got)
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	h := New()
	s := h.Subscribe(1)
	h.Publish(webapi.Event{Type: webapi.EventTask})
	h.Publish(webapi.Event{Type: webapi.EventTask})
	<-s.C
	if _, ok := <-s.C; ok {
		t.Fatal("the slow subscriber's channel is still open")
	}
	if !s.Lagged {
		t.Fatal("Lagged not set")
	}
	h.Publish(webapi.Event{Type: webapi.EventTask}) // no panic on a closed sub
}

func TestAckComesFirst(t *testing.T) {
	h := New()
	s := h.Subscribe(4)
	if !s.WatchLogsAck(webapi.Event{Type: webapi.EventSubscribed}, "abc234") {
		t.Fatal("ack not queued")
	}
	h.Publish(webapi.Event{Type: webapi.EventLog, TaskID: "abc234", Line: "x"})
	if e := <-s.C; e.Type != webapi.EventSubscribed {
		t.Fatalf("first event %q, want the ack", e.Type)
	}
	if e := <-s.C; e.Line != "x" {
		t.Fatalf("then %+v", e)
	}
}
