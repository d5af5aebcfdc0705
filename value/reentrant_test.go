package value

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
)

// Python's `with v.get_lock(): v.value += 1`, ported as it reads, for a
// value over 8 bytes (whose Load and Store take the lock): get_lock() is an
// RLock in Python, and Lock() is one here, so the goroutine holding it may
// Load, Store and Update. Before, Load waited for the goroutine itself, for
// ever and silently (issue 9 item 1).

func init() {
	// value-python-increment: n times `with lock: v = v + 1` on a pair, in
	// the Python form.
	proctest.Register("value-python-increment", func(args []string) error {
		v, err := Open[pair](args[0])
		if err != nil {
			return err
		}
		defer v.Close()
		n, _ := strconv.Atoi(args[1])
		if err := startTogether(args[2], args[3]); err != nil {
			return err
		}
		pythonIncrement(v, n)
		return nil
	})
}

// pythonIncrement is `for _ in range(n): with v.get_lock(): v.value = (a+1, b+1)`.
func pythonIncrement(v *Value[pair], n int) {
	l := v.Lock()
	for range n {
		l.Lock()
		p := v.Load()
		p.A++
		v.Store(p)
		v.Update(func(p *pair) { p.B++ })
		l.Unlock()
	}
}

// within runs f in a goroutine and fails the test if it has not returned
// by the test's deadline: a self-deadlock shows as a failure naming what,
// never as a hung test binary.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-proctest.Context(t).Done():
		t.Fatalf("%s did not return: the goroutine waits for a lock it holds", what)
	}
}

func TestLoadStoreAndUpdateWorkInsideTheValuesLock(t *testing.T) {
	proctest.CheckShm(t)
	v := mustNew(t, pair{})
	within(t, "Load, Store and Update inside Lock()", func() {
		pythonIncrement(v, 3)
		l := v.Lock()
		l.Lock()
		defer l.Unlock()
		if _, err := v.LoadContext(context.Background()); err != nil {
			t.Errorf("LoadContext inside Lock(): %v", err)
		}
		if err := v.StoreContext(context.Background(), v.Load()); err != nil {
			t.Errorf("StoreContext inside Lock(): %v", err)
		}
		// fn may call the value too: the lock is taken once more.
		if err := v.Update(func(p *pair) { p.A += v.Load().B - p.A + 10 }); err != nil {
			t.Errorf("Update calling Load inside its fn: %v", err)
		}
		if d := l.Depth(); d != 1 {
			t.Errorf("depth after the nested calls = %d, want 1", d)
		}
	})
	if got := v.Load(); got != (pair{13, 3}) {
		t.Fatalf("value = %+v, want {13 3}", got)
	}
	if v.Lock().TryLock() {
		v.Lock().Unlock()
	} else {
		t.Fatal("the lock is still held after the critical section")
	}
}

func TestAnotherGoroutineWaitsForTheValuesLock(t *testing.T) {
	proctest.CheckShm(t)
	v := mustNew(t, pair{})
	l := v.Lock()
	l.Lock()
	done := make(chan error, 1)
	go func() { done <- v.Update(func(p *pair) { p.A = 1 }) }()
	select {
	case err := <-done:
		t.Fatalf("Update in another goroutine ran inside the holder's critical section: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := v.Lock().Release(); err != nil {
		t.Fatalf("the holder's Release: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v.Load().A != 1 {
		t.Fatal("the waiting Update was lost")
	}
}

// Processes doing the Python form at once count exactly.
func TestPythonStyleIncrementsAcrossProcessesLoseNothing(t *testing.T) {
	proctest.CheckShm(t)
	const procs, n = 3, 300
	v := mustNew(t, pair{})
	ready := mustNew(t, int32(0))
	proctest.Run(t, procs, "value-python-increment", v.Name(), strconv.Itoa(n), ready.Name(), strconv.Itoa(procs))
	if got := v.Load(); got != (pair{procs * n, procs * n}) {
		t.Fatalf("value = %+v after %d×%d increments", got, procs, n)
	}
}

// Close follows the one close contract (internal/wait): an Update blocked
// on the lock returns ErrClosed, and Close returns once it has. Before, the
// value's own waits had no handle to close, so Close left them blocked.
func TestCloseEndsABlockedUpdate(t *testing.T) {
	proctest.CheckShm(t)
	v := mustNew(t, pair{})
	holder := mustOpen[pair](t, v.Name())
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		holder.Lock().Lock()
		close(held)
		<-release
		holder.Lock().Unlock()
	}()
	<-held
	w := mustOpen[pair](t, v.Name())
	errc := make(chan error, 1)
	go func() { errc <- w.UpdateContext(context.Background(), func(p *pair) { p.A++ }) }()
	time.Sleep(20 * time.Millisecond) // let it block
	within(t, "Close of a value with a blocked Update", func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked Update ended by Close = %v, want ErrClosed", err)
		}
	case <-proctest.Context(t).Done():
		t.Fatal("the blocked Update outlived Close")
	}
	close(release)
	if err := v.Update(func(p *pair) { p.B++ }); err != nil || v.Load() != (pair{0, 1}) {
		t.Fatalf("after the Close: %v, %+v", err, v.Load())
	}
}

// Close racing Updates, Loads and Stores of other goroutines never faults,
// never leaves the lock held, and every racing call either completes or
// reports ErrClosed. Before, Close "must not run concurrently" with them.
func TestCloseRacingCallsNeverFaults(t *testing.T) {
	proctest.CheckShm(t)
	v := mustNew(t, pair{})
	for round := range 200 {
		w := mustOpen[pair](t, v.Name())
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					var err error
					switch (g + i) % 3 {
					case 0:
						err = w.Update(func(p *pair) { p.A++; p.B++ })
					case 1:
						_, err = w.LoadContext(context.Background())
					case 2:
						err = w.StoreContext(context.Background(), pair{})
					}
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("round %d: a call racing Close: %v", round, err)
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if round%20 == 0 {
			runtime.GC() // closed handles' mappings go only when unreachable
		}
		if !v.Lock().TryLock() {
			t.Fatalf("round %d: the lock is held after Close and the end of every call", round)
		}
		v.Lock().Unlock()
	}
}
