package sem_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
)

// waitKind is one kind of object that waits, for the close tests: make
// makes one (and its cleanup), wait blocks on it until ctx ends or the
// handle closes, close closes the handle.
type waitKind struct {
	name  string
	make  func(t testing.TB) (wait func(ctx context.Context) error, close func() error)
	wants func(err error) bool // the error a wait ended by Close returns
}

func isClosed(err error) bool { return errors.Is(err, sem.ErrClosed) }

var waitKinds = []waitKind{
	{"Lock", func(t testing.TB) (func(context.Context) error, func() error) {
		l, err := sem.NewLock()
		if err != nil {
			t.Fatal(err)
		}
		// Held through a second handle, so that l's own waits must sleep.
		other, err := sem.OpenLock(l.Name())
		if err != nil {
			t.Fatal(err)
		}
		other.Lock()
		return l.LockContext, func() error {
			err := l.Close()
			other.Unlock()
			other.Close()
			l.Unlink()
			return err
		}
	}, isClosed},
	{"RLock", func(t testing.TB) (func(context.Context) error, func() error) {
		r, err := sem.NewRLock()
		if err != nil {
			t.Fatal(err)
		}
		// Held by another goroutine through a second handle.
		other, err := sem.OpenRLock(r.Name())
		if err != nil {
			t.Fatal(err)
		}
		held := make(chan struct{})
		release := make(chan struct{})
		done := make(chan struct{})
		go func() { other.Lock(); close(held); <-release; other.Unlock(); close(done) }()
		<-held
		return r.LockContext, func() error {
			err := r.Close()
			close(release)
			<-done
			other.Close()
			r.Unlink()
			return err
		}
	}, isClosed},
	{"Condition", func(t testing.TB) (func(context.Context) error, func() error) {
		c, err := sem.NewCondition(nil)
		if err != nil {
			t.Fatal(err)
		}
		return func(ctx context.Context) error {
				if err := c.LockContext(ctx); err != nil {
					return err
				}
				err := c.Wait(ctx)
				if err == nil || !isClosed(err) {
					c.Unlock()
				}
				return err
			}, func() error {
				err := c.Close()
				c.Unlink()
				return err
			}
	}, isClosed},
	{"Event", func(t testing.TB) (func(context.Context) error, func() error) {
		e, err := sem.NewEvent()
		if err != nil {
			t.Fatal(err)
		}
		return e.Wait, func() error { err := e.Close(); e.Unlink(); return err }
	}, isClosed},
	{"Semaphore", func(t testing.TB) (func(context.Context) error, func() error) {
		s, err := sem.NewSemaphore(0)
		if err != nil {
			t.Fatal(err)
		}
		return s.Acquire, func() error { err := s.Close(); s.Unlink(); return err }
	}, isClosed},
	{"Barrier", func(t testing.TB) (func(context.Context) error, func() error) {
		b, err := barrier.New(4) // more parties than any test has waiters
		if err != nil {
			t.Fatal(err)
		}
		return func(ctx context.Context) error { _, err := b.Wait(ctx); return err },
			func() error { err := b.Close(); b.Unlink(); return err }
	}, func(err error) bool { return errors.Is(err, barrier.ErrClosed) }},
}

// closeRounds is how many create–wait–close rounds each kind runs:
// MULTIPROC_CLOSE_ROUNDS overrides the default.
func closeRounds() int {
	if n, err := strconv.Atoi(os.Getenv("MULTIPROC_CLOSE_ROUNDS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 500
	}
	return 3000
}

// A wait that ends by its deadline, followed at once by Close, used to
// crash the process: the wait's cancel kick could run after Close had
// unmapped the word (issue 8: 4 crashes in 5 runs within seconds). Each
// kind waits with a 200 µs deadline, or is cancelled, and closes right
// after, with garbage collections in between so that the mappings of
// closed handles really go.
func TestWaitThenCloseNeverFaults(t *testing.T) {
	proctest.CheckShm(t)
	n := closeRounds()
	for _, k := range waitKinds {
		t.Run(k.name, func(t *testing.T) {
			for i := range n {
				wait, closeIt := k.make(t)
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Microsecond)
				if i%2 == 1 {
					go cancel() // a cancel, not a deadline: the kick path
				}
				err := wait(ctx)
				cancel()
				if err == nil {
					t.Fatalf("round %d: wait succeeded on an object nobody releases", i)
				}
				if err := closeIt(); err != nil {
					t.Fatalf("round %d: Close = %v", i, err)
				}
				if i%64 == 0 {
					runtime.GC()
				}
			}
		})
	}
}

// A goroutine blocked on a handle returns the closed error promptly when
// another goroutine closes that handle, and Close returns once it has.
func TestCloseEndsWaitsInProgress(t *testing.T) {
	proctest.CheckShm(t)
	defer sem.SetPollInterval(sem.SetPollInterval(time.Hour)) // only Close can end them
	for _, k := range waitKinds {
		t.Run(k.name, func(t *testing.T) {
			wait, closeIt := k.make(t)
			const waiters = 3
			errs := make(chan error, waiters)
			for range waiters {
				go func() { errs <- wait(context.Background()) }()
			}
			time.Sleep(20 * time.Millisecond) // let them park and sleep
			if err := closeIt(); err != nil {
				t.Fatal(err)
			}
			for range waiters {
				select {
				case err := <-errs:
					if !k.wants(err) {
						t.Fatalf("wait ended by Close = %v", err)
					}
				case <-proctest.Context(t).Done():
					t.Fatal("a wait outlived the Close of its handle")
				}
			}
		})
	}
}

// A goroutine inside its critical section when another goroutine closes
// the handle finishes normally: its Unlock (or Release) still frees the
// lock, so other processes are not kept waiting until this one exits.
// Before, Unlock after Close panicked and left the lock held.
func TestUnlockAfterCloseReleasesTheLock(t *testing.T) {
	proctest.CheckShm(t)
	type locker interface {
		Lock()
		Unlock()
		TryLock() bool
		Release() error
		Close() error
		Unlink() error
		Name() string
	}
	kinds := map[string]struct{ make, open func(string) (locker, error) }{
		"Lock": {
			func(string) (locker, error) { return sem.NewLock() },
			func(n string) (locker, error) { return sem.OpenLock(n) },
		},
		"RLock": {
			func(string) (locker, error) { return sem.NewRLock() },
			func(n string) (locker, error) { return sem.OpenRLock(n) },
		},
	}
	for kind, k := range kinds {
		for _, how := range []string{"Unlock", "Release"} {
			t.Run(kind+"/"+how, func(t *testing.T) {
				l, err := k.make("")
				if err != nil {
					t.Fatal(err)
				}
				defer l.Unlink()
				other, err := k.open(l.Name())
				if err != nil {
					t.Fatal(err)
				}
				defer other.Close()
				l.Lock()
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				if how == "Unlock" {
					l.Unlock()
				} else if err := l.Release(); err != nil {
					t.Fatalf("Release after Close: %v", err)
				}
				if !other.TryLock() {
					t.Fatalf("%s after Close left the lock held", how)
				}
				other.Unlock()
				// Not held any more: the closed handle says it is closed.
				if err := l.Release(); !errors.Is(err, sem.ErrClosed) {
					t.Fatalf("a second Release after Close = %v, want ErrClosed", err)
				}
			})
		}
	}
}
