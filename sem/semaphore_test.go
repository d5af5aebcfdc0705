package sem_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/posixsem"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
)

// newTestSem creates a semaphore for one test and removes it at the end.
func newTestSem(t *testing.T, value int, bounded bool, opts ...sem.Option) *sem.Semaphore {
	t.Helper()
	proctest.CheckShm(t)
	var s *sem.Semaphore
	var err error
	if bounded {
		s, err = sem.NewBoundedSemaphore(value, opts...)
	} else {
		s, err = sem.NewSemaphore(value, opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unlink(); s.Close() })
	return s
}

// semFile is the /dev/shm path of a semaphore name ("/NAME").
func semFile(name string) string { return segment.Path("sem." + strings.TrimLeft(name, "/")) }

// semSlowPoll makes kernel sleeps long, so a prompt return proves a wake-up
// (not a poll) ended the sleep.
func semSlowPoll(t *testing.T) {
	old := sem.SetPollInterval(time.Minute)
	t.Cleanup(func() { sem.SetPollInterval(old) })
}

// semWaitUntil polls state that another party changes (a semaphore's waiter
// count, say) until cond holds or the test's deadline nears.
func semWaitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx := proctest.Context(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		case <-time.After(time.Millisecond):
		}
	}
}

// semMustBlock starts f and checks it is still blocked once the semaphore
// shows it registered as a waiter; it returns f's result channel.
func semMustBlock(t *testing.T, s *sem.Semaphore, waiters int, f func() error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	semWaitUntil(t, "the waiter sleeps", func() bool { return s.Waiters() >= waiters })
	select {
	case err := <-done:
		t.Fatalf("call did not block: returned %v", err)
	default:
	}
	return done
}

func TestSemaphoreCountsTokens(t *testing.T) {
	s := newTestSem(t, 2, false)
	if !s.TryAcquire() || !s.TryAcquire() || s.TryAcquire() {
		t.Fatal("TryAcquire did not take exactly the 2 initial tokens")
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseN(3); err != nil {
		t.Fatal(err)
	}
	if v := s.Value(); v != 4 {
		t.Fatalf("Value = %d, want 4", v)
	}
	if err := s.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := s.Value(); v != 3 {
		t.Fatalf("Value = %d, want 3", v)
	}
	if s.Bounded() || s.MaxValue() != sem.ValueMax || !strings.HasPrefix(s.Name(), "/mpgo_sem_") {
		t.Fatalf("Bounded %v MaxValue %d Name %q", s.Bounded(), s.MaxValue(), s.Name())
	}
}

func TestAcquireBlocksUntilRelease(t *testing.T) {
	semSlowPoll(t)
	s := newTestSem(t, 0, false)
	done := semMustBlock(t, s, 1, func() error { return s.Acquire(context.Background()) })
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Value() != 0 || s.Waiters() != 0 {
		t.Fatalf("after hand-off: value %d waiters %d", s.Value(), s.Waiters())
	}
}

func TestBoundedReleasePastBoundFailsAndChangesNothing(t *testing.T) {
	s := newTestSem(t, 2, true)
	if !s.Bounded() || s.MaxValue() != 2 {
		t.Fatalf("Bounded %v MaxValue %d", s.Bounded(), s.MaxValue())
	}
	err := s.Release()
	if !errors.Is(err, sem.ErrReleasedTooManyTimes) {
		t.Fatalf("Release at the bound = %v", err)
	}
	if !strings.Contains(err.Error(), "bound 2") || !strings.Contains(err.Error(), s.Name()[1:]) {
		t.Fatalf("message does not name the semaphore and bound: %v", err)
	}
	if v := s.Value(); v != 2 {
		t.Fatalf("Value = %d after a refused release", v)
	}
	s.TryAcquire()
	if err := s.ReleaseN(2); !errors.Is(err, sem.ErrReleasedTooManyTimes) {
		t.Fatalf("ReleaseN(2) from 1 with bound 2 = %v", err)
	}
	if v := s.Value(); v != 1 {
		t.Fatalf("Value = %d after a refused ReleaseN, want 1 (all or nothing)", v)
	}
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestBoundedZeroIsAllowedButNeverReleasable(t *testing.T) {
	s := newTestSem(t, 0, true)
	if s.TryAcquire() {
		t.Fatal("took a token from BoundedSemaphore(0)")
	}
	if err := s.Release(); !errors.Is(err, sem.ErrReleasedTooManyTimes) {
		t.Fatalf("Release = %v", err)
	}
}

func TestReleaseAtSemValueMaxIsEOVERFLOW(t *testing.T) {
	s := newTestSem(t, sem.ValueMax, false)
	err := s.Release()
	if !errors.Is(err, syscall.EOVERFLOW) || !strings.Contains(err.Error(), "SEM_VALUE_MAX") {
		t.Fatalf("Release at SEM_VALUE_MAX = %v", err)
	}
	if v := s.Value(); v != sem.ValueMax {
		t.Fatalf("Value = %d", v)
	}
}

func TestAcquireTimeoutReturnsPromptlyAndLeavesSemaphoreUsable(t *testing.T) {
	semSlowPoll(t)
	s := newTestSem(t, 0, false)
	start := time.Now() // before the deadline is set, so it is at least 50ms later
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Acquire(ctx)
	el := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire = %v", err)
	}
	if el < 50*time.Millisecond || el > 2*time.Second {
		t.Fatalf("Acquire with a 50ms timeout returned after %v", el)
	}
	if s.Waiters() != 0 || s.Value() != 0 {
		t.Fatalf("after timeout: value %d waiters %d", s.Value(), s.Waiters())
	}
	s.Release()
	if err := s.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAcquireCancelReturnsPromptlyAndLeavesSemaphoreUsable(t *testing.T) {
	semSlowPoll(t)
	s := newTestSem(t, 0, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := semMustBlock(t, s, 1, func() error { return s.Acquire(ctx) })
	// Past the waiter's first, 1 ms sleep, only the kick that cancel sets
	// off can end its minute-long sleep promptly.
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire = %v", err)
		}
	case <-proctest.Context(t).Done():
		t.Fatal("cancelled Acquire did not return")
	}
	t.Logf("cancelled Acquire returned after %v", time.Since(start)) // how fast is a benchmark's claim, not a test's
	if s.Waiters() != 0 {
		t.Fatalf("cancelled waiter left registered: %d", s.Waiters())
	}
	s.Release()
	if !s.TryAcquire() {
		t.Fatal("token lost after a cancelled Acquire")
	}
}

func TestAcquireWithDoneContextFailsWithoutToken(t *testing.T) {
	s := newTestSem(t, 0, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v", err)
	}
	if s.Waiters() != 0 {
		t.Fatal("registered")
	}
}

// More goroutines than the handle lets sleep in the kernel: all of them
// get a token when enough are released, none is lost at the gate.
func TestManyGoroutinesAllServedThroughTheGate(t *testing.T) {
	s := newTestSem(t, 0, false)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Acquire(proctest.Context(t))
		}()
	}
	semWaitUntil(t, "some goroutines sleep", func() bool { return s.Waiters() > 0 })
	for i := 0; i < n; i++ {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.Value() != 0 || s.Waiters() != 0 {
		t.Fatalf("value %d waiters %d", s.Value(), s.Waiters())
	}
}

// Goroutines that time out, are cancelled, or succeed, against releases:
// tokens released = tokens taken + tokens left, nobody left registered,
// and every goroutine that keeps waiting is eventually served.
func TestCancelDoesntLoseTokenOrStrandWaiter(t *testing.T) {
	s := newTestSem(t, 0, false)
	const goroutines, quota = 24, 100 // each goroutine takes exactly quota tokens
	var gaveUp atomic.Int64
	var wg sync.WaitGroup
	fail := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for took, j := 0, 0; took < quota; j++ {
				ctx, cancel := context.WithTimeout(proctest.Context(t), time.Duration((g*7+j)%5)*200*time.Microsecond)
				if j%3 == 0 {
					go cancel()
				}
				err := s.Acquire(ctx)
				cancel()
				switch {
				case err == nil:
					took++
				case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
					gaveUp.Add(1)
				default:
					fail <- err
					return
				}
			}
		}(g)
	}
	for i := 0; i < goroutines*quota; i++ {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
		if i%8 == 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	wg.Wait()
	close(fail)
	for err := range fail {
		t.Fatal(err)
	}
	if s.Value() != 0 || s.Waiters() != 0 {
		t.Fatalf("value %d waiters %d, want 0 0", s.Value(), s.Waiters())
	}
	t.Logf("%d acquires gave up (timeout or cancel) while %d succeeded", gaveUp.Load(), goroutines*quota)
}

func TestCloseReleasesBlockedAcquire(t *testing.T) {
	semSlowPoll(t)
	proctest.CheckShm(t)
	s, err := sem.NewSemaphore(0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlink()
	done := semMustBlock(t, s, 1, func() error { return s.Acquire(context.Background()) })
	queued := make(chan error, 8)
	for i := 0; i < 8; i++ { // more than can sleep in the kernel: some wait at the gate
		go func() { queued <- s.Acquire(context.Background()) }()
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-done:
		if !errors.Is(err, sem.ErrClosed) {
			t.Fatalf("Acquire during Close = %v", err)
		}
	case <-proctest.Context(t).Done():
		t.Fatal("Close did not release the blocked Acquire")
	}
	for i := 0; i < 8; i++ {
		if err := <-queued; !errors.Is(err, sem.ErrClosed) {
			t.Fatalf("queued Acquire during Close = %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := s.Acquire(context.Background()); !errors.Is(err, sem.ErrClosed) {
		t.Fatalf("Acquire after Close = %v", err)
	}
	if err := s.Release(); !errors.Is(err, sem.ErrClosed) {
		t.Fatalf("Release after Close = %v", err)
	}
	if s.TryAcquire() || s.Value() != 0 || s.Waiters() != 0 {
		t.Fatal("closed handle still answers")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestOpenSharesTheSemaphoreAndSurvivesUnlink(t *testing.T) {
	s := newTestSem(t, 0, true)
	s2, err := sem.OpenSemaphore(s.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !s2.Bounded() || s2.MaxValue() != 0 || s2.Name() != s.Name() {
		t.Fatalf("opened: bounded %v max %d name %q", s2.Bounded(), s2.MaxValue(), s2.Name())
	}
	b, err := sem.OpenBoundedSemaphore(strings.TrimPrefix(s.Name(), "/"))
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	if _, err := sem.OpenSemaphore(s.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open after Unlink = %v", err)
	}
	if err := s2.Release(); !errors.Is(err, sem.ErrReleasedTooManyTimes) {
		t.Fatalf("the bound lives in the file: Release = %v", err)
	}
}

func TestNamedCreateModeAndPersistent(t *testing.T) {
	name := "/" + segment.Generate("semtest")
	s := newTestSem(t, 1, false, sem.Name(name), sem.Mode(0o640), sem.Persistent())
	if s.Name() != name {
		t.Fatalf("Name = %q, want %q", s.Name(), name)
	}
	st, err := os.Stat(semFile(name))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 || st.Size() != posixsem.FileSize {
		t.Fatalf("file mode %v size %d", st.Mode(), st.Size())
	}
	info, err := posixsem.Inspect("sem." + name[1:])
	if err != nil || !info.Persistent() || info.Trailer.CreatorPID != uint32(os.Getpid()) {
		t.Fatalf("Inspect = %+v, %v", info, err)
	}
	if _, err := sem.NewSemaphore(0, sem.Name(name)); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("creating a taken name = %v", err)
	}
	d := newTestSem(t, 0, false)
	if st, _ := os.Stat(semFile(d.Name())); st.Mode().Perm() != 0o600 {
		t.Fatalf("default mode %v", st.Mode())
	}
}

// Calls racing with Close either complete or fail with ErrClosed; none
// touches unmapped memory, even once the handle is garbage and its
// mapping is gone.
func TestCloseRacingCallsNeverFault(t *testing.T) {
	proctest.CheckShm(t)
	for round := 0; round < 20; round++ {
		s, err := sem.NewSemaphore(1)
		if err != nil {
			t.Fatal(err)
		}
		s.Unlink()
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				for i := 0; i < 2000; i++ {
					if err := s.Acquire(ctx); err != nil {
						if errors.Is(err, sem.ErrClosed) || errors.Is(err, context.DeadlineExceeded) {
							return
						}
						t.Error(err)
						return
					}
					if err := s.Release(); err != nil && !errors.Is(err, sem.ErrClosed) {
						t.Error(err)
						return
					}
					s.Value()
				}
			}()
		}
		time.Sleep(time.Duration(round%4) * 100 * time.Microsecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
	runtime.GC()
	runtime.GC()
}

// Close drops the file (and the liveness flock) at once; the handle's own
// 32-byte mapping goes when the handle is garbage.
func TestMappingReleasedWhenHandleIsGarbage(t *testing.T) {
	proctest.CheckShm(t)
	s, err := sem.NewSemaphore(0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(semFile(s.Name()))
	if err != nil {
		t.Fatal(err)
	}
	ino := strconv.FormatUint(st.Sys().(*syscall.Stat_t).Ino, 10)
	s.Unlink()
	mapped := func() bool { // is a mapping of the file's inode in /proc/self/maps?
		b, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 6 && f[4] == ino && strings.HasPrefix(f[5], "/dev/shm/") {
				return true
			}
		}
		return false
	}
	if !mapped() {
		t.Fatal("semaphore not in /proc/self/maps while open")
	}
	s.Close()
	s = nil
	semWaitUntil(t, "the collected handle's mapping is gone", func() bool {
		runtime.GC()
		return !mapped()
	})
}
