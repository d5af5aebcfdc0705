package sem_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("cond-producer", roleCondProducer)
	proctest.Register("cond-consumer", roleCondConsumer)
	proctest.Register("cond-poke", roleCondPoke)
	proctest.Register("cond-wait", roleCondWait)
}

// ring is a bounded buffer in a shared segment, guarded by a Condition's
// lock: producers wait for room, consumers for items.
type ring struct {
	head, tail uint64 // items taken, items put
	buf        [4]uint64
}

func (r *ring) len() uint64 { return r.tail - r.head }

func openRing(name string) (*shm.Segment, *ring, error) {
	seg, err := shm.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return seg, (*ring)(unsafe.Pointer(&seg.Bytes()[0])), nil
}

// roleCondProducer: cond, ring, first, n. Puts first..first+n-1.
func roleCondProducer(args []string) error {
	c, err := sem.OpenCondition(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	seg, r, err := openRing(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	first, _ := strconv.Atoi(args[2])
	n, _ := strconv.Atoi(args[3])
	ctx := context.Background()
	for i := first; i < first+n; i++ {
		c.Lock()
		if err := c.WaitFor(ctx, func() bool { return r.len() < uint64(len(r.buf)) }); err != nil {
			return err
		}
		r.buf[r.tail%uint64(len(r.buf))] = uint64(i)
		r.tail++
		c.NotifyAll()
		c.Unlock()
	}
	return nil
}

// roleCondConsumer: cond, ring, n. Takes n items and prints their sum.
func roleCondConsumer(args []string) error {
	c, err := sem.OpenCondition(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	seg, r, err := openRing(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	n, _ := strconv.Atoi(args[2])
	ctx := context.Background()
	var sum uint64
	for range n {
		c.Lock()
		if err := c.WaitFor(ctx, func() bool { return r.len() > 0 }); err != nil {
			return err
		}
		sum += r.buf[r.head%uint64(len(r.buf))]
		r.head++
		c.NotifyAll()
		c.Unlock()
	}
	fmt.Println("sum", sum)
	return nil
}

// roleCondPoke: cond, ring. Takes the lock (which proves the waiter let
// go of it), sets the ring's tail to 1, notifies, unlocks.
func roleCondPoke(args []string) error {
	c, err := sem.OpenCondition(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	seg, r, err := openRing(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	ctx, cancel := proctest.ChildContext() // the test's deadline
	defer cancel()
	if err := c.LockContext(ctx); err != nil {
		return err
	}
	r.tail = 1
	c.NotifyAll()
	c.Unlock()
	return nil
}

// roleCondWait: cond, poll interval. Waits once (printing "waiting" when it
// has registered) and prints "woken <err>".
func roleCondWait(args []string) error {
	d, _ := time.ParseDuration(args[1])
	sem.SetPollInterval(d)
	c, err := sem.OpenCondition(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	c.Lock()
	fmt.Println("waiting")
	err = c.Wait(context.Background())
	c.Unlock()
	fmt.Println("woken", err)
	return nil
}

var condFlavors = []string{"own", "Lock", "RLock"}

func newCondition(t testing.TB, flavor string) *sem.Condition {
	t.Helper()
	var lk sync.Locker
	switch flavor {
	case "Lock":
		l, err := sem.NewLock()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Unlink(); l.Close() })
		lk = l
	case "RLock":
		l, err := sem.NewRLock()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Unlink(); l.Close() })
		lk = l
	}
	c, err := sem.NewCondition(lk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Unlink(); c.Close() })
	return c
}

func newRing(t testing.TB) (*shm.Segment, *ring) {
	t.Helper()
	seg, err := shm.Create("", 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Unlink(); seg.Close() })
	return seg, (*ring)(unsafe.Pointer(&seg.Bytes()[0]))
}

func TestConditionProducerConsumerAcrossProcesses(t *testing.T) {
	for _, flavor := range condFlavors {
		t.Run(flavor, func(t *testing.T) {
			proctest.CheckShm(t)
			c := newCondition(t, flavor)
			seg, r := newRing(t)
			const n = 2000 // per producer and per consumer
			var cs []*proctest.Child
			for i := range 2 {
				cs = append(cs, proctest.Start(t, "cond-producer", c.Name(), seg.Name(), strconv.Itoa(1+i*n), strconv.Itoa(n)))
				cs = append(cs, proctest.Start(t, "cond-consumer", c.Name(), seg.Name(), strconv.Itoa(n)))
			}
			var sum uint64
			for _, ch := range cs {
				ch.MustSucceed()
				if ch.Role == "cond-consumer" {
					var s uint64
					fmt.Sscanf(ch.Output()[0], "sum %d", &s)
					sum += s
				}
			}
			if want := uint64(2*n) * uint64(2*n+1) / 2; sum != want || r.head != 2*n || r.tail != 2*n {
				t.Fatalf("consumers' sum %d (want %d), head %d, tail %d", sum, want, r.head, r.tail)
			}
			if w := c.Waiters(); w != 0 {
				t.Fatalf("%d waiters left", w)
			}
		})
	}
}

func TestConditionWaitReleasesEveryRLockLevel(t *testing.T) {
	for _, flavor := range []string{"own", "RLock"} {
		t.Run(flavor, func(t *testing.T) {
			proctest.CheckShm(t)
			c := newCondition(t, flavor)
			r := c.Locker().(*sem.RLock)
			seg, rg := newRing(t)
			c.Lock()
			c.Lock()
			child := proctest.Start(t, "cond-poke", c.Name(), seg.Name())
			ctx, cancel := context.WithCancel(proctest.Context(t))
			defer cancel()
			if err := c.WaitFor(ctx, func() bool { return rg.tail == 1 }); err != nil {
				t.Fatal(err)
			}
			if d := r.Depth(); d != 2 {
				t.Fatalf("depth after Wait = %d, want 2", d)
			}
			child.MustSucceed()
			c.Unlock()
			c.Unlock()
			if st := r.State(); st.Locked {
				t.Fatalf("still locked: %+v", st)
			}
		})
	}
}

func TestConditionWaitTimeoutAndCancel(t *testing.T) {
	// Waits sleep an hour between looks: returning at all proves the
	// deadline or the cancel ended the wait, with no timing claim.
	defer sem.SetPollInterval(sem.SetPollInterval(time.Hour))
	for _, flavor := range condFlavors {
		t.Run(flavor, func(t *testing.T) {
			proctest.CheckShm(t)
			c := newCondition(t, flavor)
			state := func() sem.LockState {
				switch l := c.Locker().(type) {
				case *sem.Lock:
					return l.State()
				case *sem.RLock:
					return l.State()
				}
				return sem.LockState{}
			}
			c.Lock()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			start := time.Now()
			if err := c.Wait(ctx); err != context.DeadlineExceeded {
				t.Fatalf("Wait past its deadline = %v", err)
			}
			t.Logf("deadline honoured after %v", time.Since(start)) // how fast is a benchmark's claim, not a test's
			if st := state(); !st.Locked || st.Owner != os.Getpid() {
				t.Fatalf("lock not held after a timed-out Wait: %+v", st)
			}

			ctx, cancel = context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				c.Lock()
				err := c.Wait(ctx)
				c.Unlock()
				done <- err
			}()
			c.Unlock()
			waitFor(t, "the waiter", func() bool { return c.Waiters() == 1 })
			start = time.Now()
			cancel()
			if err := <-done; err != context.Canceled {
				t.Fatalf("cancelled Wait = %v", err)
			}
			t.Logf("cancel honoured after %v", time.Since(start)) // how fast is a benchmark's claim, not a test's
			if w := c.Waiters(); w != 0 {
				t.Fatalf("%d waiters left", w)
			}
			// Still usable: a notification reaches a new waiter.
			c.Lock()
			go func() {
				c.Lock()
				c.NotifyAll()
				c.Unlock()
			}()
			ctx, cancel = context.WithCancel(proctest.Context(t))
			defer cancel()
			if err := c.Wait(ctx); err != nil {
				t.Fatalf("Wait after the cancelled ones: %v", err)
			}
			c.Unlock()
		})
	}
}

func TestConditionCancelledWaiterDoesNotStrandNext(t *testing.T) {
	proctest.CheckShm(t)
	c := newCondition(t, "own")
	// B, in another process, polls only once an hour: only a wake helps.
	b := proctest.Start(t, "cond-wait", c.Name(), "1h")
	b.WaitLine("waiting")
	waitFor(t, "B to wait", func() bool { return c.Waiters() == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	a := make(chan error, 1)
	go func() {
		c.Lock()
		err := c.Wait(ctx)
		c.Unlock()
		a <- err
	}()
	waitFor(t, "A to wait", func() bool { return c.Waiters() == 2 })
	cancel()
	if err := <-a; err != context.Canceled {
		t.Fatalf("A: %v", err)
	}
	c.Lock()
	c.Notify(1)
	c.Unlock()
	if line := b.WaitLine("woken"); line != "woken <nil>" {
		t.Fatalf("B: %q", line)
	}
	b.MustSucceed()
}

func TestConditionNotifyAllWakesEveryProcess(t *testing.T) {
	proctest.CheckShm(t)
	c := newCondition(t, "Lock")
	var ws []*proctest.Child
	for range 3 {
		w := proctest.Start(t, "cond-wait", c.Name(), "1h")
		w.WaitLine("waiting")
		ws = append(ws, w)
	}
	waitFor(t, "3 waiters", func() bool { return c.Waiters() == 3 })
	c.Lock()
	c.NotifyAll()
	c.Unlock()
	for _, w := range ws {
		if line := w.WaitLine("woken"); line != "woken <nil>" {
			t.Fatalf("waiter: %q", line)
		}
		w.MustSucceed()
	}
}

func TestConditionWaitWithoutTheLockIsErrNotOwner(t *testing.T) {
	for _, flavor := range condFlavors {
		t.Run(flavor, func(t *testing.T) {
			proctest.CheckShm(t)
			c := newCondition(t, flavor)
			if err := c.Wait(context.Background()); !errors.Is(err, sem.ErrNotOwner) {
				t.Fatalf("Wait without the lock = %v", err)
			}
			if w := c.Waiters(); w != 0 {
				t.Fatalf("%d waiters left", w)
			}
		})
	}
}

func TestConditionWaitForReturnsAtOnceWhenTrue(t *testing.T) {
	proctest.CheckShm(t)
	c := newCondition(t, "own")
	c.Lock()
	defer c.Unlock()
	calls := 0
	if err := c.WaitFor(context.Background(), func() bool { calls++; return true }); err != nil || calls != 1 {
		t.Fatalf("WaitFor(true) = %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.WaitFor(ctx, func() bool { return false }); err != context.DeadlineExceeded {
		t.Fatalf("WaitFor(false) = %v", err)
	}
}

func TestOpenConditionBadInput(t *testing.T) {
	proctest.CheckShm(t)
	if _, err := sem.NewCondition(&sync.Mutex{}); !errors.Is(err, sem.ErrInvalidArgument) || !strings.Contains(err.Error(), "sync.Mutex") {
		t.Errorf("NewCondition(*sync.Mutex) = %v", err)
	}
	var nilLock *sem.Lock
	c0, err := sem.NewCondition(nilLock) // a typed nil is nil: own RLock
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c0.Locker().(*sem.RLock); !ok {
		t.Errorf("NewCondition((*Lock)(nil)) uses a %T", c0.Locker())
	}
	c0.Unlink()
	c0.Close()

	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := sem.NewCondition(l)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Unlink()
	defer c.Close()
	if _, err := sem.OpenLock(c.Name()); !errors.Is(err, sem.ErrKindMismatch) {
		t.Errorf("OpenLock on a Condition = %v", err)
	}
	if _, err := sem.OpenCondition(l.Name()); !errors.Is(err, sem.ErrKindMismatch) {
		t.Errorf("OpenCondition on a Lock = %v", err)
	}
	// The lock is gone: opening the Condition says so.
	l.Unlink()
	if _, err := sem.OpenCondition(c.Name()); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), l.Name()) {
		t.Errorf("OpenCondition with its lock removed = %v", err)
	}
	// Damaged lock references in the payload (offsets from the file start).
	raw, err := shm.Open(c.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	p := raw.Bytes()[128:]
	for _, tc := range []struct {
		what string
		off  int
		val  byte
	}{
		{"flavor", 72, 9},
		{"lock kind", 76, 1},
		{"lock offset", 80, 3},
		{"name length", 88, 0},
		{"name", 100, '/'},
	} {
		old := p[tc.off]
		p[tc.off] = tc.val
		_, err := sem.OpenCondition(c.Name())
		p[tc.off] = old
		if !errors.Is(err, sem.ErrCorrupt) {
			t.Errorf("OpenCondition with a damaged %s = %v", tc.what, err)
		}
	}
}

func TestClosedConditionRefusesUse(t *testing.T) {
	for _, flavor := range condFlavors {
		t.Run(flavor, func(t *testing.T) {
			proctest.CheckShm(t)
			c := newCondition(t, flavor)
			c2, err := sem.OpenCondition(c.Name())
			if err != nil {
				t.Fatal(err)
			}
			if err := c2.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c2.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := c2.Wait(context.Background()); !errors.Is(err, sem.ErrClosed) {
				t.Fatalf("Wait after Close = %v", err)
			}
			c2.Notify(1) // does nothing
			if msg := mustPanic(t, c2.Lock); !strings.Contains(msg, "closed") {
				t.Fatalf("Lock after Close panicked with %q", msg)
			}
			// The original is unaffected.
			c.Lock()
			c.Unlock()
		})
	}
}
