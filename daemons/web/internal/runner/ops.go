package runner

import (
	"context"
	"errors"
	"os"
	"slices"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/webports"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// changeTimeout bounds a stop or rm once it runs detached from its caller.
const changeTimeout = 2 * time.Minute

// detach is ctx without its cancellation, bounded by d: a change runs to
// its end even when its caller goes away (see the package doc).
func detach(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Get is one task.
func (r *Runner) Get(id string) (tasks.Record, error) { return r.store.Get(id) }

// List is the tasks of project (every task when empty), oldest first. A
// project that does not exist and has no tasks is not found; its old
// tasks are listed when they are still there.
func (r *Runner) List(project string) ([]tasks.Record, error) {
	ts := r.store.List(project)
	if project != "" && len(ts) == 0 {
		if _, err := r.projects.Store().Get(project); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// Timeline is a task's timeline, oldest entry first.
func (r *Runner) Timeline(id string) ([]tasks.Entry, error) { return r.store.Timeline(id) }

// Running is task id while its container runs (what a terminal attaches
// to, what the shield guards); a conflict otherwise.
func (r *Runner) Running(id string) (tasks.Record, error) {
	t, err := r.store.Get(id)
	if err != nil {
		return t, err
	}
	if t.Container == "" || t.Done() {
		return t, fail.Conflict("task %s is %s: it does not run (terok task restart %s runs it again)", t.ID, t.State, t.ID)
	}
	return t, nil
}

// NotePromotion adds a promotion of branch (to target at commit) to the
// timeline of every task of project that pushed the branch.
func (r *Runner) NotePromotion(project, branch, target, commit string) {
	for _, t := range r.store.List(project) {
		if slices.Contains(t.Branches, branch) {
			r.note(t, tasks.Entry{Kind: webapi.EntryPromote, Ref: target, New: commit, Detail: "promoted " + branch + " to " + target})
		}
	}
}

// Stop stops a task's container and returns the task once it has ended
// (the monitor records "stopped"). The stop itself runs to its end when
// the caller goes away; the wait for the end is the caller's.
func (r *Runner) Stop(ctx context.Context, id string) (tasks.Record, error) {
	t, a, err := r.markStop(id)
	if err != nil || t.Done() {
		return t, err
	}
	sctx, cancel := detach(ctx, time.Duration(r.cfg.StopTimeout)*time.Second+changeTimeout)
	defer cancel()
	if t.Container != "" {
		if err := r.podman.StopContainer(sctx, t.Container, r.cfg.StopTimeout); err != nil && !errors.Is(err, podmanapi.ErrNotFound) {
			return t, fail.Daemon("podman", "stop the task container", err)
		}
	}
	if a == nil {
		// Never got a container (waiting for its image) or nobody
		// follows it: record it here, once the container has stopped.
		now := time.Now().UTC()
		t = r.setState(t, webapi.StateStopped, func(x *tasks.Record) { x.Ended = &now })
		r.revoke(t)
		r.releasePort(t)
		r.logs.notify(t.ID)
		return t, nil
	}
	return r.WaitEnded(ctx, id)
}

// markStop marks a task's run as stopped on request, once no start or rm
// of it is under way, and returns it with its monitor (nil without one).
func (r *Runner) markStop(id string) (tasks.Record, *active, error) {
	if _, err := r.store.Get(id); err != nil {
		return tasks.Record{}, nil, err
	}
	unlock := r.lockTask(id)
	defer unlock()
	t, err := r.store.Get(id)
	if err != nil || t.Done() {
		return t, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.active[id]
	if a != nil {
		a.stop = true
	}
	return t, a, nil
}

// WaitEnded blocks until the task has ended (or ctx ends) and returns it.
func (r *Runner) WaitEnded(ctx context.Context, id string) (tasks.Record, error) {
	sub := r.hub.Subscribe(64)
	defer func() { r.hub.Unsubscribe(sub) }() // the last subscription
	for {
		t, err := r.store.Get(id)
		if err != nil || t.Done() {
			return t, err
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case _, ok := <-sub.C:
			if !ok { // dropped for lagging: subscribe again, then look again
				sub = r.hub.Subscribe(64)
			}
		}
	}
}

// Remove deletes a task: its container, workspace volume, token and files.
// A task that has not ended needs force. Once it has begun, a removal
// runs to its end when the caller goes away (never a container gone and
// its record kept).
func (r *Runner) Remove(ctx context.Context, id string, force bool) error {
	ctx, cancel := detach(ctx, changeTimeout)
	defer cancel()
	unlock := r.lockTask(id)
	defer unlock()
	t, err := r.store.Get(id)
	if err != nil {
		return err
	}
	if !t.Done() {
		if !force {
			return fail.Conflict("task %s is %s: stop it first (terok task stop %s) or remove it with --force", id, t.State, id)
		}
		r.mu.Lock()
		if a := r.active[id]; a != nil {
			a.stop = true
		}
		r.mu.Unlock()
	}
	if t.Container != "" {
		if err := r.podman.RemoveContainer(ctx, t.Container, podmanapi.RemoveOptions{Force: true}); err != nil && !errors.Is(err, podmanapi.ErrNotFound) {
			return fail.Daemon("podman", "remove the task container", err)
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
		return fail.Daemon("podman", "remove the workspace volume "+t.Volume, err)
	}
	if _, err := r.gate.RevokeTask(ctx, t.Project, t.ID); err != nil {
		return fail.Daemon("terok-gate", "revoke the task token", err)
	}
	r.releasePort(t)
	if err := r.store.Remove(id); err != nil {
		return err
	}
	r.logs.notify(id)
	r.hub.Publish(webapi.Event{Type: webapi.EventTask, TaskID: id, Task: &webapi.Task{ID: id, Project: t.Project, State: "removed"}})
	return nil
}

// Reconcile matches the records to Podman's containers at start: a task
// whose container ended is recorded with its exit, one whose container
// vanished is marked failed, running ones are followed again, tokens and
// phantoms of ended tasks are revoked, and terok containers without a
// record are reported (never deleted).
func (r *Runner) Reconcile(ctx context.Context) error {
	list, err := r.podman.ListContainers(ctx, podmanapi.ListOptions{All: true, Labels: []string{LabelTask}})
	if err != nil {
		return fail.Daemon("podman", "list task containers", err)
	}
	if r.cfg.Ports != nil {
		// Ports of web tasks whose containers still exist stay theirs.
		live := map[string]int{}
		for id, port := range webports.PortsFromContainers(list, LabelTask) {
			if t, err := r.store.Get(id); err == nil && !t.Done() {
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
		if t.Done() {
			continue
		}
		c, ok := byID[t.Container]
		switch {
		case t.Container == "" && t.Waiting != "":
			r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "reconcile: terok-web stopped while the task waited for its image"})
			t = r.fail(t, "terok-web stopped while the task waited for its image: terok task restart "+t.ID+" runs it")
			r.revoke(t)
		case t.Container == "" || !ok:
			r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "reconcile: no container found at terok-web start"})
			t = r.fail(t, "the task's container was gone when terok-web started again: terok task followup "+t.ID+" runs again in the same workspace")
			r.revoke(t)
		case c.State == "created" || c.State == "configured" || c.State == "initialized":
			// terok-web went away between create and start.
			_ = r.podman.RemoveContainer(ctx, c.ID, podmanapi.RemoveOptions{Force: true})
			t = r.fail(t, "terok-web stopped while it started the task: terok task restart "+t.ID+" runs it again")
			r.revoke(t)
		case c.State == "running" || c.State == "paused":
			r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "reconcile: still running, followed again"})
			if t.State != webapi.StateRunning {
				t = r.setState(t, webapi.StateRunning, nil)
			}
			r.monitor(t, true)
		default:
			// Ended while terok-web was away: take the output it left
			// and record the end (the exit code Podman reports, stopped
			// when the tree's shutdown stopped it).
			r.note(t, tasks.Entry{Kind: webapi.EntryNote, Detail: "reconcile: ended while terok-web was down"})
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
		return fail.Daemon("terok-gate", "list task tokens", err)
	}
	for _, tok := range toks {
		if tok.Task == "" {
			continue
		}
		// Tokens of tasks terok-web does not know were minted by someone
		// else (terok-gate token mint): not ours to revoke.
		t, err := r.store.Get(tok.Task)
		if err != nil || t.Project != tok.Project || !t.Done() {
			continue
		}
		if _, err := r.gate.RevokeTask(ctx, tok.Project, tok.Task); err != nil {
			return fail.Daemon("terok-gate", "revoke a stale task token", err)
		}
		r.log.Info().Str("task", tok.Task).Str("project", tok.Project).Msg("revoked the token of an ended task")
	}
	// Nor a phantom (tasks that ended while terok-web or the vault was
	// down); a vault that does not answer is tried again in the background.
	if err := r.revokeEnded(ctx); err != nil {
		r.log.Warn().Err(err).Msg("revoke the phantoms of ended tasks (retried until the vault answers)")
		r.retryRevokes()
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
		if t.Container != "" && !t.Done() {
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
