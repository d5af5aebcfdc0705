package pool_test

// Shared objects as task arguments: a Lock, a Semaphore, an Event, a
// Barrier, a Value and an Array travel to a Pool's workers as their names
// (their MarshalBinary) and arrive open there, the same objects as the
// caller's. The pool runs in a program of its own, so that the test sees
// its tracker's output: handles opened in workers are not owned by them,
// the caller closes (and unlinks, for those with a name) what it made, so
// nothing is left for the tracker to remove, and it prints nothing.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/value"
)

// sharedArgs is one task's argument: the objects, and the task's index.
type sharedArgs struct {
	Lock    *sem.Lock
	Units   *sem.Semaphore
	Arrived *sem.Event
	Meet    *barrier.Barrier
	Count   *value.Value[int64]
	Pids    *array.Array[int64]
	I       int
}

// sharedWorkers is the pool's size, and the tasks of the call: one each.
const sharedWorkers = 3

// useShared is task a.I: under the Lock it adds one to Count with a
// pause between the load and the store (so that tasks not excluded by one
// lock would lose increments), records its pid in Pids[a.I], releases a
// unit of Units, sets Arrived, and waits on Meet with the others and the
// caller. It closes what it was given, as the receiver of a decoded
// object must.
var useShared = pool.Register(func(ctx context.Context, a sharedArgs) (int, error) {
	defer func() {
		a.Lock.Close()
		a.Units.Close()
		a.Arrived.Close()
		a.Meet.Close()
		a.Count.Close()
		a.Pids.Close()
	}()
	if err := a.Lock.LockContext(ctx); err != nil {
		return 0, err
	}
	n := a.Count.Load()
	time.Sleep(20 * time.Millisecond)
	a.Count.Store(n + 1)
	a.Lock.Unlock()
	a.Pids.Set(a.I, int64(os.Getpid()))
	if err := a.Units.Release(); err != nil {
		return 0, err
	}
	if err := a.Arrived.Set(); err != nil {
		return 0, err
	}
	if _, err := a.Meet.Wait(ctx); err != nil {
		return 0, err
	}
	return os.Getpid(), nil
})

func init() {
	proctest.Register("pool-shared-objects", roleSharedObjects)
}

// roleSharedObjects makes the objects, passes them to sharedWorkers tasks
// at once, checks what the tasks did to them, and closes everything.
func roleSharedObjects([]string) (err error) {
	ctx, cancel := proctest.ChildContext()
	defer cancel()
	var closers []func() error
	defer func() {
		for _, c := range slices.Backward(closers) {
			err = errors.Join(err, c())
		}
	}()
	keep := func(c func() error, e error) error {
		if e == nil {
			closers = append(closers, c)
		}
		return e
	}
	// Some with a name, which the tracker would report if they were
	// forgotten, and some without, which end with their creator's Close.
	name := func(kind string) string { return fmt.Sprintf("mpgo_test_shared_%d_%s", os.Getpid(), kind) }
	a := sharedArgs{}
	var errs []error
	a.Lock, err = sem.NewLock(sem.Name(name("lock")))
	errs = append(errs, keep(func() error { return errors.Join(a.Lock.Unlink(), a.Lock.Close()) }, err))
	a.Units, err = sem.NewSemaphore(0)
	errs = append(errs, keep(func() error { return a.Units.Close() }, err))
	a.Arrived, err = sem.NewEvent(sem.Name(name("event")))
	errs = append(errs, keep(func() error { return errors.Join(a.Arrived.Unlink(), a.Arrived.Close()) }, err))
	a.Meet, err = barrier.New(sharedWorkers+1, barrier.Name(name("barrier")))
	errs = append(errs, keep(func() error { return errors.Join(a.Meet.Unlink(), a.Meet.Close()) }, err))
	a.Count, err = value.New[int64](0, value.Name(name("value")))
	errs = append(errs, keep(func() error { return errors.Join(a.Count.Unlink(), a.Count.Close()) }, err))
	a.Pids, err = array.New[int64](sharedWorkers)
	errs = append(errs, keep(func() error { return a.Pids.Close() }, err))
	if err := errors.Join(errs...); err != nil {
		return err
	}

	p, err := pool.New(pool.Workers(sharedWorkers))
	if err != nil {
		return err
	}
	defer p.Terminate()
	xs := make([]sharedArgs, sharedWorkers)
	for i := range xs {
		xs[i] = a
		xs[i].I = i
	}
	call := useShared.MapAsync(ctx, p, xs, pool.Chunksize(1))

	// Every task has taken the lock, released its unit and set the event
	// once the caller passes the barrier with them: no task can pass it
	// until every other has arrived.
	if _, err := a.Meet.Wait(ctx); err != nil {
		return fmt.Errorf("the caller's Barrier.Wait: %w", err)
	}
	if !a.Arrived.IsSet() {
		return errors.New("every task set the Event, and the caller's is not set")
	}
	for i := range sharedWorkers {
		if !a.Units.TryAcquire() {
			return fmt.Errorf("the tasks released %d units, the caller's Semaphore had %d", sharedWorkers, i)
		}
	}
	if a.Units.TryAcquire() {
		return fmt.Errorf("the caller's Semaphore has a unit more than the %d the tasks released", sharedWorkers)
	}
	pids, err := call.Get(ctx)
	if err != nil {
		return err
	}
	if n := a.Count.Load(); n != sharedWorkers {
		return fmt.Errorf("the Value is %d after %d increments under the Lock", n, sharedWorkers)
	}
	seen := map[int]bool{}
	for i, pid := range pids {
		if got := a.Pids.At(i); got != int64(pid) {
			return fmt.Errorf("task %d ran in pid %d, and the caller's Array says %d", i, pid, got)
		}
		if pid == os.Getpid() || seen[pid] {
			return fmt.Errorf("task %d ran in pid %d (caller %d; pids %v): the tasks met at the Barrier in %d processes, not %d", i, pid, os.Getpid(), pids, len(seen), sharedWorkers)
		}
		seen[pid] = true
	}
	if err := p.Close(); err != nil {
		return err
	}
	if err := p.Join(ctx); err != nil {
		return err
	}
	fmt.Printf("pids %v\n", pids)
	return nil
}

// TestPoolTasksShareObjectsPassedAsArguments runs roleSharedObjects as a
// program of its own; after it, /dev/shm holds nothing it made, and its
// tracker printed nothing (it would print a line for each object it had to
// remove).
func TestPoolTasksShareObjectsPassedAsArguments(t *testing.T) {
	proctest.CheckShm(t)
	c := proctest.StartProgram(t, "pool-shared-objects")
	c.MustSucceed()
	if out := strings.TrimSpace(c.Stderr()); out != "" {
		t.Errorf("the program's stderr (its tracker's) is not empty:\n%s", out)
	}
	if len(c.Output()) != 1 || !strings.HasPrefix(c.Output()[0], "pids ") {
		t.Errorf("the program printed %q", c.Output())
	}
}
