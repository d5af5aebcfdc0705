package sem_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/multiproc/multiproc/sem"
)

// A Lock is a sync.Locker shared by processes. A worker process opens it by
// name (here the same process opens a second handle).
func ExampleLock() {
	l, err := sem.NewLock()
	if err != nil {
		panic(err)
	}
	defer l.Unlink()
	defer l.Close()

	other, err := sem.OpenLock(l.Name()) // in a worker: sem.OpenLock(name)
	if err != nil {
		panic(err)
	}
	defer other.Close()

	l.Lock()
	fmt.Println("other handle can lock:", other.TryLock())
	l.Unlock()
	fmt.Println("after Unlock:", other.TryLock())
	other.Unlock()
	// Output:
	// other handle can lock: false
	// after Unlock: true
}

// update is the shape of a robust critical section: LockContext bounds the
// wait, and reports a dead previous owner, after which the caller holds the
// lock and repairs the data before declaring it consistent.
func update(ctx context.Context, l *sem.Lock, repair, change func()) error {
	err := l.LockContext(ctx)
	switch {
	case errors.Is(err, sem.ErrOwnerDead):
		repair()
		if err := l.MarkConsistent(); err != nil {
			l.Unlock()
			return err
		}
	case err != nil:
		return err // not held: timeout, cancel, ErrNotRecoverable
	}
	defer l.Unlock()
	change()
	return nil
}

func ExampleLock_LockContext() {
	l, err := sem.NewLock()
	if err != nil {
		panic(err)
	}
	defer l.Unlink()
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	noop := func() {}
	fmt.Println(update(ctx, l, noop, func() { fmt.Println("changed") }))

	l.Lock() // now someone holds it for longer than we wait
	fmt.Println(update(ctx, l, noop, func() { fmt.Println("changed") }))
	l.Unlock()
	// Output:
	// changed
	// <nil>
	// context deadline exceeded
}

// State shows who holds a lock, from any process: what `multiproc inspect`
// prints.
func ExampleLock_State() {
	l, err := sem.NewLock()
	if err != nil {
		panic(err)
	}
	defer l.Unlink()
	defer l.Close()

	l.Lock()
	st := l.State()
	fmt.Println(st.Locked, st.OwnerAlive, st.Consistency)
	l.Unlock()
	// Output: true true consistent
}

// Release is Unlock for code that wants an error rather than a panic when
// the lock is not held.
func ExampleLock_Release() {
	l, err := sem.NewLock()
	if err != nil {
		panic(err)
	}
	defer l.Unlink()
	defer l.Close()

	err = l.Release()
	fmt.Println(errors.Is(err, sem.ErrNotOwner))
	// Output: true
}

// The goroutine holding an RLock may take it again; it is free after as
// many unlocks.
func ExampleRLock() {
	r, err := sem.NewRLock()
	if err != nil {
		panic(err)
	}
	defer r.Unlink()
	defer r.Close()

	r.Lock()
	r.Lock() // same goroutine: no deadlock
	fmt.Println("depth", r.Depth())
	r.Unlock()
	r.Unlock()
	fmt.Println("locked:", r.State().Locked)
	// Output:
	// depth 2
	// locked: false
}

// Options name an object, keep it past the program's end, or set its mode.
func ExampleNewLock_options() {
	l, err := sem.NewLock(sem.Name("example-named-lock"), sem.Mode(0o600))
	if err != nil {
		panic(err)
	}
	defer l.Unlink()
	defer l.Close()
	fmt.Println(l.Name())
	// Output: example-named-lock
}

// A tool reads a lock's state from a copy of its file, without opening it:
// the lock record is the first 64 bytes of a Lock's payload.
func ExampleInspectLock() {
	l, err := sem.NewLock()
	if err != nil {
		panic(err)
	}
	defer l.Unlink()
	defer l.Close()
	l.Lock()
	defer l.Unlock()

	file, err := os.ReadFile("/dev/shm/" + l.Name())
	if err != nil {
		panic(err)
	}
	st, err := sem.InspectLock(file[128:192])
	fmt.Println(st.Locked, st.Owner == os.Getpid(), st.OwnerAlive, err)
	// Output: true true true <nil>
}
