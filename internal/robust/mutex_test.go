//go:build linux

package robust

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/wait"
)

func TestMain(m *testing.M) { proctest.Main(m) }

func init() {
	proctest.Register("robust-incr", roleIncr)
	proctest.Register("robust-hold", roleHold)
	proctest.Register("robust-lock-once", roleLockOnce)
	proctest.Register("robust-vanish", roleVanish)
	proctest.Register("robust-lock-exit", roleLockExit)
	proctest.Register("robust-zombie-parent", roleZombieParent)
}

// roleLockExit: lock and exit at once, holding the lock.
func roleLockExit(args []string) error {
	f, err := openSeg(args[0])
	if err != nil {
		return err
	}
	if err := Attach(f, 0, nil).Lock(context.Background()); err != nil {
		return err
	}
	os.Exit(0)
	return nil
}

// roleZombieParent: start robust-lock-exit as our own child and never reap
// it, so the lock's owner is a zombie; print "zombie PID" once it is one.
func roleZombieParent(args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// ForkExec takes the first of two settings of a variable: Environ
	// replaces our own role's marker, never adds a second one.
	env := proctest.Environ(os.Environ(), "robust-lock-exit", args[0])
	pid, err := syscall.ForkExec(exe, []string{exe, "-test.run=^$"}, &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}})
	if err != nil {
		return err
	}
	for {
		if _, state, err := proc.Stat(pid); err == nil && state == 'Z' {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("zombie", pid)
	time.Sleep(time.Hour)
	return nil
}

// newSeg makes a one-page segment for a test and removes it at the end.
func newSeg(t *testing.T) *segment.File {
	t.Helper()
	proctest.CheckShm(t)
	f, err := segment.Create(segment.Generate("robusttest"), 4096, segment.CreateOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Unlink(); f.Close() })
	return f
}

func openSeg(name string) (*segment.File, error) { return segment.Open(name, segment.OpenOptions{}) }

func counter(f *segment.File) *uint64 { return (*uint64)(unsafe.Pointer(&f.Bytes()[128])) }

// roleIncr: args name, n. Increments a plain (non-atomic) counter n times
// under the lock.
func roleIncr(args []string) error {
	f, err := openSeg(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	n, _ := strconv.Atoi(args[1])
	m := Attach(f, 0, nil)
	c := counter(f)
	for range n {
		if err := m.Lock(context.Background()); err != nil {
			return err
		}
		*c++
		if err := m.Unlock(); err != nil {
			return err
		}
	}
	return nil
}

// roleHold: lock, print "holding", then block until killed.
func roleHold(args []string) error {
	f, err := openSeg(args[0])
	if err != nil {
		return err
	}
	m := Attach(f, 0, nil)
	if err := m.Lock(context.Background()); err != nil {
		return err
	}
	fmt.Println("holding", os.Getpid())
	time.Sleep(time.Hour)
	return nil
}

// roleLockOnce: args name, poll interval[, "normal" for no starvation
// mode]. Lock (printing "waiting" first), print "locked <err>", unlock,
// exit.
func roleLockOnce(args []string) error {
	if len(args) > 2 && args[2] == "normal" {
		starveAfter = time.Hour
	}
	f, err := openSeg(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	d, _ := time.ParseDuration(args[1])
	wait.SetPollInterval(d)
	wait.SetSpin(0)
	m := Attach(f, 0, nil)
	fmt.Println("waiting")
	err = m.Lock(context.Background())
	fmt.Println("locked", err)
	if err != nil && !errors.Is(err, ErrOwnerDead) {
		return err
	}
	m.MarkConsistent()
	return m.Unlock()
}

// roleVanish: lock, then, once the waiters bit is set, free the word
// without waking anyone — an unlocker killed between its swap and its
// wake — and block until killed.
func roleVanish(args []string) error {
	f, err := openSeg(args[0])
	if err != nil {
		return err
	}
	m := Attach(f, 0, nil)
	if err := m.Lock(context.Background()); err != nil {
		return err
	}
	for atomic.LoadUint64(&m.rec.word)&wordWaiters == 0 {
		time.Sleep(time.Millisecond)
	}
	atomic.SwapUint64(&m.rec.word, 0) // and no wake
	fmt.Println("vanished")
	time.Sleep(time.Hour)
	return nil
}

func TestZeroRecordIsUnlockedLock(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 64, nil)
	ok, err := m.TryLock()
	if !ok || err != nil {
		t.Fatalf("TryLock on a zero record = %v, %v; want true, nil", ok, err)
	}
	if !m.HeldByUs() {
		t.Fatal("HeldByUs false after TryLock")
	}
	if ok, err := m.TryLock(); ok || err != nil {
		t.Fatalf("second TryLock = %v, %v; want false, nil", ok, err)
	}
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestUnlockOfUnlockedIsErrNotOwner(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	if err := m.Unlock(); err != ErrNotOwner {
		t.Fatalf("Unlock of an unlocked lock = %v, want ErrNotOwner", err)
	}
	if err := m.MarkConsistent(); err != ErrNotOwner {
		t.Fatalf("MarkConsistent of an unlocked lock = %v, want ErrNotOwner", err)
	}
	c := proctest.Start(t, "robust-hold", f.Name)
	c.WaitLine("holding")
	if err := m.Unlock(); err != ErrNotOwner {
		t.Fatalf("Unlock of another process's lock = %v, want ErrNotOwner", err)
	}
	if st := m.State(); !st.Locked || st.OwnerPID != c.Pid() {
		t.Fatalf("after a refused Unlock the lock should still be the child's: %+v", st)
	}
	c.Kill()
}

func TestAttachRefusesBadOffsets(t *testing.T) {
	f := newSeg(t)
	for _, off := range []int{-8, 3, 4096 - 32, 4096} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), strconv.Itoa(off)) {
					t.Errorf("Attach(off=%d): panic %v, want one naming the offset", off, r)
				}
			}()
			Attach(f, off, nil)
		}()
	}
}

func TestInspectRefusesShortOrMisaligned(t *testing.T) {
	f := newSeg(t)
	if _, err := Inspect(f.Bytes()[:10]); err == nil {
		t.Error("Inspect of 10 bytes: no error")
	}
	if _, err := Inspect(f.Bytes()[4:]); err == nil {
		t.Error("Inspect at a misaligned address: no error")
	}
	if st, err := Inspect(f.Bytes()); err != nil || st.Locked {
		t.Errorf("Inspect of a zero record = %+v, %v", st, err)
	}
}

func TestCounterExactAcrossFourProcesses(t *testing.T) {
	f := newSeg(t)
	const procs, n = 4, 20000
	proctest.Run(t, procs, "robust-incr", f.Name, strconv.Itoa(n))
	if got := *counter(f); got != procs*n {
		t.Fatalf("counter = %d, want %d", got, procs*n)
	}
	if st := Attach(f, 0, nil).State(); st.Locked || st.Waiters != 0 {
		t.Fatalf("state after the run: %+v", st)
	}
}

func TestCounterExactWithGoroutinesAndProcesses(t *testing.T) {
	f := newSeg(t)
	const n = 5000
	cs := proctest.StartN(t, 2, "robust-incr", f.Name, strconv.Itoa(n))
	m := Attach(f, 0, nil)
	c := counter(f)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range n {
				if err := m.Lock(context.Background()); err != nil {
					t.Error(err)
					return
				}
				*c++
				m.Unlock()
			}
		})
	}
	wg.Wait()
	for _, ch := range cs {
		ch.MustSucceed()
	}
	if got := *c; got != 6*n {
		t.Fatalf("counter = %d, want %d", got, 6*n)
	}
}

func TestOwnerKilledWhileHoldingIsTakenOver(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	c := proctest.Start(t, "robust-hold", f.Name)
	c.WaitLine("holding")
	st := m.State()
	if !st.Locked || st.OwnerPID != c.Pid() || !st.OwnerAlive {
		t.Fatalf("state while the child holds: %+v", st)
	}
	done := make(chan error, 1)
	go func() { done <- m.Lock(context.Background()) }()
	waitFor(t, "the waiter to set the waiters bit", func() bool { return m.State().WaitersBit })
	killed := time.Now()
	c.Kill()
	err := <-done
	noticed := time.Since(killed)
	t.Logf("owner death noticed after %v", noticed)
	if err != ErrOwnerDead {
		t.Fatalf("Lock after the owner's death = %v, want ErrOwnerDead", err)
	}
	if noticed > 2*time.Second {
		t.Errorf("owner death noticed after %v; the poll interval is %v", noticed, wait.DefaultPollInterval)
	}
	st = m.State()
	if st.Consistency != Inconsistent || st.Takeovers != 1 || !m.HeldByUs() {
		t.Fatalf("state after takeover: %+v", st)
	}
	if err := m.MarkConsistent(); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(context.Background()); err != nil {
		t.Fatalf("Lock after repair = %v", err)
	}
	m.Unlock()
	if st := m.State(); st.Consistency != Consistent || st.Locked {
		t.Fatalf("final state: %+v", st)
	}
}

func TestTryLockTakesOverDeadOwner(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	c := proctest.Start(t, "robust-hold", f.Name)
	c.WaitLine("holding")
	if ok, err := m.TryLock(); ok || err != nil {
		t.Fatalf("TryLock while a live child holds = %v, %v", ok, err)
	}
	c.Kill()
	ok, err := m.TryLock()
	if !ok || err != ErrOwnerDead {
		t.Fatalf("TryLock after the owner's death = %v, %v; want true, ErrOwnerDead", ok, err)
	}
	m.MarkConsistent()
	m.Unlock()
}

func TestUnlockWithoutRepairIsNotRecoverable(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	c := proctest.Start(t, "robust-hold", f.Name)
	c.WaitLine("holding")
	c.Kill()
	if err := m.Lock(context.Background()); err != ErrOwnerDead {
		t.Fatalf("Lock = %v, want ErrOwnerDead", err)
	}
	// A waiter in another process learns it when we give up.
	w := proctest.Start(t, "robust-lock-once", f.Name, "10s")
	w.WaitLine("waiting")
	waitFor(t, "the child to wait", func() bool { return m.State().Waiters >= 1 })
	if err := m.Unlock(); err != nil { // without MarkConsistent
		t.Fatal(err)
	}
	if line := w.WaitLine("locked"); !strings.Contains(line, ErrNotRecoverable.Error()) {
		t.Fatalf("the waiting child saw %q, want ErrNotRecoverable", line)
	}
	w.Wait()
	if err := m.Lock(context.Background()); err != ErrNotRecoverable {
		t.Fatalf("Lock on a not recoverable lock = %v", err)
	}
	if ok, err := m.TryLock(); ok || err != ErrNotRecoverable {
		t.Fatalf("TryLock on a not recoverable lock = %v, %v", ok, err)
	}
	if st := m.State(); st.Consistency != NotRecoverable || st.Locked {
		t.Fatalf("state: %+v", st)
	}
	m.Reset()
	if err := m.Lock(context.Background()); err != nil {
		t.Fatalf("Lock after Reset = %v", err)
	}
	m.Unlock()
}

func TestZombieOwnerIsDead(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	c := proctest.Start(t, "robust-zombie-parent", f.Name)
	var pid int
	fmt.Sscanf(c.WaitLine("zombie"), "zombie %d", &pid)
	if st := m.State(); !st.Locked || st.OwnerPID != pid || st.OwnerAlive {
		t.Fatalf("state with a zombie owner: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Lock(ctx); err != ErrOwnerDead {
		t.Fatalf("Lock with a zombie owner = %v, want ErrOwnerDead", err)
	}
	m.MarkConsistent()
	m.Unlock()
	c.Kill() // reaps the zombie with its parent
}

func TestForgedStartTimeIsNotTheOwner(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	// A live process's pid with another start time: the pid was reused.
	c := proctest.Start(t, "robust-hold", f.Name+"-absent") // fails to open: we only need a live pid
	_ = c
	self := proc.Self()
	for _, tc := range []struct {
		name string
		pid  int
	}{{"our own pid", self.PID}, {"the parent's pid", os.Getppid()}} {
		start, _, err := proc.Stat(tc.pid)
		if err != nil {
			t.Fatal(err)
		}
		forged := uint64(tc.pid) | uint64(uint32(start)+1)<<32
		atomic.StoreUint64(&m.rec.word, forged)
		if st := m.State(); st.OwnerAlive {
			t.Fatalf("%s with a forged start time looks alive", tc.name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = m.Lock(ctx)
		cancel()
		if err != ErrOwnerDead {
			t.Fatalf("%s with a forged start time: Lock = %v, want ErrOwnerDead", tc.name, err)
		}
		m.MarkConsistent()
		m.Unlock()
	}
	c.Wait()
}

func TestLockContextTimeoutAndCancel(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	c := proctest.Start(t, "robust-hold", f.Name)
	c.WaitLine("holding")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := m.Lock(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Lock with a 30ms deadline = %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("deadline returned after %v", d)
	}

	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Lock(ctx) }()
	waitFor(t, "the waiter to sleep", func() bool { return sleepersOnLock(os.Getpid(), m) > 0 })
	start = time.Now()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("cancelled Lock = %v", err)
	}
	if d := time.Since(start); d > wait.DefaultPollInterval/2 {
		t.Errorf("cancel returned after %v; a cancel should wake the sleeper", d)
	}
	// Cancelled waiters leave the lock usable and uncounted.
	if ok, _ := m.TryLock(); ok {
		t.Fatal("TryLock succeeded while the child holds the lock")
	}
	c.Kill()
	if err := m.Lock(context.Background()); err != ErrOwnerDead {
		t.Fatalf("Lock after kill = %v", err)
	}
	m.MarkConsistent()
	m.Unlock()
	if st := m.State(); st.Waiters != 0 {
		t.Fatalf("waiters left behind: %+v", st)
	}
}

func TestCancelledWaiterDoesNotStrandNextWaiter(t *testing.T) {
	normalModeOnly(t) // the child B, too, must not become an heir: see roleLockOnce
	f := newSeg(t)
	m := Attach(f, 0, nil)
	defer wait.SetSpin(wait.SetSpin(0))
	if err := m.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Waiter A (this process) sleeps first; it is cancelled right after
	// the unlocker's only wake reaches it.
	ctx, cancel := context.WithCancel(context.Background())
	testHookAfterWait = func(mm *Mutex) {
		if mm == nil || atomic.LoadUint64(&mm.rec.word) == 0 {
			cancel()
		}
	}
	defer func() { testHookAfterWait = nil }()
	aDone := make(chan error, 1)
	go func() { aDone <- Attach(f, 0, nil).Lock(ctx) }()
	waitFor(t, "waiter A to sleep", func() bool { return threadInFutexWait(os.Getpid(), m.futexWord()) })
	// Waiter B (a child) sleeps second, with a poll interval so long that
	// only a wake can reach it within the test.
	b := proctest.Start(t, "robust-lock-once", f.Name, "1h", "normal")
	b.WaitLine("waiting")
	waitFor(t, "waiter B to sleep", func() bool { return threadInFutexWait(b.Pid(), nil) })
	m.Unlock() // one wake: the kernel wakes A, the first sleeper
	if err := <-aDone; err != context.Canceled {
		t.Fatalf("waiter A = %v, want context.Canceled", err)
	}
	if line := b.WaitLine("locked"); line != "locked <nil>" {
		t.Fatalf("waiter B: %q", line)
	}
	b.MustSucceed()
}

func TestOneSleeperPerProcess(t *testing.T) {
	f := newSeg(t)
	c := proctest.Start(t, "robust-hold", f.Name)
	c.WaitLine("holding")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { Attach(f, 0, nil).Lock(ctx) })
	}
	m := Attach(f, 0, nil)
	waitFor(t, "100 waiters", func() bool { return m.State().Waiters == 100 })
	waitFor(t, "a sleeper", func() bool { return sleepersOnLock(os.Getpid(), m) > 0 })
	if n := sleepersOnLock(os.Getpid(), m); n != 1 {
		t.Errorf("%d threads of this process sleep on the lock word, want 1", n)
	}
	cancel()
	wg.Wait()
	if st := m.State(); st.Waiters != 0 {
		t.Errorf("waiters after cancel: %d", st.Waiters)
	}
	c.Kill()
}

func TestUnlockerDiedBeforeWakeIsNoticed(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	defer wait.SetPollInterval(wait.SetPollInterval(50 * time.Millisecond))
	c := proctest.Start(t, "robust-vanish", f.Name)
	waitFor(t, "the child to lock", func() bool { return m.State().Locked })
	done := make(chan error, 1)
	go func() { done <- m.Lock(context.Background()) }()
	c.WaitLine("vanished")
	c.Kill()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Lock = %v; the word was free, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a sleeper whose unlocker never woke it is still asleep")
	}
	m.Unlock()
}

func TestStateShowsOwnerWaitersAndHeldSince(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	before := time.Now().Add(-10 * time.Millisecond)
	c := proctest.Start(t, "robust-hold", f.Name)
	c.WaitLine("holding")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Lock(ctx) }()
	waitFor(t, "a waiter", func() bool { return m.State().Waiters == 1 })
	st := m.State()
	if !st.Locked || st.OwnerPID != c.Pid() || !st.OwnerAlive || st.Consistency != Consistent {
		t.Fatalf("state: %+v", st)
	}
	if st.HeldSince.Before(before) || st.HeldSince.After(time.Now()) {
		t.Fatalf("HeldSince %v, want between %v and now", st.HeldSince, before)
	}
	raw, err := Inspect(f.Bytes())
	if err != nil || raw.OwnerPID != st.OwnerPID || !raw.HeldSince.Equal(st.HeldSince) {
		t.Fatalf("Inspect = %+v, %v; State = %+v", raw, err, st)
	}
	cancel()
	<-done
	c.Kill()
	st = m.State()
	if st.OwnerAlive || !st.Locked {
		t.Fatalf("state after the owner was killed: %+v", st)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// threadsInFutexWait counts the threads of pid blocked in a shared
// FUTEX_WAIT_BITSET (op 9) on addr (any address when addr is nil), read
// from /proc/PID/task/TID/syscall. The Go runtime's own futex sleeps are
// private (op 128|0) and do not count.
func threadsInFutexWait(pid int, addr *uint32) int {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/syscall")
		if err != nil {
			continue
		}
		fs := strings.Fields(string(b))
		if len(fs) < 3 || fs[0] != "202" || fs[2] != "0x9" {
			continue
		}
		if addr == nil || fs[1] == fmt.Sprintf("%#x", uintptr(unsafe.Pointer(addr))) {
			n++
		}
	}
	return n
}

func threadInFutexWait(pid int, addr *uint32) bool { return threadsInFutexWait(pid, addr) > 0 }

// sleepersOnLock counts the threads of pid asleep on m: on the lock word,
// or, as the heir of starvation mode, on heirSeq.
func sleepersOnLock(pid int, m *Mutex) int {
	return threadsInFutexWait(pid, m.futexWord()) + threadsInFutexWait(pid, &m.rec.heirSeq)
}

// normalModeOnly turns starvation mode off for a test that watches the
// normal mode's sleeps and wakes.
func normalModeOnly(t *testing.T) {
	old := starveAfter
	starveAfter = time.Hour
	t.Cleanup(func() { starveAfter = old })
}

// The "taken over, not repaired" mark outlives every handle: a process
// that drops its handles on such a lock, then reopens and unlocks it,
// still poisons it rather than passing the unrepaired data on.
func TestUnrepairedMarkSurvivesDroppedHandles(t *testing.T) {
	f := newSeg(t)
	m := Attach(f, 0, nil)
	c := proctest.Start(t, "robust-hold", f.Name)
	c.WaitLine("holding")
	c.Kill()
	if err := m.Lock(context.Background()); err != ErrOwnerDead {
		t.Fatalf("Lock = %v, want ErrOwnerDead", err)
	}
	m = nil // drop the only handle, and with it the gate's last strong reference
	for i := 0; i < 5; i++ {
		runtime.GC()
	}
	m = Attach(f, 0, nil)
	if err := m.Unlock(); err != nil {
		t.Fatal(err)
	}
	if st := m.State(); st.Consistency != NotRecoverable {
		t.Fatalf("unlocked without repair after reopening: %+v, want not recoverable", st)
	}
	m.Reset()
}
