package hardening

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("take-lock", takeLockRole)
}

// takeLockRole opens the Lock args[0] and locks it within args[1], then
// prints how: "result owner-dead", "result ok", "result timeout" or
// "result <error>". A fresh process has no cached opinion of any owner.
func takeLockRole(args []string) error {
	l, err := sem.OpenLock(args[0])
	if err != nil {
		return err
	}
	defer l.Close()
	d, err := time.ParseDuration(args[1])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	switch err := l.LockContext(ctx); {
	case errors.Is(err, sem.ErrOwnerDead):
		fmt.Println("result owner-dead")
		l.MarkConsistent()
		l.Unlock()
	case err == nil:
		fmt.Println("result ok")
		l.Unlock()
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("result timeout")
	default:
		fmt.Println("result", err)
	}
	return nil
}

// tick is the unit of /proc/PID/stat's start time: USER_HZ is 100 on
// every Linux architecture.
const tick = 10 * time.Millisecond

// A reuse is a dead process and the live one that got its pid at once.
type reuse struct {
	old      proc.ID   // the dead process, as Lookup saw it alive
	impostor *exec.Cmd // running, with old.PID
	sameTick bool      // the impostor started in the old process's clock tick
	tries    int
}

// reusePidAtOnce starts a process, hands its identity to whileAlive, kills
// and reaps it, and has the next process created get its pid by writing
// /proc/sys/kernel/ns_last_pid (root only: the test is skipped otherwise).
// With sameTick it retries until the new process also started in the old
// one's clock tick, the case a start-time identity cannot tell apart. The
// impostor is killed when the test ends.
func reusePidAtOnce(t *testing.T, sameTick bool, whileAlive func(proc.ID)) reuse {
	t.Helper()
	f, err := os.OpenFile("/proc/sys/kernel/ns_last_pid", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("cannot force pid reuse without writing ns_last_pid (needs root): %v", err)
	}
	defer f.Close()
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep binary:", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for try := 1; time.Now().Before(deadline); try++ {
		// Start at the beginning of a clock tick, so that the whole dance
		// (two process creations, a kill and a reap: a few ms) fits in it.
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
		if into := time.Duration(ts.Nano() % int64(tick)); sameTick && into > tick/10 {
			time.Sleep(tick - into)
			continue
		}
		old := exec.Command("sleep", "60")
		if err := old.Start(); err != nil {
			t.Fatal(err)
		}
		id, err := proc.Lookup(old.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if whileAlive != nil {
			whileAlive(id)
		}
		old.Process.Kill()
		old.Wait()
		if _, err := f.WriteAt([]byte(strconv.Itoa(id.PID-1)), 0); err != nil {
			t.Skipf("cannot force pid reuse: writing ns_last_pid: %v", err)
		}
		imp := exec.Command("sleep", "60")
		if err := imp.Start(); err != nil {
			t.Fatal(err)
		}
		start, _, err := proc.Stat(imp.Process.Pid)
		same := err == nil && start == id.Start
		if imp.Process.Pid != id.PID || sameTick && !same {
			imp.Process.Kill() // another process got the pid first, or a tick passed
			imp.Wait()
			continue
		}
		t.Cleanup(func() { imp.Process.Kill(); imp.Wait() })
		return reuse{old: id, impostor: imp, sameTick: same, tries: try}
	}
	t.Skip("could not get a pid reused within one clock tick in 20 s (a busy machine)")
	return reuse{}
}

// Pid reuse (issue 13, hole 1): a lock owner's pid reused at once, by a
// process started in the same clock tick, must not pass for the owner.

// TestPidReusedInTheSameTick shows what each tag kind tells about a pid
// reused at once by a process started in the same clock tick: a start-time
// tag cannot tell the impostor from the dead process (the documented limit
// on kernels without pidfs), a pidfs tag can.
func TestPidReusedInTheSameTick(t *testing.T) {
	r := reusePidAtOnce(t, true, nil)
	t.Logf("pid %d reused in the same tick after %d tries", r.old.PID, r.tries)
	if !proc.Alive(r.old.PID, proc.StartTag(r.old.Start)) {
		t.Fatal("a start-time tag told a same-tick impostor apart: the package doc's limit is wrong")
	}
	if !proc.IsPidfsTag(r.old.Tag) {
		t.Skip("no pidfs on this kernel: identities are start times, which a same-tick reuse fools")
	}
	if proc.Alive(r.old.PID, r.old.Tag) {
		t.Fatal("a pidfs tag took the impostor for the dead process")
	}
	if now, err := proc.Lookup(r.old.PID); err != nil || now.Tag == r.old.Tag || now.Start != r.old.Start {
		t.Fatalf("Lookup of the impostor = %+v, %v; the dead process was %+v", now, err, r.old)
	}
}

// TestLockTakenOverFromAPidReusedInTheSameTick is issue 13's hole 1: a
// lock held by a process whose pid is reused at once, by a process started
// in the same clock tick, before any waiter has looked. A fresh waiter
// (nothing cached) must take the lock over, not wait for the impostor.
// With start-time identities it waits, and the test fails.
func TestLockTakenOverFromAPidReusedInTheSameTick(t *testing.T) {
	if !proc.IsPidfsTag(proc.Self().Tag) {
		t.Skip("no pidfs on this kernel: a pid reused within one clock tick passes for its former owner (documented)")
	}
	proctest.CheckShm(t)
	l, err := sem.NewLock()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlink()
	defer l.Close()
	word := lockWordIn(t, l, l.Name())
	r := reusePidAtOnce(t, true, func(holder proc.ID) {
		// The holder's Lock, as its fast path would have written it.
		atomic.StoreUint64(word, uint64(holder.PID)|uint64(holder.Tag)<<32)
	})
	t.Logf("holder pid %d reused in the same tick after %d tries", r.old.PID, r.tries)
	if st := l.State(); !st.Locked || st.Owner != r.old.PID || st.OwnerAlive {
		t.Fatalf("lock state with the impostor running: %+v", st)
	}
	c := proctest.Start(t, "take-lock", l.Name(), "3s")
	got := c.WaitLine("result ")
	c.MustSucceed()
	if got != "result owner-dead" {
		t.Fatalf("a fresh waiter: %q, want the dead holder's lock taken over", got)
	}
}
