package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webproxy"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// Stop asks a task's container to stop; the monitor records "stopped".
func (r *Runner) Stop(ctx context.Context, id string) (webapi.Task, error) {
	if _, err := r.store.Get(id); err != nil {
		return webapi.Task{}, err
	}
	// Not while the task is being started or removed.
	tl := r.taskLock(id)
	tl.Lock()
	t, err := r.store.Get(id)
	tl.Unlock()
	if err != nil {
		return t, err
	}
	if webapi.Ended(t.State) {
		return t, nil
	}
	r.mu.Lock()
	a := r.active[id]
	if a != nil {
		a.stop = true
	}
	r.mu.Unlock()
	if t.Container == "" || a == nil {
		// Never got a container or nobody follows it: record it here.
		now := time.Now().UTC()
		if t.Container != "" {
			_ = r.podman.StopContainer(ctx, t.Container, r.cfg.StopTimeout)
		}
		t = r.setState(t, webapi.StateStopped, func(x *webapi.Task) { x.Ended = &now })
		r.revoke(t)
		r.releasePort(t)
		return t, nil
	}
	if err := r.podman.StopContainer(ctx, t.Container, r.cfg.StopTimeout); err != nil && !errors.Is(err, podmanapi.ErrNotFound) {
		return t, daemonErr("podman", "stop the task container", err)
	}
	return r.WaitEnded(ctx, id)
}

// WaitEnded blocks until the task has ended (or ctx ends) and returns it.
func (r *Runner) WaitEnded(ctx context.Context, id string) (webapi.Task, error) {
	sub := r.hub.Subscribe(64)
	defer func() { r.hub.Unsubscribe(sub) }() // the last subscription
	for {
		t, err := r.store.Get(id)
		if err != nil || webapi.Ended(t.State) {
			return t, err
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case _, ok := <-sub.C:
			if !ok { // lagged: resubscribe
				sub = r.hub.Subscribe(64)
			}
		case <-time.After(2 * time.Second):
		}
	}
}

// Remove deletes a task: its container, workspace volume, token and files.
// A task that has not ended needs force.
func (r *Runner) Remove(ctx context.Context, id string, force bool) error {
	tl := r.taskLock(id)
	tl.Lock()
	defer tl.Unlock()
	t, err := r.store.Get(id)
	if err != nil {
		return err
	}
	if !webapi.Ended(t.State) {
		if !force {
			return fmt.Errorf("%w: task %s is %s: stop it first (terok task stop %s) or remove it with --force", ErrConflict, id, t.State, id)
		}
		r.mu.Lock()
		if a := r.active[id]; a != nil {
			a.stop = true
		}
		r.mu.Unlock()
	}
	if t.Container != "" {
		if err := r.podman.RemoveContainer(ctx, t.Container, podmanapi.RemoveOptions{Force: true}); err != nil && !errors.Is(err, podmanapi.ErrNotFound) {
			return daemonErr("podman", "remove the task container", err)
		}
	}
	r.mu.Lock()
	a := r.active[id]
	r.mu.Unlock()
	if a != nil {
		select {
		case <-a.done:
		case <-time.After(30 * time.Second):
			a.cancel()
			<-a.done
		}
	}
	if err := r.podman.RemoveVolume(ctx, t.Volume, true); err != nil && !errors.Is(err, podmanapi.ErrNotFound) {
		return daemonErr("podman", "remove the workspace volume "+t.Volume, err)
	}
	if _, err := r.gate.RevokeTask(ctx, t.Project, t.ID); err != nil {
		return daemonErr("terok-gate", "revoke the task token", err)
	}
	r.releasePort(t)
	if err := r.store.Remove(id); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.taskMu, id)
	r.mu.Unlock()
	r.hub.Publish(webapi.Event{Type: webapi.EventTask, TaskID: id, Task: &webapi.Task{ID: id, Project: t.Project, State: "removed"}})
	return nil
}

// Reconcile matches the records to Podman's containers at start: a task
// whose container ended is recorded with its exit, one whose container
// vanished is marked failed, running ones are followed again, tokens of
// ended tasks are revoked, and terok containers without a
// record are reported (never deleted).
func (r *Runner) Reconcile(ctx context.Context) error {
	list, err := r.podman.ListContainers(ctx, podmanapi.ListOptions{All: true, Labels: []string{LabelTask}})
	if err != nil {
		return daemonErr("podman", "list task containers", err)
	}
	if r.cfg.Ports != nil {
		// Ports of web tasks whose containers still exist stay theirs.
		live := map[string]int{}
		for id, port := range webproxy.PortsFromContainers(list, LabelTask) {
			if t, err := r.store.Get(id); err == nil && !webapi.Ended(t.State) {
				live[id] = port
			}
		}
		if err := r.cfg.Ports.Restore(live); err != nil {
			r.log.Warn().Err(err).Msg("restore web task ports")
		}
	}
	byID := map[string]podmanapi.ContainerSummary{}
	for _, c := range list {
		byID[c.ID] = c
	}
	known := map[string]bool{}
	for _, t := range r.store.List("") {
		known[t.ID] = true
		if webapi.Ended(t.State) {
			continue
		}
		c, ok := byID[t.Container]
		switch {
		case t.Container == "" && t.Waiting != "":
			r.note(t, webapi.Entry{Kind: webapi.EntryNote, Detail: "reconcile: terok-web stopped while the task waited for its image"})
			t = r.fail(t, "terok-web stopped while the task waited for its image: terok task restart "+t.ID+" runs it")
			r.revoke(t)
		case t.Container == "" || !ok:
			r.note(t, webapi.Entry{Kind: webapi.EntryNote, Detail: "reconcile: no container found at terok-web start"})
			t = r.fail(t, "the task's container was gone when terok-web started again: terok task followup "+t.ID+" runs again in the same workspace")
			r.revoke(t)
		case c.State == "created" || c.State == "configured" || c.State == "initialized":
			// terok-web went away between create and start.
			_ = r.podman.RemoveContainer(ctx, c.ID, podmanapi.RemoveOptions{Force: true})
			t = r.fail(t, "terok-web stopped while it started the task: terok task restart "+t.ID+" runs it again")
			r.revoke(t)
		case c.State == "running" || c.State == "paused":
			r.note(t, webapi.Entry{Kind: webapi.EntryNote, Detail: "reconcile: still running, followed again"})
			if t.State != webapi.StateRunning {
				t = r.setState(t, webapi.StateRunning, nil)
			}
			r.monitor(t, true)
		default:
			// Ended while terok-web was away: take the output it left
			// and record the end (the exit code Podman reports, stopped
			// when the tree's shutdown stopped it).
			r.note(t, webapi.Entry{Kind: webapi.EntryNote, Detail: "reconcile: ended while terok-web was down"})
			r.monitor(t, true)
		}
	}
	var orphans []string
	for _, c := range list {
		if id := c.Labels[LabelTask]; !known[id] {
			name := c.ID
			if len(c.Names) > 0 {
				name = c.Names[0]
			}
			orphans = append(orphans, name)
			r.log.Warn().Str("container", name).Str("task", id).Msg("terok task container without a record: left alone (podman rm it if unwanted)")
		}
	}
	r.mu.Lock()
	r.orphans = orphans
	r.mu.Unlock()
	r.pruneTreeStops()
	// No token may outlive its task.
	toks, err := r.gate.Tokens(ctx, "")
	if err != nil {
		return daemonErr("terok-gate", "list task tokens", err)
	}
	for _, tok := range toks {
		if tok.Task == "" {
			continue
		}
		// Tokens of tasks terok-web does not know were minted by someone
		// else (terok-gate token mint): not ours to revoke.
		t, err := r.store.Get(tok.Task)
		if err != nil || t.Project != tok.Project || !webapi.Ended(t.State) {
			continue
		}
		if _, err := r.gate.RevokeTask(ctx, tok.Project, tok.Task); err != nil {
			return daemonErr("terok-gate", "revoke a stale task token", err)
		}
		r.log.Info().Str("task", tok.Task).Str("project", tok.Project).Msg("revoked the token of an ended task")
	}
	r.once.Do(func() { close(r.ready) })
	return nil
}

// pruneTreeStops removes the TreeStop markers that name no container of
// a task still to be recorded: each marker is kept until every task it
// stopped has been recorded, so a crash in between loses nothing.
func (r *Runner) pruneTreeStops() {
	stops := loadTreeStops(r.cfg.TreeStopDir)
	if len(stops) == 0 {
		return
	}
	pending := map[string]bool{}
	for _, t := range r.store.List("") {
		if t.Container != "" && !webapi.Ended(t.State) {
			pending[t.Container] = true
		}
	}
	for path, ts := range stops {
		if slices.ContainsFunc(ts.Containers, func(id string) bool { return pending[id] }) {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.log.Warn().Err(err).Str("file", path).Msg("remove a used tree-stop marker")
		}
	}
}
