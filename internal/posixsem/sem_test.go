//go:build linux

package posixsem

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

// newSem creates a semaphore file in /dev/shm, removed when the test ends.
func newSem(t *testing.T, value uint32, kind layout.Kind, bound uint32) (Sem, *segment.File) {
	t.Helper()
	proctest.CheckShm(t)
	file := "sem." + segment.Generate("semtest")
	f, err := segment.Create(file, FileSize, segment.CreateOptions{}, func(b []byte) error {
		Init(b, value, &Trailer{Kind: kind, Bound: bound, Initial: value})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Unlink(); f.Close() })
	return At(f.Bytes(), f.Dev, f.Ino), f
}

// slowPoll makes the bounded sleeps long, so a test passing quickly shows
// a wake-up arrived, not a poll.
func slowPoll(t *testing.T) {
	old := wait.SetPollInterval(time.Minute)
	t.Cleanup(func() { wait.SetPollInterval(old) })
}

// waitUntil polls cond (state in shared memory that only another party
// changes) until it holds or the test's deadline nears.
func waitUntil(t *testing.T, what string, cond func() bool) {
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

func TestPostAndTryWaitCount(t *testing.T) {
	s, _ := newSem(t, 2, layout.KindSemaphore, ValueMax)
	if !s.TryWait() || !s.TryWait() || s.TryWait() {
		t.Fatal("TryWait did not take exactly the 2 initial tokens")
	}
	for i := 0; i < 5; i++ {
		if err := s.Post(1, ValueMax); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Post(3, ValueMax); err != nil {
		t.Fatal(err)
	}
	if v := s.Value(); v != 8 {
		t.Fatalf("Value = %d, want 8", v)
	}
}

func TestPostRefusesPastBoundAndChangesNothing(t *testing.T) {
	s, _ := newSem(t, 1, layout.KindBounded, 2)
	if err := s.Post(1, 2); err != nil {
		t.Fatal(err)
	}
	before := s.Load()
	if err := s.Post(1, 2); !errors.Is(err, ErrAboveBound) {
		t.Fatalf("Post past bound = %v", err)
	}
	if err := s.Post(4, 5); !errors.Is(err, ErrAboveBound) {
		t.Fatalf("Post of 4 from 2 with bound 5 = %v", err)
	}
	if after := s.Load(); after != before {
		t.Fatalf("refused Post changed the word: %#x → %#x", before, after)
	}
}

func TestPostOverflowsAtSemValueMax(t *testing.T) {
	s, _ := newSem(t, ValueMax-1, layout.KindSemaphore, ValueMax)
	if err := s.Post(1, ValueMax); err != nil {
		t.Fatal(err)
	}
	if err := s.Post(1, ValueMax); err != unix.EOVERFLOW {
		t.Fatalf("Post at SEM_VALUE_MAX = %v, want EOVERFLOW", err)
	}
	if v := s.Value(); v != ValueMax {
		t.Fatalf("Value = %d", v)
	}
}

func TestWaitWakesOnPost(t *testing.T) {
	slowPoll(t)
	s, _ := newSem(t, 0, layout.KindSemaphore, ValueMax)
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background(), nil, nil) }()
	waitUntil(t, "the waiter registers", func() bool { return s.Waiters() == 1 })
	if err := s.Post(1, ValueMax); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := s.Load(); d != 0 {
		t.Fatalf("word after the hand-off = %#x, want 0", d)
	}
}

func TestWaitDeadlineReturnsPromptlyAndUnregisters(t *testing.T) {
	slowPoll(t)
	s, _ := newSem(t, 0, layout.KindSemaphore, ValueMax)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Wait(ctx, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Wait returned after %v", el)
	}
	if d := s.Load(); d != 0 {
		t.Fatalf("word after timeout = %#x, want 0 (unregistered)", d)
	}
}

func TestWaitCancelReturnsPromptlyAndUnregisters(t *testing.T) {
	slowPoll(t)
	s, _ := newSem(t, 0, layout.KindSemaphore, ValueMax)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx, nil, nil) }()
	waitUntil(t, "the waiter registers", func() bool { return s.Waiters() == 1 })
	// Let it sleep: only the kick that cancel arms can end the
	// minute-long sleep promptly.
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled Wait did not return")
	}
	if d := s.Load(); d != 0 {
		t.Fatalf("word after cancel = %#x, want 0", d)
	}
}

func TestWaitEndsWhenTheHandleCloses(t *testing.T) {
	slowPoll(t)
	s, _ := newSem(t, 0, layout.KindSemaphore, ValueMax)
	var h wait.Handle
	h.Init()
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background(), &h, nil) }()
	waitUntil(t, "the waiter registers", func() bool { return s.Waiters() == 1 })
	h.Close(s.Kick)
	if err := <-done; !errors.Is(err, wait.ErrClosed) {
		t.Fatalf("Wait = %v", err)
	}
	if s.Waiters() != 0 {
		t.Fatal("stopped waiter stayed registered")
	}
}

// A post's single wake-up may go to a waiter that is being cancelled. That
// waiter must pass it on, or the other sleeper stays asleep although a
// token is there. The race is set up exactly: a registered "waiter" that
// swallowed the wake-up (its registration is made by hand and the post's
// CAS is done without the wake), then its unregistering must wake B.
func TestCancelPassesSwallowedWakeToNextWaiter(t *testing.T) {
	slowPoll(t)
	s, _ := newSem(t, 0, layout.KindSemaphore, ValueMax)
	atomic.AddUint64(s.data, waitersOne) // waiter A registers
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background(), nil, nil) }() // B
	waitUntil(t, "B registers", func() bool { return s.Waiters() == 2 })
	atomic.AddUint64(s.data, 1) // a post whose wake-up went to A
	s.unregister()              // A cancels
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B stayed asleep with a token available: the wake-up was lost")
	}
	if d := s.Load(); d != 0 {
		t.Fatalf("word = %#x, want 0", d)
	}
}

func TestUnregisterNeverUnderflows(t *testing.T) {
	s, _ := newSem(t, 1, layout.KindSemaphore, ValueMax)
	s.unregister()
	if d := s.Load(); d != 1 {
		t.Fatalf("word = %#x, want 1", d)
	}
	if take(5) != 4 || take(5|3<<32) != 4|2<<32 {
		t.Fatal("take")
	}
}

// Goroutines that time out, are cancelled or succeed at random, against
// posters: every token posted is either taken or still there at the end,
// and nobody is left registered.
func TestCancelStormKeepsTokensExact(t *testing.T) {
	s, _ := newSem(t, 0, layout.KindSemaphore, ValueMax)
	const waiters, posts = 16, 2000
	var took atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i*j%7)*100*time.Microsecond)
				if j%3 == 0 {
					go cancel()
				}
				if err := s.Wait(ctx, nil, nil); err == nil {
					took.Add(1)
				}
				cancel()
			}
		}(i)
	}
	for i := 0; i < posts; i++ {
		if err := s.Post(1, ValueMax); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	waitUntil(t, "all tokens are taken", func() bool { return s.Value() == 0 })
	close(stop)
	wg.Wait()
	if got := took.Load() + int64(s.Value()); got != posts {
		t.Fatalf("taken %d + left %d ≠ posted %d", took.Load(), s.Value(), posts)
	}
	if w := s.Waiters(); w != 0 {
		t.Fatalf("%d waiters left registered", w)
	}
}
