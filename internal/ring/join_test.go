//go:build linux

package ring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/wait"
)

func init() {
	proctest.Register("ring-join-take", roleJoinTake)
	proctest.Register("ring-join-die-in-join", roleJoinDieInJoin)
}

func nothing(uint32, []byte) error { return nil }

// roleJoinTake: queue, k, mode. Takes k records, then: "exit" exits;
// "hold" prints "holding" and sleeps; "die-in-taskdone" marks one done and
// is killed inside that TaskDone, just after its commit; "done-wait-hold"
// marks them done, prints "ready", and on SIGUSR1 takes 3 and holds them.
func roleJoinTake(args []string) error {
	q, err := openQueue(args[0])
	if err != nil {
		return err
	}
	k, _ := strconv.Atoi(args[1])
	for range k {
		if err := q.Get(context.Background(), nothing); err != nil {
			return err
		}
	}
	switch args[2] {
	case "exit":
		return nil
	case "done-wait-hold":
		// Mark them done, keep the slot, and on SIGUSR1 take 3 and hold.
		for range k {
			if err := q.TaskDone(); err != nil {
				return err
			}
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		fmt.Println("ready")
		<-sig
		for range 3 {
			if err := q.Get(context.Background(), nothing); err != nil {
				return err
			}
		}
		fmt.Println("holding")
		time.Sleep(time.Hour)
	case "hold":
		fmt.Println("holding")
		time.Sleep(time.Hour)
	case "die-in-taskdone":
		testHookDoneStep = func(*Queue, bool) { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
		q.TaskDone()
	}
	return errors.New("still alive")
}

// roleJoinDieInJoin: queue. Joins, and is killed inside its first give-up
// of a dead consumer's items, just after the commit.
func roleJoinDieInJoin(args []string) error {
	q, err := openQueue(args[0])
	if err != nil {
		return err
	}
	wait.SetPollInterval(5 * time.Millisecond)
	testHookDoneStep = func(_ *Queue, giveUp bool) {
		if giveUp {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	return q.Join(context.Background())
}

func putN(t *testing.T, q *Queue, n int) {
	t.Helper()
	for range n {
		if err := q.Put(context.Background(), 8, KindItem, func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

// heldOf is the held count of the slot pid owns (or owned), after
// settling any dead holder of consLock.
func heldOf(t *testing.T, q *Queue, pid int) uint64 {
	t.Helper()
	if err := q.lockCons(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer q.cons.Unlock()
	for i := range q.slot {
		if robust.PIDOf(atomic.LoadUint64(&q.slot[i].owner)) == pid {
			return atomic.LoadUint64(&q.slot[i].held)
		}
	}
	return 0
}

func wantLost(t *testing.T, err error, pid, n int) {
	t.Helper()
	if want := fmt.Sprintf("pid %d died holding %d unfinished", pid, n); !errors.Is(err, ErrConsumerDied) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Join = %v, want ErrConsumerDied: …%s…", err, want)
	}
}

// A consumer killed inside a TaskDone, after its commit: the TaskDone
// happened in full (Unfinished says so at once, and the next holder of
// consLock finishes the slot's count), so Join reports exactly the items
// the dead consumer still held.
func TestKilledInsideTaskDoneCountsItOnce(t *testing.T) {
	defer wait.SetPollInterval(wait.SetPollInterval(5 * time.Millisecond))
	obj, q := newQueue(t, Geometry{Capacity: 1 << 12, Joinable: true})
	putN(t, q, 3)
	c := proctest.Start(t, "ring-join-take", obj.Name, "3", "die-in-taskdone")
	if err := c.Wait(); err == nil {
		t.Fatal("the consumer survived its TaskDone")
	}
	if u := q.Unfinished(); u != 2 {
		t.Fatalf("Unfinished %d after 3 puts and a TaskDone killed after its commit, want 2", u)
	}
	if h := heldOf(t, q, c.Pid()); h != 2 {
		t.Fatalf("the dead consumer's slot holds %d after settling, want 2", h)
	}
	wantLost(t, q.Join(proctest.Context(t)), c.Pid(), 2)
	if u := q.Unfinished(); u != 0 {
		t.Fatalf("Unfinished %d after the give-up", u)
	}
}

// A Join killed inside its give-up, after the commit: the give-up happened
// in full, once — its report is out, the items left Unfinished, the slot
// is settled by the next holder of consLock, and no later Join gives the
// items up again. Late TaskDones for the given-up items still count.
func TestKilledInsideGiveUpGivesUpOnce(t *testing.T) {
	defer wait.SetPollInterval(wait.SetPollInterval(5 * time.Millisecond))
	obj, q := newQueue(t, Geometry{Capacity: 1 << 12, Joinable: true})
	putN(t, q, 4)
	h := proctest.Start(t, "ring-join-take", obj.Name, "3", "hold")
	h.WaitLine("holding")
	h.Kill()
	lost0 := atomic.LoadUint32(&q.c.lostSeq)
	j := proctest.Start(t, "ring-join-die-in-join", obj.Name)
	if err := j.Wait(); err == nil {
		t.Fatal("the joiner survived its give-up")
	}
	if got := atomic.LoadUint32(&q.c.lostSeq); got != lost0+1 {
		t.Fatalf("lostSeq moved by %d, want 1", got-lost0)
	}
	if u := q.Unfinished(); u != 1 {
		t.Fatalf("Unfinished %d with 1 item queued and 3 given up, want 1", u)
	}
	if n := heldOf(t, q, h.Pid()); n != 0 {
		t.Fatalf("the dead consumer's slot holds %d after the settled give-up", n)
	}
	if err := q.Get(context.Background(), nothing); err != nil {
		t.Fatal(err)
	}
	for i := range 4 { // ours, then the 3 given up, marked done late
		if err := q.TaskDone(); err != nil {
			t.Fatalf("TaskDone %d of 4 items put: %v", i+1, err)
		}
		if u := q.Unfinished(); u != 0 {
			t.Fatalf("Unfinished %d after TaskDone %d", u, i+1)
		}
	}
	if err := q.TaskDone(); !errors.Is(err, ErrTaskDoneTooOften) {
		t.Fatalf("a fifth TaskDone of 4 items = %v", err)
	}
	if err := q.Join(proctest.Context(t)); err != nil {
		t.Fatalf("Join with everything done = %v", err)
	}
}

// Items marked done by a process other than the one that took them are
// not reported with it when it dies, even while another consumer holds
// items (the done is charged to the dead one), and Join waits for the
// live one's item.
func TestDoneByAnotherIsNotReportedLost(t *testing.T) {
	defer wait.SetPollInterval(wait.SetPollInterval(5 * time.Millisecond))
	obj, q := newQueue(t, Geometry{Capacity: 1 << 12, Joinable: true})
	putN(t, q, 5)
	a := proctest.Start(t, "ring-join-take", obj.Name, "3", "hold")
	a.WaitLine("holding")
	b := proctest.Start(t, "ring-join-take", obj.Name, "1", "hold")
	b.WaitLine("holding")
	// We are a's helper: two of its three are done here.
	for range 2 {
		if err := q.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	a.Kill()
	a.Wait()
	wantLost(t, q.Join(proctest.Context(t)), a.Pid(), 1)
	if u := q.Unfinished(); u != 2 {
		t.Fatalf("Unfinished %d: 1 queued and 1 held by a live consumer, want 2", u)
	}
	// b lives and holds its item: Join waits for it (here, to a deadline).
	ctx, cancel := context.WithTimeout(proctest.Context(t), 100*time.Millisecond)
	defer cancel()
	if err := q.Join(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join with b alive holding its item = %v, want the deadline", err)
	}
	b.Kill()
	b.Wait()
	if err := q.Get(context.Background(), nothing); err != nil {
		t.Fatal(err)
	}
	if err := q.TaskDone(); err != nil {
		t.Fatal(err)
	}
	wantLost(t, q.Join(proctest.Context(t)), b.Pid(), 1)
	if u := q.Unfinished(); u != 0 {
		t.Fatalf("Unfinished %d after everything was done or given up", u)
	}
}

// A TaskDone by a process that took nothing, while exactly one consumer
// holds items, is charged to that consumer at once: when it exits and
// another consumer (in a lower slot, examined first) dies holding items,
// Join reports the second with all of them. (Charged only at the give-up,
// the first one's stale count would take the second's items from it.)
func TestDoneWithOneHolderIsChargedToIt(t *testing.T) {
	defer wait.SetPollInterval(wait.SetPollInterval(5 * time.Millisecond))
	obj, q := newQueue(t, Geometry{Capacity: 1 << 12, Joinable: true})
	putN(t, q, 1)
	x := proctest.Start(t, "ring-join-take", obj.Name, "1", "done-wait-hold") // slot 0, held 0
	x.WaitLine("ready")
	putN(t, q, 2)
	d := proctest.Start(t, "ring-join-take", obj.Name, "2", "exit") // slot 1, held 2
	d.MustSucceed()
	for range 2 { // d's two, marked done by us, who took nothing
		if err := q.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	putN(t, q, 3)
	x.Signal(syscall.SIGUSR1)
	x.WaitLine("holding")
	x.Kill()
	x.Wait()
	wantLost(t, q.Join(proctest.Context(t)), x.Pid(), 3)
	if u := q.Unfinished(); u != 0 {
		t.Fatalf("Unfinished %d after the give-up", u)
	}
}

// BenchmarkJoinableGetTaskDone is one get and its TaskDone on a joinable
// queue, in one goroutine: what TaskDone's turn on consLock costs beside a
// get.
func BenchmarkJoinableGetTaskDone(b *testing.B) {
	_, q := newQueue(b, Geometry{Capacity: 1 << 16, Joinable: true})
	ctx := context.Background()
	fill := func([]byte) error { return nil }
	for b.Loop() {
		if err := q.Put(ctx, 8, KindItem, fill); err != nil {
			b.Fatal(err)
		}
		if err := q.Get(ctx, nothing); err != nil {
			b.Fatal(err)
		}
		if err := q.TaskDone(); err != nil {
			b.Fatal(err)
		}
	}
}
