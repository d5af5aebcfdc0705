package sem_test

import (
	"context"
	"fmt"
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
	proctest.Register("cond-exact-waiter", roleCondExactWaiter)
	proctest.Register("cond-impatient", roleCondImpatient)
}

// tally is the shared state of the exact-Notify test, in a segment,
// guarded by the Condition's lock.
type tally struct {
	woken  uint64 // Waits that returned nil: each consumed one notification
	inWait uint64 // patient waiters between registering and returning
	stop   uint64
}

func openTally(name string) (*shm.Segment, *tally, error) {
	seg, err := shm.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return seg, (*tally)(unsafe.Pointer(&seg.Bytes()[0])), nil
}

// roleCondExactWaiter: cond, tally. Waits again and again, counting in
// woken every Wait that returns nil, until stop.
func roleCondExactWaiter(args []string) error {
	c, err := sem.OpenCondition(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	seg, tl, err := openTally(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	fmt.Println("ready")
	c.Lock()
	defer c.Unlock()
	for tl.stop == 0 {
		tl.inWait++
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := c.Wait(ctx)
		cancel()
		tl.inWait--
		if err != nil {
			return err
		}
		tl.woken++
	}
	return nil
}

// roleCondImpatient: cond, tally. Eight goroutines wait with deadlines of
// 0.1 to 2 ms, or are cancelled, again and again until stop; a Wait that
// returns nil consumed a notification and counts in woken like any other.
func roleCondImpatient(args []string) error {
	c, err := sem.OpenCondition(args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	seg, tl, err := openTally(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for j := 0; ; j++ {
				c.Lock()
				if tl.stop != 0 {
					c.Unlock()
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(100+(g*31+j*17)%1900)*time.Microsecond)
				if j%3 == 0 {
					go cancel()
				}
				if c.Wait(ctx) == nil {
					tl.woken++
				}
				c.Unlock()
				cancel()
			}
		})
	}
	fmt.Println("ready")
	wg.Wait()
	return nil
}

// Notify(n) wakes exactly min(n, waiting) goroutines across processes, as
// Python's notify(n) does, while other waiters keep giving up (some at the
// very moment a notification reaches them) and some are killed while they
// wait.
func TestNotifyWakesExactlyNAcrossProcesses(t *testing.T) {
	proctest.CheckShm(t)
	c := newCondition(t, "own")
	seg, err := shm.Create("", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	defer seg.Unlink()
	tl := (*tally)(unsafe.Pointer(&seg.Bytes()[0]))
	var patient []*proctest.Child
	for range 4 {
		ch := proctest.Start(t, "cond-exact-waiter", c.Name(), seg.Name())
		ch.WaitLine("ready")
		patient = append(patient, ch)
	}
	impatient := proctest.Start(t, "cond-impatient", c.Name(), seg.Name())
	impatient.WaitLine("ready")

	// locked runs f with the lock held, once the four patient waiters are
	// all waiting.
	ctx := proctest.Context(t)
	allWaiting := func() {
		for {
			c.Lock()
			if tl.inWait == 4 {
				return // with the lock held
			}
			c.Unlock()
			if ctx.Err() != nil {
				t.Fatalf("patient waiters not all waiting: %d", tl.inWait)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	var victims []*proctest.Child
	const rounds = 60
	for r := range rounds {
		if r%20 == 10 {
			// A waiter killed while it waits: its process's place must not
			// swallow a notification.
			v := proctest.Start(t, "cond-wait", c.Name(), "1h")
			v.WaitLine("waiting")
			waitFor(t, "the victim to wait", func() bool { return c.Waiters() >= 5 })
			c.Lock() // so it is in Wait, not holding the lock, when it dies
			v.Kill()
			c.Unlock()
			victims = append(victims, v)
		}
		n := 1 + r%2
		allWaiting()
		before := tl.woken
		c.Notify(n)
		c.Unlock()
		for {
			c.Lock()
			got := tl.woken - before
			c.Unlock()
			if got == uint64(n) {
				break
			}
			if got > uint64(n) {
				t.Fatalf("round %d: Notify(%d) woke %d", r, n, got)
			}
			if ctx.Err() != nil {
				t.Fatalf("round %d: Notify(%d) woke %d before the deadline", r, n, got)
			}
			time.Sleep(100 * time.Microsecond)
		}
		// An extra wake-up would show within moments; none may come.
		time.Sleep(5 * time.Millisecond)
		c.Lock()
		got := tl.woken - before
		c.Unlock()
		if got != uint64(n) {
			t.Fatalf("round %d: Notify(%d) woke %d", r, n, got)
		}
	}
	c.Lock()
	tl.stop = 1
	c.NotifyAll()
	c.Unlock()
	for _, ch := range patient {
		ch.MustSucceed()
	}
	impatient.MustSucceed()
	t.Logf("%d rounds, %d killed waiters", rounds, len(victims))
}

// A thousand goroutines of one process waiting on one Condition hold one
// OS thread asleep in the kernel, not a thousand.
func TestThousandConditionWaitersShareAThread(t *testing.T) {
	proctest.CheckShm(t)
	c := newCondition(t, "Lock")
	const n = 1000
	threadsBefore := threadCount(t)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range n {
		wg.Go(func() {
			c.Lock()
			c.Wait(ctx)
			c.Unlock()
		})
	}
	waitFor(t, "1000 waiters", func() bool { return c.Waiters() == n })
	time.Sleep(20 * time.Millisecond) // let the holder settle in the kernel
	sleeping := threadsInSharedFutexWait(t)
	threads := threadCount(t)
	t.Logf("%d waiters: %d threads in a shared futex wait, %d threads in all (%d before)", n, sleeping, threads, threadsBefore)
	if sleeping != 1 {
		t.Errorf("%d threads asleep in the kernel for %d waiting goroutines, want 1", sleeping, n)
	}
	if threads > threadsBefore+8 {
		t.Errorf("%d OS threads for %d waiting goroutines (%d before)", threads, n, threadsBefore)
	}
	c.Lock()
	c.NotifyAll()
	c.Unlock()
	wg.Wait()
	if w := c.Waiters(); w != 0 {
		t.Fatalf("%d waiters left", w)
	}
}

func threadCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// threadsInSharedFutexWait counts this process's threads blocked in a
// shared FUTEX_WAIT_BITSET (op 9), the kind multiproc's waits make; the Go
// runtime's own sleeps are private futexes and do not count.
func threadsInSharedFutexWait(t *testing.T) int {
	ents, _ := os.ReadDir("/proc/self/task")
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/syscall")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) >= 3 && f[0] == strconv.Itoa(202) && f[2] == "0x9" {
			n++
		}
	}
	return n
}
