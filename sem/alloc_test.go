package sem_test

import (
	"context"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
)

// The uncontended calls allocate nothing: errors name their operation and
// object, but the message is built only when there is an error (a worker
// whose every LockContext allocated made the garbage collector run inside
// its loop).
func TestUncontendedCallsDoNotAllocate(t *testing.T) {
	proctest.CheckShm(t)
	ctx := context.Background()
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close(); l.Unlink() }()
	r, err := sem.NewRLock()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Close(); r.Unlink() }()
	s, err := sem.NewSemaphore(1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close(); s.Unlink() }()
	e, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close(); e.Unlink() }()
	for name, f := range map[string]func(){
		"Lock pair":          func() { l.Lock(); l.Unlock() },
		"LockContext pair":   func() { l.LockContext(ctx); l.Release() },
		"RLock pair":         func() { r.Lock(); r.Unlock() },
		"RLock nested":       func() { r.Lock(); r.Lock(); r.Unlock(); r.Unlock() },
		"RLock LockContext":  func() { r.LockContext(ctx); r.Release() },
		"Acquire, Release":   func() { s.Acquire(ctx); s.Release() },
		"Event Set, IsSet":   func() { e.Set(); e.IsSet(); e.Clear() },
		"Event Wait, is set": func() { e.Set(); e.Wait(ctx); e.Clear() },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %.0f allocations per call", name, n)
		}
	}
}
