//go:build linux

package wait

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/futex"
)

func TestCountCPUList(t *testing.T) {
	for s, want := range map[string]int{"0": 1, "0-1": 2, "0-3,8,10-11": 7, "": 0, "x": 0, "3-1": 0} {
		if got := countCPUList(s); got != want {
			t.Errorf("countCPUList(%q) = %d, want %d", s, got, want)
		}
	}
}

// mustPark waits until the gate has n parked goroutines.
func mustPark(t *testing.T, g *Gate, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		c := 0
		for w := g.head; w != nil; w = w.next {
			c++
		}
		g.mu.Unlock()
		if c == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines parked, want %d", c, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGateHandsOnInArrivalOrder(t *testing.T) {
	var g Gate
	ctx := context.Background()
	if held, err := g.Enter(ctx, nil, nil); !held || err != nil {
		t.Fatalf("first Enter = %v, %v", held, err)
	}
	order := make(chan int, 3)
	for i := range 3 {
		go func() {
			held, err := g.Enter(ctx, nil, nil)
			if !held || err != nil {
				t.Errorf("Enter %d = %v, %v", i, held, err)
			}
			order <- i
			g.Leave()
		}()
		mustPark(t, &g, i+1) // arrive one after another
	}
	g.Leave()
	for want := range 3 {
		if got := <-order; got != want {
			t.Fatalf("holder %d came %d-th", got, want)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held || g.head != nil {
		t.Fatal("gate still held after every holder left")
	}
}

func TestGateLeaveWakesExactlyOne(t *testing.T) {
	var g Gate
	ctx := context.Background()
	g.Enter(ctx, nil, nil)
	var holders atomic.Int32
	release := make(chan struct{})
	for range 5 {
		go func() {
			if held, _ := g.Enter(ctx, nil, nil); held {
				holders.Add(1)
				<-release
				g.Leave()
			}
		}()
	}
	mustPark(t, &g, 5)
	g.Leave()
	mustPark(t, &g, 4)
	time.Sleep(10 * time.Millisecond)
	if n := holders.Load(); n != 1 {
		t.Fatalf("%d holders after one Leave, want 1", n)
	}
	close(release)
}

func TestGateLeaveChangedReleasesSatisfiedWaiters(t *testing.T) {
	var g Gate
	ctx := context.Background()
	g.Enter(ctx, nil, nil)
	var flag atomic.Bool
	done := make(chan bool, 4)
	for range 4 {
		go func() {
			held, err := g.Enter(ctx, nil, flag.Load)
			if err != nil {
				t.Error(err)
			}
			if held {
				// The new holder re-checks as holders do, then leaves.
				if !flag.Load() {
					t.Error("holder got the gate before the change")
				}
				g.LeaveChanged()
			}
			done <- held
		}()
	}
	mustPark(t, &g, 4)
	flag.Store(true)
	g.LeaveChanged()
	for range 4 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a parked goroutine whose condition came true was not released")
		}
	}
}

func TestGateCancelWhileParked(t *testing.T) {
	var g Gate
	g.Enter(context.Background(), nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { _, err := g.Enter(ctx, nil, nil); res <- err }()
	mustPark(t, &g, 1)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Enter = %v, want Canceled", err)
	}
	mustPark(t, &g, 0)
	g.Leave()
	if held, _ := g.Enter(context.Background(), nil, nil); !held {
		t.Fatal("gate not free after the cancelled waiter left")
	}
}

func TestGateClosingReleasesParked(t *testing.T) {
	var g Gate
	g.Enter(context.Background(), nil, nil)
	var h Handle
	h.Init()
	res := make(chan error, 1)
	go func() { _, err := g.Enter(context.Background(), &h, nil); res <- err }()
	mustPark(t, &g, 1)
	h.Close(nil)
	if err := <-res; err != ErrClosed {
		t.Fatalf("Enter = %v, want ErrClosed", err)
	}
}

// A waiter granted the gate at the moment it gives up must pass it on, or
// the next waiter is stranded.
func TestGateGrantRacingCancelIsPassedOn(t *testing.T) {
	for range 200 {
		var g Gate
		g.Enter(context.Background(), nil, nil)
		ctx, cancel := context.WithCancel(context.Background())
		first := make(chan bool, 1)
		go func() { held, _ := g.Enter(ctx, nil, nil); first <- held }()
		mustPark(t, &g, 1)
		second := make(chan bool, 1)
		go func() { held, _ := g.Enter(context.Background(), nil, nil); second <- held }()
		mustPark(t, &g, 2)
		go cancel()
		g.Leave() // races the cancel: the first waiter is granted, or gives up
		if <-first {
			g.Leave() // its grant won: it holds the gate and leaves normally
		}
		select {
		case held := <-second:
			if !held {
				t.Fatal("second waiter left without the gate")
			}
			g.Leave()
		case <-time.After(10 * time.Second):
			t.Fatal("second waiter stranded")
		}
	}
}

func TestRegistrySharesAndForgets(t *testing.T) {
	var r Registry[Gate]
	k := Key{Dev: 1, Ino: 2, Off: 3}
	a, b := r.Get(k), r.Get(k)
	if a != b {
		t.Fatal("two Gets of one key gave two values")
	}
	if r.Get(Key{Dev: 1, Ino: 2, Off: 4}) == a {
		t.Fatal("another key gave the same value")
	}
	runtime.KeepAlive(a)
	a, b = nil, nil
	deadline := time.Now().Add(10 * time.Second)
	for r.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left after their values became garbage", r.Len())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

func TestSleeperTimesOutAtTheDeadline(t *testing.T) {
	var w uint32
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	s := NewSleeper(ctx, &w, nil, nil)
	defer s.Stop()
	var err error
	for err == nil {
		_, err = s.Sleep(0)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sleep = %v", err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("returned after %v, before the deadline", el)
	}
}

func TestSleeperCancelKicksItOut(t *testing.T) {
	defer SetPollInterval(SetPollInterval(time.Hour)) // only the kick can help
	var w uint32
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		s := NewSleeper(ctx, &w, nil, nil)
		defer s.Stop()
		for {
			if _, err := s.Sleep(0); err != nil {
				res <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled sleeper stayed in the kernel")
	}
}

func TestSleeperSeesClosing(t *testing.T) {
	defer SetPollInterval(SetPollInterval(time.Hour))
	var w uint32
	var h Handle
	h.Init()
	res := make(chan error, 1)
	go func() {
		s := NewSleeper(context.Background(), &w, nil, &h)
		defer s.Stop()
		for {
			if _, err := s.Sleep(0); err != nil {
				res <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	if !h.Close(func() { futex.WakeAll(&w) }) {
		t.Fatal("first Close reported false")
	}
	// Close returned: the sleeper has left the kernel.
	if n := h.sleeping.Load(); n != 0 {
		t.Fatalf("%d kernel sleepers left when Close returned", n)
	}
	select {
	case err := <-res:
		if err != ErrClosed {
			t.Fatalf("Sleep = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sleeper never returned")
	}
	if h.Close(nil) {
		t.Fatal("second Close reported true")
	}
	s := NewSleeper(context.Background(), &w, nil, &h)
	if _, err := s.Sleep(0); err != ErrClosed {
		t.Fatalf("Sleep after Close = %v, want ErrClosed", err)
	}
}

func TestSpinUntilSeesAChangeFromAnotherGoroutine(t *testing.T) {
	if !SpinPays() {
		t.Skip("one CPU online: SpinUntil only looks once")
	}
	var flag atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); time.Sleep(5 * time.Microsecond); flag.Store(true) }()
	defer SetSpin(SetSpin(time.Second))
	if !SpinUntil(flag.Load) {
		t.Fatal("SpinUntil gave up within its spin time")
	}
	wg.Wait()
	SetSpin(0)
	if SpinUntil(func() bool { return false }) {
		t.Fatal("SpinUntil reported true for a false condition")
	}
}
