package sem_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("event-wait", eventWaitRole)
	proctest.Register("event-set", eventSetRole)
	proctest.Register("event-pingpong", eventPingPongRole)
}

// eventWaitRole opens args[0], says "waiting", waits, and says "woke".
func eventWaitRole(args []string) error {
	e, err := sem.OpenEvent(args[0])
	if err != nil {
		return err
	}
	defer e.Close()
	fmt.Println("waiting")
	ctx, cancel := proctest.ChildContext() // the test's deadline
	defer cancel()
	if err := e.Wait(ctx); err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	fmt.Println("woke")
	return nil
}

func eventSetRole(args []string) error {
	e, err := sem.OpenEvent(args[0])
	if err != nil {
		return err
	}
	defer e.Close()
	return e.Set()
}

// eventPingPongRole answers rounds pings: wait ping, clear it, check and
// bump the shared counter, set pong.
func eventPingPongRole(args []string) error {
	ping, err := sem.OpenEvent(args[0])
	if err != nil {
		return err
	}
	defer ping.Close()
	pong, err := sem.OpenEvent(args[1])
	if err != nil {
		return err
	}
	defer pong.Close()
	seg, err := shm.Open(args[2])
	if err != nil {
		return err
	}
	defer seg.Close()
	rounds, _ := strconv.Atoi(args[3])
	ctx, cancel := proctest.ChildContext() // the test's deadline
	defer cancel()
	b := seg.Bytes()
	for i := range rounds {
		if err := ping.Wait(ctx); err != nil {
			return fmt.Errorf("round %d: %w", i, err)
		}
		ping.Clear()
		// A plain (non-atomic) read and write: Set/Wait must order them.
		if got := binary.LittleEndian.Uint64(b); got != uint64(2*i+1) {
			return fmt.Errorf("round %d: counter %d, want %d", i, got, 2*i+1)
		}
		binary.LittleEndian.PutUint64(b, uint64(2*i+2))
		pong.Set()
	}
	return nil
}

// eventEventually polls cond (a fact in shared memory) until it holds.
func eventEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline, _ := proctest.Context(t).Deadline() // the test's own
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newTestEvent(t *testing.T) *sem.Event {
	t.Helper()
	e, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Unlink()
		e.Close()
	})
	return e
}

func TestEventSetInOneProcessReleasesWaitersInOthers(t *testing.T) {
	proctest.CheckShm(t)
	e := newTestEvent(t)
	waiters := proctest.StartN(t, 3, "event-wait", e.Name())
	for _, c := range waiters {
		c.WaitLine("waiting")
	}
	// Every child has a goroutine in the kernel (or about to enter it).
	eventEventually(t, "3 processes sleep on the event", func() bool { return sem.EventSleepers(e) == 3 })
	if e.IsSet() {
		t.Fatal("new Event is set")
	}
	proctest.Run(t, 1, "event-set", e.Name())
	for _, c := range waiters {
		c.WaitLine("woke")
		c.MustSucceed()
	}
	if !e.IsSet() {
		t.Fatal("Set in a child not visible in the parent")
	}
	if n := sem.EventSleepers(e); n != 0 {
		t.Fatalf("%d sleepers left after every waiter returned", n)
	}
}

func TestEventPulseIsSeenByWaitersThatSleptThroughIt(t *testing.T) {
	proctest.CheckShm(t)
	e := newTestEvent(t)
	waiters := proctest.StartN(t, 3, "event-wait", e.Name())
	for _, c := range waiters {
		c.WaitLine("waiting")
	}
	eventEventually(t, "3 processes sleep on the event", func() bool { return sem.EventSleepers(e) == 3 })
	e.Set()
	e.Clear() // the flag is down again before any waiter can look
	for _, c := range waiters {
		c.MustSucceed()
	}
	if e.IsSet() {
		t.Fatal("flag still set after Clear")
	}
	// Pulse semantics do not leak into later waits: a new Wait blocks.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait after the pulse = %v, want DeadlineExceeded", err)
	}
}

func TestEventPingPongAcrossProcessesOrdersMemory(t *testing.T) {
	proctest.CheckShm(t)
	ping, pong := newTestEvent(t), newTestEvent(t)
	seg, err := shm.Create("", 8)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	const rounds = 2000
	child := proctest.Start(t, "event-pingpong", ping.Name(), pong.Name(), seg.Name(), strconv.Itoa(rounds))
	ctx := proctest.Context(t)
	b := seg.Bytes()
	for i := range rounds {
		binary.LittleEndian.PutUint64(b, uint64(2*i+1))
		ping.Set()
		if err := pong.Wait(ctx); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		pong.Clear()
		if got := binary.LittleEndian.Uint64(b); got != uint64(2*i+2) {
			t.Fatalf("round %d: counter %d, want %d", i, got, 2*i+2)
		}
	}
	child.MustSucceed()
}

func TestEventSetWithoutWaitersMakesNoSyscall(t *testing.T) {
	proctest.CheckShm(t)
	var wakes atomic.Int32
	defer sem.SetEventWakeHook(func() { wakes.Add(1) })()
	e := newTestEvent(t)
	e.Set()
	e.Set() // already set: no change, no wake
	e.Clear()
	e.Set()
	if n := wakes.Load(); n != 0 {
		t.Fatalf("Set with no waiters made %d FUTEX_WAKE calls", n)
	}
	e.Clear()
	done := make(chan error)
	go func() { done <- e.Wait(context.Background()) }()
	eventEventually(t, "the waiter sleeps", func() bool { return sem.EventSleepers(e) == 1 })
	e.Set()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := wakes.Load(); n != 1 {
		t.Fatalf("Set with a sleeping waiter made %d FUTEX_WAKE calls, want 1", n)
	}
}

func TestEventWaitTimeoutReturnsPromptlyAndLeavesEventUsable(t *testing.T) {
	// Waits sleep an hour between looks: returning at all proves the
	// deadline or the cancel ended the wait, with no timing claim.
	defer sem.SetPollInterval(sem.SetPollInterval(time.Hour))
	proctest.CheckShm(t)
	e := newTestEvent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
	t.Logf("Wait with a 100ms deadline took %v", time.Since(start)) // how fast is a benchmark's claim, not a test's
	if n := sem.EventSleepers(e); n != 0 {
		t.Fatalf("timed-out Wait left %d sleepers", n)
	}
	e.Set()
	if err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestEventWaitCancelReturnsPromptly(t *testing.T) {
	// Waits sleep an hour between looks: returning at all proves the
	// deadline or the cancel ended the wait, with no timing claim.
	defer sem.SetPollInterval(sem.SetPollInterval(time.Hour))
	proctest.CheckShm(t)
	e := newTestEvent(t)
	for range 20 { // the cancel lands at different points of the sleep
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Wait(ctx) }()
		eventEventually(t, "the waiter sleeps", func() bool { return sem.EventSleepers(e) == 1 })
		cancel()
		start := time.Now()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Wait = %v, want Canceled", err)
			}
		case <-proctest.Context(t).Done():
			t.Fatal("Wait did not return after cancel, by the test's deadline")
		}
		t.Logf("cancelled Wait took %v", time.Since(start)) // how fast is a benchmark's claim, not a test's
		eventEventually(t, "the sleeper count drops", func() bool { return sem.EventSleepers(e) == 0 })
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled ctx = %v", err)
	}
	e.Set()
	if err := e.Wait(ctx); err != nil {
		t.Fatalf("Wait on a set Event with a cancelled ctx = %v, want nil", err)
	}
}

func TestEventManyGoroutinesShareOneKernelSleeper(t *testing.T) {
	proctest.CheckShm(t)
	e := newTestEvent(t)
	const n = 200
	var wg sync.WaitGroup
	var started atomic.Int32
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			errs <- e.Wait(context.Background())
		}()
	}
	eventEventually(t, "all goroutines started", func() bool { return started.Load() == n })
	eventEventually(t, "one goroutine sleeps", func() bool { return sem.EventSleepers(e) == 1 })
	time.Sleep(20 * time.Millisecond) // give latecomers the chance to break the rule
	if s := sem.EventSleepers(e); s != 1 {
		t.Fatalf("%d goroutines of one handle in the kernel, want 1", s)
	}
	e.Set()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestEventCloseReleasesLocalWaitersOnly(t *testing.T) {
	proctest.CheckShm(t)
	e := newTestEvent(t)
	other, err := sem.OpenEvent(e.Name())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- other.Wait(context.Background()) }()
	go func() { done <- other.Wait(context.Background()) }()
	eventEventually(t, "a waiter sleeps", func() bool { return sem.EventSleepers(e) == 1 })
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-done; !errors.Is(err, sem.ErrClosed) {
			t.Fatalf("Wait during Close = %v, want ErrClosed", err)
		}
	}
	if err := other.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := other.Set(); !errors.Is(err, sem.ErrClosed) {
		t.Fatalf("Set after Close = %v, want ErrClosed", err)
	}
	if other.IsSet() {
		t.Fatal("IsSet after Close = true")
	}
	// The first handle is untouched.
	e.Set()
	if !e.IsSet() {
		t.Fatal("Set lost")
	}
}

func TestEventSurvivesAWaiterKilledInItsSleep(t *testing.T) {
	proctest.CheckShm(t)
	e := newTestEvent(t)
	victim := proctest.Start(t, "event-wait", e.Name())
	victim.WaitLine("waiting")
	eventEventually(t, "the victim sleeps", func() bool { return sem.EventSleepers(e) == 1 })
	victim.Kill()
	// The dead sleeper's count is stale (an upper bound); nothing blocks.
	survivor := proctest.Start(t, "event-wait", e.Name())
	survivor.WaitLine("waiting")
	eventEventually(t, "the survivor sleeps", func() bool { return sem.EventSleepers(e) == 2 })
	e.Set()
	survivor.MustSucceed()
}

func TestOpenEventRefusesWhatIsNotAnEvent(t *testing.T) {
	proctest.CheckShm(t)
	if _, err := sem.OpenEvent("mpgo_test_no_such_event"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want fs.ErrNotExist", err)
	}
	if _, err := sem.OpenEvent("a/b"); !errors.Is(err, sem.ErrInvalidName) {
		t.Errorf("bad name: %v, want ErrInvalidName", err)
	}

	other, err := segment.CreateObject(segment.ObjectSpec{Kind: layout.KindBarrier, PayloadSize: 64}, segment.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	defer other.Unlink()
	_, err = sem.OpenEvent(other.Name)
	if !errors.Is(err, sem.ErrKindMismatch) {
		t.Errorf("barrier opened as Event: %v, want ErrKindMismatch", err)
	}
	t.Logf("kind mismatch: %v", err)

	short, err := segment.CreateObject(segment.ObjectSpec{Kind: layout.KindEvent, PayloadSize: 8}, segment.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	defer short.Unlink()
	if _, err := sem.OpenEvent(short.Name); !errors.Is(err, sem.ErrCorrupt) {
		t.Errorf("short payload: %v, want ErrCorrupt", err)
	}

	garbage, err := shm.Create("", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	defer garbage.Unlink()
	for i := range garbage.Bytes() {
		garbage.Bytes()[i] = byte(i * 31)
	}
	_, err = sem.OpenEvent(garbage.Name())
	if !errors.Is(err, sem.ErrKindMismatch) || !strings.Contains(err.Error(), garbage.Name()+" is a raw segment") {
		t.Errorf("raw segment of garbage: %v, want ErrKindMismatch naming a raw segment", err)
	}
	t.Logf("garbage: %v", err)

	// A real Event whose header was damaged after creation.
	e := newTestEvent(t)
	raw, err := shm.Open(e.Name())
	if err != nil {
		t.Fatal(err)
	}
	raw.Bytes()[12] ^= 0xff // the kind field: breaks the checksum
	raw.Close()
	if _, err := sem.OpenEvent(e.Name()); !errors.Is(err, sem.ErrCorrupt) {
		t.Errorf("damaged header: %v, want ErrCorrupt", err)
	}
}

func TestEventStateIsReadableWithoutOpening(t *testing.T) {
	proctest.CheckShm(t)
	e := newTestEvent(t)
	done := make(chan error, 1)
	go func() { done <- e.Wait(context.Background()) }()
	eventEventually(t, "the waiter sleeps", func() bool { return e.State().Sleepers == 1 })
	data, err := os.ReadFile("/dev/shm/" + e.Name())
	if err != nil {
		t.Fatal(err)
	}
	st, err := sem.InspectEvent(data)
	if err != nil || st != (sem.EventState{Set: false, Sleepers: 1}) {
		t.Fatalf("InspectEvent = %+v, %v", st, err)
	}
	e.Set()
	<-done
	if st := e.State(); !st.Set || st.Sleepers != 0 {
		t.Fatalf("State after Set = %+v", st)
	}
	if _, err := sem.InspectEvent(data[:100]); !errors.Is(err, sem.ErrCorrupt) {
		t.Errorf("short file: %v", err)
	}
	lock, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlink()
	defer lock.Close()
	lockData, err := os.ReadFile("/dev/shm/" + lock.Name())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sem.InspectEvent(lockData); !errors.Is(err, sem.ErrKindMismatch) {
		t.Errorf("a Lock's file: %v", err)
	}
}

func TestForeignOwnedEventNeedsAllowForeignOwner(t *testing.T) {
	proctest.CheckShm(t)
	e := newTestEvent(t)
	if err := os.Chown("/dev/shm/"+e.Name(), 65534, 65534); err != nil {
		t.Skipf("cannot give the file to another user (needs root): %v", err)
	}
	if _, err := sem.OpenEvent(e.Name()); !errors.Is(err, segment.ErrForeignOwner) {
		t.Fatalf("OpenEvent of another user's Event = %v", err)
	}
	o, err := sem.OpenEvent(e.Name(), sem.AllowForeignOwner())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	e.Set()
	if !o.IsSet() {
		t.Fatal("Set not seen through the foreign handle")
	}
}
