package runner

import (
	"context"
	"io"
	"os"
	"sync"

	"github.com/terok-ai/terok-in-docker/daemons/web/internal/fail"
	"github.com/terok-ai/terok-in-docker/daemons/web/internal/tasks"
)

// notifier wakes the followers of a task's log when its monitor writes
// to it, and when the run ends or the task goes: no follower polls the
// file. A channel exists only for a task someone waits on, until its next
// write.
type notifier struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

// wait returns a channel closed at task id's next write or end. Take it
// before reading the file, so nothing written after the read is missed.
func (n *notifier) wait(id string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = map[string]chan struct{}{}
	}
	c, ok := n.ch[id]
	if !ok {
		c = make(chan struct{})
		n.ch[id] = c
	}
	return c
}

// notify wakes task id's followers.
func (n *notifier) notify(id string) {
	n.mu.Lock()
	c, ok := n.ch[id]
	delete(n.ch, id)
	n.mu.Unlock()
	if ok {
		close(c)
	}
}

// LogOptions choose what Logs reads.
type LogOptions struct {
	// Tail starts at the last Tail lines (negative: the whole log).
	Tail int
	// Follow keeps reading until the task ends (or ctx ends).
	Follow bool
}

// Logs returns a reader of task id's output. With Follow it blocks for
// more until the task has ended and its output is all read (then
// io.EOF), or ctx ends (ctx's error); a task that has not started yet
// is waited for as well.
func (r *Runner) Logs(ctx context.Context, id string, o LogOptions) (io.ReadCloser, error) {
	t, err := r.store.Get(id)
	if err != nil {
		return nil, err
	}
	f, err := r.store.OpenLog(t)
	if err != nil {
		return nil, fail.Conflict("open the log of task %s: %w", id, err)
	}
	lr := &logReader{r: r, ctx: ctx, task: t, f: f, follow: o.Follow}
	if f != nil && o.Tail >= 0 {
		if lr.off, err = tasks.TailOffset(f, o.Tail); err != nil {
			f.Close()
			return nil, err
		}
	}
	return lr, nil
}

// logReader reads a task's log file from off; see Logs.
type logReader struct {
	r      *Runner
	ctx    context.Context
	task   tasks.Record
	f      *os.File
	off    int64
	follow bool
	done   bool
}

func (l *logReader) Read(p []byte) (int, error) {
	for !l.done {
		wake := l.r.logs.wait(l.task.ID)
		n, err := l.readAt(p)
		if n > 0 || err != nil {
			return n, err
		}
		if !l.follow {
			return 0, io.EOF
		}
		if t, err := l.r.store.Get(l.task.ID); err != nil || t.Done() {
			// Its last output was written before the end was recorded:
			// what is left is read, then the stream ends.
			l.done = true
			break
		}
		select {
		case <-wake:
		case <-l.ctx.Done():
			return 0, l.ctx.Err()
		}
	}
	n, err := l.readAt(p)
	if n == 0 && err == nil {
		return 0, io.EOF
	}
	return n, err
}

// readAt reads what the file holds past off (0, nil at its end; the file
// opened once it exists).
func (l *logReader) readAt(p []byte) (int, error) {
	if l.f == nil {
		f, err := l.r.store.OpenLog(l.task)
		if err != nil || f == nil {
			return 0, err
		}
		l.f = f
	}
	n, err := l.f.ReadAt(p, l.off)
	l.off += int64(n)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// Close closes the file.
func (l *logReader) Close() error {
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}
