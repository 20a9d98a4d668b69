package server_test

import (
	"bufio"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/gate/gateapi"
	"github.com/terok-ai/terok-in-docker/daemons/gate/internal/server"
)

// follower collects a following Events stream in the background.
type follower struct {
	ch   chan gateapi.Event
	done chan error
}

func follow(t *testing.T, g *gate, since uint64) *follower {
	t.Helper()
	f := &follower{ch: make(chan gateapi.Event, 100), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		f.done <- g.api.Events(ctx, since, true, func(e gateapi.Event) error { f.ch <- e; return nil })
	}()
	return f
}

// next waits (bounded) for the follower's next event.
func (f *follower) next(t *testing.T) gateapi.Event {
	t.Helper()
	select {
	case e := <-f.ch:
		return e
	case err := <-f.done:
		t.Fatalf("event stream ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return gateapi.Event{}
}

// want checks the fields of an event that do not drift (not its time).
func want(t *testing.T, got gateapi.Event, seq uint64, task, ref, old, new string, commits int) {
	t.Helper()
	if got.Seq != seq || got.Kind != gateapi.EventPush || got.Repo != "proj" || got.Task != task ||
		got.Ref != ref || got.Old != old || got.New != new || got.Commits != commits || got.Time.IsZero() {
		t.Fatalf("event\n got  %+v\n want seq=%d task=%q ref=%s old=%q new=%q commits=%d", got, seq, task, ref, old, new, commits)
	}
}

func allEvents(t *testing.T, g *gate, since uint64) []gateapi.Event {
	t.Helper()
	var out []gateapi.Event
	if err := g.api.Events(g.ctx(), since, false, func(e gateapi.Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPushEvents(t *testing.T) {
	gr := newGit(t)
	root := tempDir(t)
	g := startGate(t, root)
	f := follow(t, g, 0)

	// The admin seeds main: three commits on a new branch, no task.
	seedDir := seed(t, g, gr, "proj")
	main1 := gr.run(seedDir, "rev-parse", "HEAD")
	want(t, f.next(t), 1, "", "refs/heads/main", "", main1, 3)

	// A task branches off main and pushes two commits: only its own count.
	tok := g.mint("proj", "t1")
	clone := filepath.Join(tempDir(t), "c")
	gr.run("", "clone", "-q", g.url(tok, "proj"), clone)
	gr.run(clone, "checkout", "-q", "-b", "task/x")
	gr.commit(clone, "x1", "1\n", "x one")
	x2 := gr.commit(clone, "x2", "2\n", "x two")
	gr.run(clone, "push", "-q", "origin", "task/x")
	want(t, f.next(t), 2, "t1", "refs/heads/task/x", "", x2, 2)

	// One more commit: old..new.
	x3 := gr.commit(clone, "x3", "3\n", "x three")
	gr.run(clone, "push", "-q", "origin", "task/x")
	want(t, f.next(t), 3, "t1", "refs/heads/task/x", x2, x3, 1)

	// A refused push (a move of main by a task) records nothing: the next
	// event is the next accepted push.
	out, err := gr.try(clone, "push", "-f", "origin", "main~1:refs/heads/main")
	if err == nil || !strings.Contains(out, "it is the default branch") {
		t.Fatalf("a move of main by a task must be refused:\n%s", out)
	}
	// A rewritten branch counts what is new against its old head.
	gr.run(clone, "commit", "-q", "--amend", "-m", "x three, reworded")
	x3b := gr.run(clone, "rev-parse", "HEAD")
	gr.run(clone, "push", "-q", "-f", "origin", "task/x")
	want(t, f.next(t), 4, "t1", "refs/heads/task/x", x3, x3b, 1)

	// Two refs in one push: a new branch on top of task/x and a new
	// branch at main. The first counts only its commit; the second none
	// (main was already there).
	gr.run(clone, "checkout", "-q", "-b", "task/y")
	y1 := gr.commit(clone, "y1", "y\n", "y one")
	gr.run(clone, "push", "-q", "origin", "task/y", main1+":refs/heads/task/at-main")
	got := []gateapi.Event{f.next(t), f.next(t)}
	if got[0].Ref != "refs/heads/task/y" {
		got[0], got[1] = got[1], got[0]
	}
	want(t, got[0], got[0].Seq, "t1", "refs/heads/task/y", "", y1, 1)
	want(t, got[1], got[1].Seq, "t1", "refs/heads/task/at-main", "", main1, 0)
	if got[0].Seq+got[1].Seq != 5+6 {
		t.Fatalf("seqs of one push: %d %d", got[0].Seq, got[1].Seq)
	}

	// A deletion counts nothing.
	gr.run(clone, "push", "-q", "origin", ":task/y")
	want(t, f.next(t), 7, "t1", "refs/heads/task/y", y1, "", 0)

	// Catching up: everything after a seq, and nothing after the last.
	all := allEvents(t, g, 0)
	if len(all) != 7 {
		t.Fatalf("feed holds %d events, want 7: %+v", len(all), all)
	}
	if later := allEvents(t, g, 5); len(later) != 2 || !reflect.DeepEqual(later, all[5:]) {
		t.Fatalf("since 5: %+v", later)
	}
	if none := allEvents(t, g, 7); len(none) != 0 {
		t.Fatalf("since 7: %+v", none)
	}

	// Stopping the gate ends the follower's stream.
	g.stop()
	select {
	case err := <-f.done:
		if err != nil {
			t.Fatalf("follower ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("follower still open 30s after the gate stopped")
	}

	// After a restart the feed is still there and the sequence goes on.
	g = startGate(t, root)
	if again := allEvents(t, g, 0); !reflect.DeepEqual(again, all) {
		t.Fatalf("feed after restart differs:\n%+v\n%+v", again, all)
	}
	f = follow(t, g, 7)
	gr.run(clone, "remote", "set-url", "origin", g.url(tok, "proj")) // a new port
	gr.run(clone, "checkout", "-q", "task/x")
	x4 := gr.commit(clone, "x4", "4\n", "x four")
	gr.run(clone, "push", "-q", "origin", "task/x")
	want(t, f.next(t), 8, "t1", "refs/heads/task/x", x3b, x4, 1)

	// A revoked token pushes nothing into the feed.
	if _, err := g.api.RevokeTask(g.ctx(), "proj", "t1"); err != nil {
		t.Fatal(err)
	}
	gr.commit(clone, "x5", "5\n", "x five")
	if _, err := gr.try(clone, "push", "origin", "task/x"); err == nil {
		t.Fatal("push with a revoked token succeeded")
	}
	if n := len(allEvents(t, g, 0)); n != 8 {
		t.Fatalf("feed holds %d events after a refused push, want 8", n)
	}
}

func TestEventsBadInput(t *testing.T) {
	g := startGate(t, tempDir(t))
	err := g.api.Unix().Get(g.ctx(), "/v1/events?since=-1", nil)
	if err == nil || !strings.Contains(err.Error(), `since "-1" is not a sequence number`) {
		t.Fatalf("since=-1: %v", err)
	}
	err = g.api.Unix().Get(g.ctx(), "/v1/events?follow=maybe", nil)
	if err == nil || !strings.Contains(err.Error(), `follow "maybe" is not a boolean`) {
		t.Fatalf("follow=maybe: %v", err)
	}
	// fn's error ends the stream and comes back as is.
	g.createRepo("proj")
	stop := errors.New("enough")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- g.api.Events(ctx, 0, true, func(gateapi.Event) error { return stop })
	}()
	gr := newGit(t)
	w := filepath.Join(tempDir(t), "w")
	gr.run("", "init", "-q", "-b", "main", w)
	gr.commit(w, "a", "a\n", "a")
	gr.run(w, "push", "-q", g.url(g.admin, "proj"), "main")
	select {
	case err := <-errc:
		if !errors.Is(err, stop) {
			t.Fatalf("Events returned %v, want fn's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Events did not return fn's error")
	}
	// A cancelled context ends a follow with its error.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { errc <- g.api.Events(ctx2, 1, true, func(gateapi.Event) error { return nil }) }()
	cancel2()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled follow returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("cancelled follow did not return")
	}
}

// TestEventsHeartbeat: an idle follow stream carries empty lines, which
// the client skips, and the next event still arrives after them.
func TestEventsHeartbeat(t *testing.T) {
	t.Cleanup(server.SetHeartbeat(20 * time.Millisecond)) // restored after the gate stops
	g := startGate(t, tempDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body, err := g.api.Unix().Stream(ctx, "GET", "/v1/events?follow=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	r := bufio.NewReader(body)
	for i := 0; i < 2; i++ { // two heartbeats; the context bounds the wait
		if line, err := r.ReadString('\n'); err != nil || line != "\n" {
			t.Fatalf("heartbeat %d: %q %v", i, line, err)
		}
	}
	f := follow(t, g, 0)
	gr := newGit(t)
	seed(t, g, gr, "proj")
	if e := f.next(t); e.Seq != 1 || e.Ref != "refs/heads/main" {
		t.Fatalf("event after heartbeats: %+v", e)
	}
}
