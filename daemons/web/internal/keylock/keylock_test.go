package keylock

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestOneHolderPerKey: goroutines of one key take turns (a counter
// without its own lock stays exact under -race), other keys do not wait
// for them, and the table is empty once nobody holds a key.
func TestOneHolderPerKey(t *testing.T) {
	var l Locks
	keys := []string{"a", "b", "c", "d"}
	var counts [4]int // one counter per key, guarded by nothing but the key's lock
	var wg sync.WaitGroup
	for i := range 200 {
		k := i % 4
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := l.Lock(keys[k])
			counts[k]++ // -race sees a second holder of the key
			unlock()
			unlock() // a second call does nothing
		}()
	}
	wg.Wait()
	for k, n := range counts {
		if n != 50 {
			t.Fatalf("key %s counted %d, want 50", keys[k], n)
		}
	}
	if n := l.Len(); n != 0 {
		t.Fatalf("%d keys kept after everyone unlocked", n)
	}
}

// TestOtherKeysDoNotWait: holding one key, another is taken at once.
func TestOtherKeysDoNotWait(t *testing.T) {
	var l Locks
	unlockA := l.Lock("a")
	done := make(chan struct{})
	go func() { l.Lock("b")(); close(done) }()
	<-done // would block forever if keys shared a mutex
	if n := l.Len(); n != 1 {
		t.Fatalf("%d keys held, want 1", n)
	}
	unlockA()
}

// TestLockContextGivesUp: a waiter whose context ends gets its error and
// holds nothing; the key is free again once its holder unlocks.
func TestLockContextGivesUp(t *testing.T) {
	var l Locks
	unlock := l.Lock("k")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if u, err := l.LockContext(ctx, "k"); err == nil || u != nil {
		t.Fatalf("got the held lock: %v", err)
	}
	unlock()
	u, err := l.LockContext(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	u()
	for i := 0; l.Len() != 0; i++ { // the given-up waiter lets go in the background
		if i > 1000 {
			t.Fatalf("%d keys left", l.Len())
		}
		time.Sleep(time.Millisecond)
	}
}
