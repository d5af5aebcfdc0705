//go:build linux

package robust

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/wait"
)

func init() {
	proctest.Register("robust-relock", roleRelock)
	proctest.Register("robust-wait-forever", roleWaitForever)
}

// roleRelock: args name, duration[, cpu]. Lock and unlock in a tight
// loop, with nothing between an Unlock and the next Lock, until the
// duration is over; print the count. With a cpu, the loop runs pinned to it.
func roleRelock(args []string) error {
	if len(args) > 2 {
		cpu, _ := strconv.Atoi(args[2])
		if err := pinTo(cpu); err != nil {
			return err
		}
	}
	f, err := openSeg(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	d, _ := time.ParseDuration(args[1])
	m := Attach(f, 0, nil)
	c := counter(f)
	fmt.Println("relocking")
	end := time.Now().Add(d)
	n := 0
	for time.Now().Before(end) {
		for range 100 {
			if err := m.Lock(context.Background()); err != nil {
				return err
			}
			*c++
			if err := m.Unlock(); err != nil {
				return err
			}
			n++
		}
	}
	fmt.Println("relocked", n)
	return nil
}

// roleWaitForever: Lock (it is held elsewhere) and block; print "locked"
// if it ever gets it.
func roleWaitForever(args []string) error {
	f, err := openSeg(args[0])
	if err != nil {
		return err
	}
	fmt.Println("waiting")
	if err := Attach(f, 0, nil).Lock(context.Background()); err != nil {
		return err
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
	return nil
}

// A process that unlocks and relocks in a tight loop cannot keep a waiter
// in another process out: once the waiter has waited past the starvation
// threshold, the next unlock hands the lock to it.
func TestRelockerCannotStarveAWaiter(t *testing.T) {
	// A waiter that does not spin sleeps every time: the case a woken
	// sleeper loses to a barger without the handoff.
	defer wait.SetSpin(wait.SetSpin(0))
	// The relocker on one CPU, the waiter on another: waking the waiter
	// then takes long enough for the relocker to barge every time.
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := pinTo(0); err != nil {
		t.Fatal(err)
	}
	f := newSeg(t)
	m := Attach(f, 0, nil)
	relocker := proctest.Start(t, "robust-relock", f.Name, "3s", "1")
	relocker.WaitLine("relocking")
	const rounds = 100
	var waits, queued []time.Duration
	deadline := time.Now().Add(2500 * time.Millisecond)
	for i := 0; i < rounds && time.Now().Before(deadline); i++ {
		q0 := runQueueDelay(t)
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := m.Lock(ctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: Lock = %v after %v: the relocker starved us (word %#x heir %#x heirSeq %d; we are %#x)", i, err, time.Since(start), atomic.LoadUint64(&m.rec.word), atomic.LoadUint64(&m.rec.heir), atomic.LoadUint32(&m.rec.heirSeq), m.me)
		}
		w := time.Since(start)
		q := runQueueDelay(t) - q0
		waits = append(waits, w)
		queued = append(queued, max(w-q, 0))
		*counter(f) += 1000000
		m.Unlock()
		time.Sleep(time.Millisecond)
	}
	relocker.MustSucceed()
	slices.Sort(waits)
	slices.Sort(queued)
	t.Logf("%d acquisitions against a tight relocker: median %v, p90 %v, worst %v; without the time spent runnable but not running (a loaded machine's share): worst %v",
		len(waits), waits[len(waits)/2], waits[len(waits)*9/10], waits[len(waits)-1], queued[len(queued)-1])
	// The bound: every acquisition succeeds, well within the second each
	// round allows. On a quiet machine the worst is a few ms (the handoff
	// needs the heir woken once); on a loaded one the relocker itself is
	// sometimes descheduled while it holds the lock — nothing a lock can
	// help — so the test asserts no more than that the waiter is never kept
	// out, and logs the distribution.
	if worst := queued[len(queued)-1]; worst > 500*time.Millisecond {
		t.Errorf("worst wait %v (beyond run-queue delay) against a relocker", worst)
	}
	if n := len(waits); n < 10 {
		t.Fatalf("only %d rounds in the time", n)
	}
	line := relocker.Output()
	n, _ := strconv.Atoi(line[len(line)-1][len("relocked "):])
	if got, want := *counter(f), uint64(n)+uint64(len(waits))*1000000; got != want {
		t.Fatalf("counter %d, want %d: mutual exclusion failed", got, want)
	}
}

// An heir that dies while waiting for its handoff is dropped by the
// unlocker, which releases the lock normally: nothing is lost, and the
// next locker gets it without ErrOwnerDead (the heir never held it).
func TestDeadHeirIsDroppedAndTheLockReleased(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	if err := m.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := proctest.Start(t, "robust-wait-forever", f.Name)
	c.WaitLine("waiting")
	id := identityOf(t, c.Pid())
	waitFor(t, "the child to become the heir", func() bool { return atomic.LoadUint64(&m.rec.heir) == id })
	c.Kill()
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
	if w := atomic.LoadUint64(&m.rec.word); w != 0 {
		t.Fatalf("word after unlocking past a dead heir = %#x, want 0", w)
	}
	if err := m.Lock(context.Background()); err != nil {
		t.Fatalf("Lock = %v, want nil", err)
	}
	m.Unlock()
}

// A lock handed to an heir that dies before it accepts is taken over by
// the next locker as a plain acquisition: the dead heir never ran with it.
func TestLockHandedToADyingHeirIsNotLost(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	if err := m.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := proctest.Start(t, "robust-wait-forever", f.Name)
	c.WaitLine("waiting")
	id := identityOf(t, c.Pid())
	waitFor(t, "the child to become the heir", func() bool { return atomic.LoadUint64(&m.rec.heir) == id })
	c.Signal(sigStop) // it cannot accept
	defer c.Signal(sigCont)
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
	if w := atomic.LoadUint64(&m.rec.word); owner(w) != id || w&wordHanded == 0 {
		t.Fatalf("word after the handoff = %#x, want the heir's, handed", w)
	}
	c.Kill()
	if err := m.Lock(context.Background()); err != nil {
		t.Fatalf("Lock after the heir died holding a handed lock = %v, want nil", err)
	}
	if st := m.State(); st.Consistency != Consistent || st.Takeovers != 0 {
		t.Fatalf("state %+v: a handed lock's takeover is no owner death", st)
	}
	m.Unlock()
}

var sigStop, sigCont = syscall.SIGSTOP, syscall.SIGCONT

// runQueueDelay is how long the calling thread has spent runnable but
// waiting for a CPU, in total (/proc/thread-self/schedstat, second field).
func runQueueDelay(t *testing.T) time.Duration {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		t.Skipf("no schedstat: %v", err)
	}
	var run, wait int64
	fmt.Sscan(string(b), &run, &wait)
	return time.Duration(wait)
}

// pinTo pins the calling thread to cpu (its goroutine should be locked to
// it).
func pinTo(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}

// identityOf is the identity word a live process pid has in lock words.
func identityOf(t *testing.T, pid int) uint64 {
	t.Helper()
	id, err := proc.Lookup(pid)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(pid)&wordPIDMask | uint64(id.Tag)<<32
}

// Goroutines of several processes that give up at random — some of them
// heirs, some claimed at the moment they give up — never lose the lock or
// break mutual exclusion.
func TestHeirsGivingUpNeverLoseTheLock(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	relocker := proctest.Start(t, "robust-relock", f.Name, "1500ms")
	relocker.WaitLine("relocking")
	var took atomic.Int64
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			mm := Attach(f, 0, nil)
			end := time.Now().Add(1200 * time.Millisecond)
			for j := 0; time.Now().Before(end); j++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(500+(g*7+j)%2000)*time.Microsecond)
				if mm.Lock(ctx) == nil {
					*counter(f) += 1000000
					took.Add(1)
					mm.Unlock()
				}
				cancel()
			}
		}()
	}
	for range 4 {
		<-done
	}
	relocker.MustSucceed()
	line := relocker.Output()
	n, _ := strconv.Atoi(line[len(line)-1][len("relocked "):])
	if got, want := *counter(f), uint64(n)+uint64(took.Load())*1000000; got != want {
		t.Fatalf("counter %d, want %d", got, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Lock(ctx); err != nil {
		t.Fatalf("Lock after the storm = %v (word %#x heir %#x)", err, m.rec.word, m.rec.heir)
	}
	m.Unlock()
	t.Logf("relocker %d, impatient goroutines %d", n, took.Load())
}
