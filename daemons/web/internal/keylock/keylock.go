// Package keylock holds mutexes by key (a task id, a project name): one
// lock per key while anyone holds or waits for it, and nothing kept for
// a key nobody uses, so the table does not grow with every task and
// project that ever was.
package keylock

import (
	"context"
	"sync"
)

// Locks is a table of mutexes by key. The zero value is ready to use.
type Locks struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	mu   sync.Mutex
	refs int // holders and waiters
}

// Lock locks key and returns the function that unlocks it (a second
// call does nothing).
func (l *Locks) Lock(key string) (unlock func()) {
	e := l.ref(key)
	e.mu.Lock()
	return l.unlocker(key, e)
}

// LockContext is Lock that gives up when ctx ends first (ctx's error;
// nothing is held then).
func (l *Locks) LockContext(ctx context.Context, key string) (unlock func(), err error) {
	e := l.ref(key)
	got := make(chan struct{})
	go func() { e.mu.Lock(); close(got) }()
	select {
	case <-got:
		return l.unlocker(key, e), nil
	case <-ctx.Done():
		// The lock is taken later and given back at once.
		go func() { <-got; l.unlocker(key, e)() }()
		return nil, ctx.Err()
	}
}

// ref counts one more holder or waiter of key.
func (l *Locks) ref(key string) *entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*entry{}
	}
	e, ok := l.m[key]
	if !ok {
		e = &entry{}
		l.m[key] = e
	}
	e.refs++
	return e
}

func (l *Locks) unlocker(key string, e *entry) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Unlock()
			l.mu.Lock()
			if e.refs--; e.refs == 0 {
				delete(l.m, key)
			}
			l.mu.Unlock()
		})
	}
}

// Len is the number of keys held or waited for.
func (l *Locks) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
