package sem_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("sem-counter", semCounterRole)
	proctest.Register("sem-bounded-storm", semBoundedStormRole)
	proctest.Register("sem-waiter", semWaiterRole)
	proctest.Register("sem-quota", semQuotaRole)
	proctest.Register("sem-patient", semPatientRole)
	proctest.Register("sem-impatient", semImpatientRole)
}

// semAwaitStart is the child's half of a start line: it says "ready" and
// waits for a token of the start semaphore, so that all children run their
// loops at the same time instead of one after another.
func semAwaitStart(name string) error {
	start, err := sem.OpenSemaphore(name)
	if err != nil {
		return err
	}
	defer start.Close()
	fmt.Println("ready")
	return start.Acquire(context.Background())
}

// semRunTogether starts n children of role, lets them all go at once, and
// waits for them. Children get the start semaphore's name as args[0].
func semRunTogether(t *testing.T, n int, role string, args ...string) []*proctest.Child {
	t.Helper()
	start := newTestSem(t, 0, false)
	cs := proctest.StartN(t, n, role, append([]string{start.Name()}, args...)...)
	for _, c := range cs {
		c.WaitLine("ready")
	}
	if err := start.ReleaseN(n); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		c.MustSucceed()
	}
	return cs
}

// semCounterWord maps a shared 8-byte counter segment.
func semCounterWord(seg *shm.Segment) *uint64 { return (*uint64)(unsafe.Pointer(&seg.Bytes()[0])) }

// sem-counter START NAME SEGMENT N: N times Acquire, increment the plain
// (non-atomic) counter, Release.
func semCounterRole(args []string) error {
	start, args := args[0], args[1:]
	s, err := sem.OpenSemaphore(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	seg, err := shm.Open(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	n, _ := strconv.Atoi(args[2])
	c := semCounterWord(seg)
	ctx := context.Background()
	// Open first, then start together: opening takes longer than a
	// thousand increments.
	if err := semAwaitStart(start); err != nil {
		return err
	}
	var first, last uint64
	for i := 0; i < n; i++ {
		if err := s.Acquire(ctx); err != nil {
			return err
		}
		*c = *c + 1
		if i == 0 {
			first = *c
		}
		last = *c
		if err := s.Release(); err != nil {
			return err
		}
		if i%1000 == 999 {
			// A releaser re-acquires before a woken waiter runs (the
			// semaphore is not fair, like glibc's); pausing now and then
			// lets the others in, so the processes really interleave.
			time.Sleep(50 * time.Microsecond)
		}
	}
	fmt.Println("span", first, last)
	return nil
}

func TestSemaphoreCounterExactAcrossProcesses(t *testing.T) {
	s := newTestSem(t, 1, false)
	seg, err := shm.Create("", 8)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	const procs, each = 4, 50000
	cs := semRunTogether(t, procs, "sem-counter", s.Name(), seg.Name(), strconv.Itoa(each))
	// The counts a child saw span more than its own increments only if
	// others incremented in between: the processes really contended.
	interleaved := 0
	for _, c := range cs {
		var first, last int
		if _, err := fmt.Sscanf(c.Output()[1], "span %d %d", &first, &last); err != nil {
			t.Fatal(err)
		}
		if last-first+1 > each {
			interleaved++
		}
		t.Logf("child %d saw the counter go from %d to %d", c.Pid(), first, last)
	}
	if interleaved == 0 {
		t.Fatal("the children ran one after another; the test proved nothing")
	}
	if got := *semCounterWord(seg); got != procs*each {
		t.Fatalf("counter = %d, want %d: the semaphore let two processes in at once", got, procs*each)
	}
	if s.Value() != 1 {
		t.Fatalf("value %d, want 1", s.Value())
	}
}

// sem-bounded-storm START NAME N: N rounds of Release (refused at the
// bound) and TryAcquire; prints "released R acquired A".
func semBoundedStormRole(args []string) error {
	if err := semAwaitStart(args[0]); err != nil {
		return err
	}
	args = args[1:]
	s, err := sem.OpenBoundedSemaphore(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	n, _ := strconv.Atoi(args[1])
	var released, acquired int
	for i := 0; i < n; i++ {
		switch err := s.Release(); {
		case err == nil:
			released++
		case !errors.Is(err, sem.ErrReleasedTooManyTimes):
			return err
		}
		if i%3 == 0 && s.TryAcquire() {
			acquired++
		}
	}
	fmt.Println("released", released, "acquired", acquired)
	return nil
}

// Concurrent releasers in several processes race a bounded semaphore that
// starts empty: it never passes its bound, and the refused releases
// changed nothing (the final value is exactly what the accepted ones and
// the acquires make).
func TestBoundedConcurrentReleasersNeverPassTheBound(t *testing.T) {
	const bound = 20
	s := newTestSem(t, bound, true)
	for s.TryAcquire() {
	}
	stop := make(chan struct{})
	maxSeen := make(chan int)
	go func() {
		m := 0
		for {
			select {
			case <-stop:
				maxSeen <- m
				return
			default:
				m = max(m, s.Value())
			}
		}
	}()
	cs := semRunTogether(t, 4, "sem-bounded-storm", s.Name(), "20000")
	close(stop)
	if m := <-maxSeen; m > bound {
		t.Fatalf("value reached %d, past the bound %d", m, bound)
	}
	total := 0
	for _, c := range cs {
		var r, a int
		if _, err := fmt.Sscanf(c.Output()[1], "released %d acquired %d", &r, &a); err != nil {
			t.Fatal(err)
		}
		total += r - a
	}
	if v := s.Value(); v != total || v > bound {
		t.Fatalf("value %d, want releases − acquires = %d (≤ %d)", v, total, bound)
	}
}

// sem-waiter NAME: prints "waiting", takes one token, prints "got".
func semWaiterRole(args []string) error {
	s, err := sem.OpenSemaphore(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Println("waiting")
	if err := s.Acquire(context.Background()); err != nil {
		return err
	}
	fmt.Println("got")
	return nil
}

func TestKilledWaiterLeavesOnlyAStaleWaiterCount(t *testing.T) {
	s := newTestSem(t, 0, false)
	c := proctest.Start(t, "sem-waiter", s.Name())
	c.WaitLine("waiting")
	semWaitUntil(t, "the child sleeps on the semaphore", func() bool { return s.Waiters() == 1 })
	c.Kill()
	if w := s.Waiters(); w != 1 {
		t.Fatalf("waiters after SIGKILL = %d; expected the stale 1 glibc leaves too", w)
	}
	// The semaphore keeps working: a token goes to whoever asks next.
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	if !s.TryAcquire() {
		t.Fatal("the token went to the dead waiter")
	}
	c2 := proctest.Start(t, "sem-waiter", s.Name())
	c2.WaitLine("waiting")
	semWaitUntil(t, "the second child sleeps", func() bool { return s.Waiters() == 2 })
	if err := s.Release(); err != nil {
		t.Fatal(err)
	}
	c2.WaitLine("got")
	c2.MustSucceed()
	if s.Value() != 0 || s.Waiters() != 1 {
		t.Fatalf("value %d waiters %d, want 0 and the stale 1", s.Value(), s.Waiters())
	}
}

// sem-quota NAME QUOTA GOROUTINES: goroutines Acquire with short timeouts
// and random cancellations until the process has taken exactly QUOTA
// tokens (a token taken past the quota is released again). Prints
// "gaveup N".
func semQuotaRole(args []string) error {
	s, err := sem.OpenSemaphore(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	quota, _ := strconv.Atoi(args[1])
	gs, _ := strconv.Atoi(args[2])
	var took, gaveUp atomic.Int64
	ctx, cancelAll := proctest.ChildContext() // the test's deadline
	defer cancelAll()
	var wg sync.WaitGroup
	errs := make(chan error, gs)
	for g := 0; g < gs; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for j := 0; took.Load() < int64(quota); j++ {
				c, cancel := context.WithTimeout(ctx, time.Duration((g*7+j)%5)*300*time.Microsecond)
				if j%3 == 0 {
					go cancel()
				}
				err := s.Acquire(c)
				cancel()
				switch {
				case err == nil:
					if took.Add(1) > int64(quota) {
						took.Add(-1)
						if err := s.Release(); err != nil {
							errs <- err
							return
						}
					}
				case ctx.Err() != nil:
					errs <- fmt.Errorf("took %d of %d tokens in 30s: a token or a wake-up was lost", took.Load(), quota)
					return
				default:
					gaveUp.Add(1)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	fmt.Println("gaveup", gaveUp.Load())
	return nil
}

func TestCancelStormAcrossProcessesLosesNoToken(t *testing.T) {
	s := newTestSem(t, 0, false)
	const procs, quota = 3, 400
	cs := proctest.StartN(t, procs, "sem-quota", s.Name(), strconv.Itoa(quota), "8")
	for i := 0; i < procs*quota; i++ {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	for _, c := range cs {
		c.MustSucceed()
		t.Log(c.Pid(), c.Output())
	}
	if s.Value() != 0 || s.Waiters() != 0 {
		t.Fatalf("value %d waiters %d, want 0 0", s.Value(), s.Waiters())
	}
}

// sem-patient NAME K: with kernel sleeps of a minute (so only wake-ups can
// end them), takes K tokens one by one; prints "waiting" first.
func semPatientRole(args []string) error {
	sem.SetPollInterval(time.Minute)
	s, err := sem.OpenSemaphore(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	k, _ := strconv.Atoi(args[1])
	fmt.Println("waiting")
	for i := 0; i < k; i++ {
		if err := s.Acquire(context.Background()); err != nil {
			return err
		}
	}
	return nil
}

// sem-impatient NAME MS: for MS milliseconds, Acquire with tiny timeouts
// and cancellations in 8 goroutines, handing back every token it gets.
func semImpatientRole(args []string) error {
	sem.SetPollInterval(time.Minute)
	s, err := sem.OpenSemaphore(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	ms, _ := strconv.Atoi(args[1])
	end := time.Now().Add(time.Duration(ms) * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for j := 0; time.Now().Before(end); j++ {
				c, cancel := context.WithTimeout(context.Background(), time.Duration(1+(g+j)%4)*100*time.Microsecond)
				if j%2 == 0 {
					go cancel()
				}
				if s.Acquire(c) == nil {
					if err := s.Release(); err != nil {
						errs <- err
					}
				}
				cancel()
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return nil
}

// Waiters in other processes give up all the time, some of them after a
// release chose them for its one wake-up. A patient waiter whose kernel
// sleeps only a wake-up can end must still get every token released.
func TestCancelStormNeverStrandsAPatientWaiter(t *testing.T) {
	s := newTestSem(t, 0, false)
	storm := proctest.StartN(t, 2, "sem-impatient", s.Name(), "1500")
	const k = 200
	patient := proctest.Start(t, "sem-patient", s.Name(), strconv.Itoa(k))
	patient.WaitLine("waiting")
	for i := 0; i < k; i++ {
		if err := s.Release(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	patient.MustSucceed()
	for _, c := range storm {
		c.MustSucceed()
	}
	if s.Value() != 0 || s.Waiters() != 0 {
		t.Fatalf("value %d waiters %d, want 0 0", s.Value(), s.Waiters())
	}
}
