package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/terok-ai/terok-in-docker/daemons/podman-service/podmanapi"
	"github.com/terok-ai/terok-in-docker/daemons/shield/shieldapi"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// maxEventLine caps one log line on the event hub; the log file keeps all.
const maxEventLine = 16 << 10

func logSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// logWriter appends a run's output to the task's log file and publishes
// each line (cut at maxEventLine) on the hub.
type logWriter struct {
	f    *os.File
	r    *Runner
	id   string
	mu   sync.Mutex
	line []byte
	cut  bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.f.Write(p)
	if n > 0 {
		w.r.logs.notify(w.id) // followers read the file
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxEventLine - len(w.line); room > 0 {
			if len(chunk) > room {
				chunk, w.cut = chunk[:room], true
			}
			w.line = append(w.line, chunk...)
		} else if len(chunk) > 0 {
			w.cut = true
		}
		if i < 0 {
			break
		}
		w.flush()
		p = p[i+1:]
	}
	return n, err
}

func (w *logWriter) flush() {
	line := string(w.line)
	if w.cut {
		line += " [line cut; the log file has all of it]"
	}
	w.r.hub.Publish(webapi.Event{Type: webapi.EventLog, TaskID: w.id, Line: line})
	w.line, w.cut = w.line[:0], false
}

// monitor follows a running task in the background: its output into the
// log file (from LogOffset: a resumed monitor rewrites what the container
// still holds), its shield events into the timeline, and its end.
func (r *Runner) monitor(t tasks.Record, resume bool) {
	ctx, cancel := context.WithCancel(r.ctx)
	a := &active{cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	if old, ok := r.active[t.ID]; ok {
		a.stop = old.stop
	}
	r.active[t.ID] = a
	r.mu.Unlock()
	r.wg.Go(func() {
		defer close(a.done)
		defer cancel()
		r.follow(ctx, t, resume)
		r.mu.Lock()
		if r.active[t.ID] == a {
			delete(r.active, t.ID)
		}
		r.mu.Unlock()
	})
}

// follow is one monitor's work. The goroutines it starts (the log
// stream, the shield's events, the arm time) are its own: it ends them
// and waits for them before it returns, and closes the log file only
// after the stream that writes it has stopped.
func (r *Runner) follow(ctx context.Context, t tasks.Record, resume bool) {
	log := r.log.With().Str("task", t.ID).Logger()
	path := r.store.LogPath(t)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		r.fail(t, fmt.Sprintf("open the task's log file %s: %v", path, err))
		return
	}
	// The container holds the whole output of this run: write it from
	// the run's start, so a resumed monitor does not duplicate lines.
	if err := f.Truncate(t.LogOffset); err == nil {
		_, _ = f.Seek(t.LogOffset, 0)
	} else {
		_, _ = f.Seek(0, 2)
	}
	lw := &logWriter{f: f, r: r, id: t.ID}

	cctx, stopChildren := context.WithCancel(ctx)
	var children sync.WaitGroup
	defer func() {
		stopChildren()
		children.Wait()
		f.Close()
	}()
	if r.shield != nil {
		children.Go(func() { r.followShield(cctx, t) })
		if !resume && t.StartMS != nil {
			children.Go(func() { r.recordArm(cctx, t) })
		}
	}
	exited := make(chan struct{})
	logsDone := make(chan struct{})
	children.Go(func() {
		defer close(logsDone)
		r.streamLogs(cctx, t, lw, exited)
	})

	code, werr := r.waitExit(ctx, t)
	if ctx.Err() != nil {
		// terok-web is shutting down: the next start reconciles.
		return
	}
	close(exited)
	// Let the log stream drain (bounded), then stop it.
	select {
	case <-logsDone:
	case <-time.After(30 * time.Second):
		log.Warn().Msg("log stream did not end within 30 s of the exit")
		stopChildren()
		<-logsDone
	}
	lw.mu.Lock()
	if len(lw.line) > 0 {
		lw.flush()
	}
	lw.mu.Unlock()
	_ = f.Sync()
	r.finish(t, code, werr)
}

// skipWriter drops the first skip bytes (already written by an earlier
// stream of the same container log) and counts all it saw.
type skipWriter struct {
	w    *logWriter
	skip int64
	seen int64
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	s.seen += int64(n)
	if s.skip > 0 {
		k := min(s.skip, int64(len(p)))
		s.skip -= k
		p = p[k:]
	}
	if len(p) > 0 {
		if _, err := s.w.Write(p); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// streamLogs follows the container's log into lw. When the stream breaks
// or ends while the container still runs (Podman restarted), it opens it
// again and skips what it has written; it returns once a stream ended
// after the exit was seen (exited closed), or ctx ends (bounded retries).
func (r *Runner) streamLogs(ctx context.Context, t tasks.Record, lw *logWriter, exited <-chan struct{}) {
	var written int64
	for attempt := 0; attempt < 120; attempt++ {
		sw := &skipWriter{w: lw, skip: written}
		err := r.podman.ContainerLogs(ctx, t.Container, podmanapi.LogOptions{Follow: true}, sw, sw)
		written = max(written, sw.seen)
		if ctx.Err() != nil || errors.Is(err, podmanapi.ErrNotFound) {
			return // terok-web stops, or the container is gone (removed)
		}
		select {
		case <-exited:
			if err == nil {
				return
			}
		default:
		}
		if err != nil {
			r.log.Debug().Err(err).Str("task", t.ID).Msg("log stream broke; reopening")
		}
		// Again after a second, or at once when the exit comes meanwhile
		// (the stream may end just before it): what is left is read.
		again := exited
		select {
		case <-exited:
			again = nil // seen already: this stream broke, wait
		default:
		}
		select {
		case <-ctx.Done():
			return
		case <-again:
		case <-time.After(time.Second):
		}
	}
	r.log.Warn().Str("task", t.ID).Msg("gave up following the log after 120 attempts")
}

// waitExit waits for the container to stop, riding out a Podman restart
// (bounded): on a broken wait it checks the container again.
func (r *Runner) waitExit(ctx context.Context, t tasks.Record) (int, error) {
	var lastErr error
	for attempt := 0; attempt < 60; attempt++ {
		code, err := r.podman.WaitContainer(ctx, t.Container)
		if err == nil {
			return code, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		lastErr = err
		if errors.Is(err, podmanapi.ErrNotFound) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Second):
		}
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ct, ierr := r.podman.InspectContainer(ictx, t.Container)
		cancel()
		if ierr == nil && !ct.State.Running && ct.State.Status != "created" && ct.State.Status != "initialized" {
			return ct.State.ExitCode, nil
		}
		if errors.Is(ierr, podmanapi.ErrNotFound) {
			return 0, ierr
		}
	}
	return 0, fmt.Errorf("podman did not report the end of the container for 2 minutes: %w", lastErr)
}

// finish records the end of a run and revokes the task's token. The
// exit code is the one Podman reports for the container; how the end is
// recorded (stopped, exited, failed) is ending's rule.
func (r *Runner) finish(t tasks.Record, code int, werr error) {
	r.mu.Lock()
	stopped := r.active[t.ID] != nil && r.active[t.ID].stop
	r.mu.Unlock()
	// The task's phantoms end before its end is told: whoever sees it
	// ended (terok task wait) finds them refused.
	r.revokeCredentials(t)
	now := time.Now().UTC()
	switch {
	case errors.Is(werr, podmanapi.ErrNotFound):
		r.fail(t, "the task's container vanished (removed outside terok?): terok task followup "+t.ID+" runs again in the same workspace")
	case werr != nil:
		r.fail(t, werr.Error())
	default:
		ictx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ct, err := r.podman.InspectContainer(ictx, t.Container)
		cancel()
		if err != nil {
			r.log.Warn().Err(err).Str("task", t.ID).Msg("inspect the ended container (its exit code is the one Podman's wait gave)")
		}
		e := ending(ct, err == nil, code, stopped, loadTreeStops(r.cfg.TreeStopDir))
		r.setStateDetail(t, e.State, e.Detail, func(x *tasks.Record) { x.ExitCode, x.Ended, x.Reason = e.ExitCode, &now, e.Reason })
	}
	r.logs.notify(t.ID) // followers see the end
	r.revoke(t)
	r.releasePort(t)
}

// followShield copies the shield's events for the task's container into
// its timeline until ctx ends.
func (r *Runner) followShield(ctx context.Context, t tasks.Record) {
	// The audit stream starts with the container's past events: a
	// resumed monitor skips those the timeline holds already.
	var since time.Time
	if es, err := r.store.Timeline(t.ID); err == nil {
		for _, e := range es {
			if e.Kind == webapi.EntryShield && e.Time.After(since) {
				since = e.Time
			}
		}
	}
	err := r.shield.Audit(ctx, t.Container, true, func(ev shieldapi.Event) error {
		if !since.IsZero() && !ev.Time.After(since) {
			return nil
		}
		target := ev.Target
		if target == "" && ev.Dest != "" {
			target = ev.Dest
			if ev.Port != 0 {
				target = fmt.Sprintf("%s:%d", ev.Dest, ev.Port)
			}
		}
		r.note(t, tasks.Entry{Kind: webapi.EntryShield, Time: ev.Time, Event: ev.Kind, Target: target, Detail: ev.Detail})
		return nil
	})
	if err != nil && ctx.Err() == nil {
		r.log.Debug().Err(err).Str("task", t.ID).Msg("shield audit stream ended")
	}
}

// recordArm adds the shield's own arm time to the task's start timing.
func (r *Runner) recordArm(ctx context.Context, t tasks.Record) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := r.shield.Status(ctx, t.Container)
	if err != nil {
		return
	}
	_, _ = r.store.Update(t.ID, func(x *tasks.Record) {
		if x.StartMS != nil {
			m := maps.Clone(x.StartMS) // readers may hold the old map
			m["shield_arm"] = st.ArmMillis
			x.StartMS = m
		}
	})
}
