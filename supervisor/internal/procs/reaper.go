package procs

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper owns process creation and orphan reaping. Our own children are
// waited for by their exec.Cmd; every other zombie child (an orphan
// re-parented to us as PID 1 or subreaper) is reaped here. Starting a child
// and scanning for zombies take the same lock, so a fresh child is never
// mistaken for an orphan.
type Reaper struct {
	mu      sync.Mutex
	managed map[int]bool
	reaped  int
}

// NewReaper returns a Reaper with no children.
func NewReaper() *Reaper { return &Reaper{managed: map[int]bool{}} }

// BecomeSubreaper makes this process the reaper of orphaned descendants
// (not needed when it is PID 1).
func BecomeSubreaper() error {
	if os.Getpid() == 1 {
		return nil
	}
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// start starts cmd under umask (-1 keeps ours) and registers its pid.
func (r *Reaper) start(cmd *exec.Cmd, umask int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if umask >= 0 {
		old := syscall.Umask(umask)
		defer syscall.Umask(old)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	r.managed[cmd.Process.Pid] = true
	return nil
}

func (r *Reaper) forget(pid int) {
	r.mu.Lock()
	delete(r.managed, pid)
	r.mu.Unlock()
}

// Reaped is the number of orphans reaped so far.
func (r *Reaper) Reaped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}

// Reap waits for every zombie child that is not one of ours.
func (r *Reaper) Reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Our pid as this /proc sees it (PID 1 in a container's namespace).
	self := os.Getpid()
	if link, err := os.Readlink("/proc/self"); err == nil {
		if n, err := strconv.Atoi(link); err == nil {
			self = n
		}
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) < 2 || f[0] != "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		if ppid != self || r.managed[pid] {
			continue
		}
		var ws syscall.WaitStatus
		if n, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); err == nil && n == pid {
			r.reaped++
		}
	}
}

// Run reaps on every SIGCHLD and once a second until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-t.C:
		}
		r.Reap()
	}
}
