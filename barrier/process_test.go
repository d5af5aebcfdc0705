package barrier_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("barrier-cycles", cyclesRole)
	proctest.Register("barrier-wait", waitRole)
	proctest.Register("barrier-action-hang", actionHangRole)
	proctest.Register("barrier-status", statusRole)
}

// Layout of the shared record the cycles test checks, in a raw segment:
// bytes 0..7 the action's cycle counter, then per cycle one byte per
// process: 1 + the index Wait returned, and one "arrived" byte per process.
func cycleRow(b []byte, parties, cycle int) (indices, arrived []byte) {
	off := 8 + cycle*2*parties
	return b[off : off+parties], b[off+parties : off+2*parties]
}

// cyclesRole: args barrier, segment, cycles, parties. Each cycle it marks
// itself arrived, waits, and records its index. The Action (run by one
// party per cycle, under the barrier's lock) checks that every party of the
// cycle arrived before it runs, and counts the cycle.
func cyclesRole(args []string) error {
	seg, err := shm.Open(args[1])
	if err != nil {
		return err
	}
	defer seg.Close()
	cycles, _ := strconv.Atoi(args[2])
	parties, _ := strconv.Atoi(args[3])
	mem := seg.Bytes()
	me := proctest.Index()
	action := func() error {
		c := int(leUint64(mem))
		_, arrived := cycleRow(mem, parties, c)
		for p, a := range arrived {
			if a != 1 {
				return fmt.Errorf("cycle %d: action ran before party %d arrived", c, p)
			}
		}
		putLeUint64(mem, uint64(c+1)) // plain write: the barrier orders it
		return nil
	}
	b, err := barrier.Open(args[0], barrier.Action(action))
	if err != nil {
		return err
	}
	defer b.Close()
	ctx, cancel := proctest.ChildContext() // the test's deadline
	defer cancel()
	for c := range cycles {
		indices, arrived := cycleRow(mem, parties, c)
		arrived[me] = 1
		idx, err := b.Wait(ctx)
		if err != nil {
			return fmt.Errorf("cycle %d: %w", c, err)
		}
		indices[me] = byte(idx + 1)
		if n := int(leUint64(mem)); n < c+1 {
			return fmt.Errorf("cycle %d: released before the action counted it (count %d)", c, n)
		}
	}
	return nil
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func putLeUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

func TestFourProcessesThousandCyclesActionCountsExactly(t *testing.T) {
	proctest.CheckShm(t)
	const parties, cycles = 4, 1000
	seg, err := shm.Create("", 8+cycles*2*parties)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Unlink()
	defer seg.Close()
	b := newBarrier(t, parties, barrier.Action(func() error {
		return errors.New("the parent never waits: its Action must not run")
	}))
	proctest.Run(t, parties, "barrier-cycles", b.Name(), seg.Name(), strconv.Itoa(cycles), strconv.Itoa(parties))

	mem := seg.Bytes()
	if n := leUint64(mem); n != cycles {
		t.Fatalf("the action counted %d cycles, want %d", n, cycles)
	}
	if n := b.Cycles(); n != cycles {
		t.Fatalf("Cycles() = %d, want %d", n, cycles)
	}
	for c := range cycles {
		indices, _ := cycleRow(mem, parties, c)
		var seen [parties]bool
		for p, v := range indices {
			i := int(v) - 1
			if i < 0 || i >= parties || seen[i] {
				t.Fatalf("cycle %d: indices %v (index+1 per process) are not a permutation of 0..%d; process %d", c, indices, parties-1, p)
			}
			seen[i] = true
		}
	}
	if b.Broken() || b.NWaiting() != 0 {
		t.Fatalf("after the run: broken %v, waiting %d", b.Broken(), b.NWaiting())
	}
}

// waitRole: args barrier, want, [timeout]. It waits once and checks the
// outcome against want: "ok", "broken" (ErrBroken, not a timeout of its
// own), "died" (ErrBroken wrapping ErrPartyDied), "forever" (no check: it
// is meant to be killed). With a timeout argument it opens the barrier
// with that Timeout.
func waitRole(args []string) error {
	var opts []barrier.Option
	if len(args) > 2 {
		d, err := time.ParseDuration(args[2])
		if err != nil {
			return err
		}
		opts = append(opts, barrier.Timeout(d))
	}
	b, err := barrier.Open(args[0], opts...)
	if err != nil {
		return err
	}
	defer b.Close()
	ctx, cancel := proctest.ChildContext() // the test's deadline
	defer cancel()
	fmt.Println("waiting")
	start := time.Now()
	idx, err := b.Wait(ctx)
	fmt.Printf("returned %d after %v: %v\n", idx, time.Since(start), err)
	switch args[1] {
	case "ok":
		return err
	case "broken":
		if !errors.Is(err, barrier.ErrBroken) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("Wait = %v, want ErrBroken caused by another party", err)
		}
	case "timeout":
		if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("Wait = %v, want ErrBroken and DeadlineExceeded", err)
		}
	case "died":
		if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, barrier.ErrPartyDied) {
			return fmt.Errorf("Wait = %v, want ErrBroken wrapping ErrPartyDied", err)
		}
	}
	return nil
}

// actionHangRole opens the barrier with an Action that announces itself
// and never returns, then waits: as the last party it runs the Action while
// holding the barrier's lock, and is killed there.
func actionHangRole(args []string) error {
	b, err := barrier.Open(args[0], barrier.Action(func() error {
		fmt.Println("in action")
		select {}
	}))
	if err != nil {
		return err
	}
	defer b.Close()
	_, err = b.Wait(context.Background())
	return err
}

// statusRole prints what another process sees of the barrier.
func statusRole(args []string) error {
	b, err := barrier.Open(args[0])
	if err != nil {
		return err
	}
	defer b.Close()
	st := b.Status()
	fmt.Printf("parties=%d waiting=%d broken=%v cycles=%d phase=%s pids=%d reason=%q\n",
		b.Parties(), b.NWaiting(), b.Broken(), b.Cycles(), st.Phase, len(st.PIDs), st.Reason)
	return nil
}

// waitForWaiting polls the shared count until n parties wait: proof that
// the children are blocked in Wait, not merely started.
func waitForWaiting(t *testing.T, b *barrier.Barrier, n int) {
	t.Helper()
	deadline, _ := proctest.Context(t).Deadline() // the test's own
	for b.NWaiting() != n {
		if time.Now().After(deadline) {
			t.Fatalf("NWaiting = %d, want %d", b.NWaiting(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTimeoutBreaksEveryWaiterInEveryProcess(t *testing.T) {
	// Waits sleep an hour between looks: returning at all proves the
	// deadline or the cancel ended the wait, with no timing claim.
	defer sem.SetPollInterval(sem.SetPollInterval(time.Hour))
	proctest.CheckShm(t)
	b := newBarrier(t, 4)
	others := proctest.StartN(t, 2, "barrier-wait", b.Name(), "broken")
	waitForWaiting(t, b, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Wait(ctx) // the third of four: nobody completes the cycle
	if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want ErrBroken and DeadlineExceeded", err)
	}
	t.Logf("a 100ms deadline returned after %v", time.Since(start)) // how fast is a benchmark's claim, not a test's
	for _, c := range others {
		c.MustSucceed()
	}
	if !b.Broken() {
		t.Fatal("barrier not broken after a timeout")
	}
	if _, err := b.Wait(context.Background()); !errors.Is(err, barrier.ErrBroken) {
		t.Fatalf("Wait on a broken barrier = %v, want ErrBroken at once", err)
	}
	resetAndRunOneCycle(t, b)
}

func TestTimeoutOptionIsSharedWithOpeners(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 3, barrier.Timeout(200*time.Millisecond))
	// Both children inherit the creator's Timeout; the first to time out
	// breaks the barrier, so each sees either its own timeout or the break.
	start := time.Now()
	cs := proctest.StartN(t, 2, "barrier-wait", b.Name(), "any")
	for _, c := range cs {
		c.MustSucceed()
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("children with a 200ms Timeout took %v", d)
	}
	if !b.Broken() {
		t.Fatal("barrier not broken by the Timeout")
	}
	var timedOut int
	for _, c := range cs {
		if out := strings.Join(c.Output(), "\n"); strings.Contains(out, "Timeout 200ms passed") {
			timedOut++
		}
	}
	if timedOut == 0 {
		t.Fatalf("no child reported its Timeout: %q / %q", cs[0].Output(), cs[1].Output())
	}
	// A Timeout given to Open overrides the creator's.
	b.Reset()
	c := proctest.Start(t, "barrier-wait", b.Name(), "timeout", "50ms")
	c.MustSucceed()
	if out := strings.Join(c.Output(), "\n"); !strings.Contains(out, "Timeout 50ms passed") {
		t.Fatalf("child's own Timeout not used: %q", out)
	}
}

func TestAbortBreaksEveryWaiterInEveryProcess(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 4)
	cs := proctest.StartN(t, 3, "barrier-wait", b.Name(), "broken")
	waitForWaiting(t, b, 3)
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		c.MustSucceed()
		if out := strings.Join(c.Output(), "\n"); !strings.Contains(out, "aborted") {
			t.Errorf("child's error does not say why: %q", out)
		}
	}
	if !b.Broken() {
		t.Fatal("not broken after Abort")
	}
	resetAndRunOneCycle(t, b)
}

func TestPartyKilledWhileWaitingBreaksTheOthersPromptly(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 4)
	victim := proctest.Start(t, "barrier-wait", b.Name(), "forever")
	waitForWaiting(t, b, 1)
	survivor := proctest.Start(t, "barrier-wait", b.Name(), "died")
	waitForWaiting(t, b, 2)
	done := make(chan error, 1)
	go func() { _, err := b.Wait(proctest.Context(t)); done <- err }()
	waitForWaiting(t, b, 3)

	victim.Kill()
	killed := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, barrier.ErrPartyDied) {
			t.Fatalf("survivor's Wait = %v, want ErrBroken wrapping ErrPartyDied", err)
		}
		// How fast is a figure for benchmarks, not a test's assertion
		// (under load it is not a property of the code).
		t.Logf("broken %v after the SIGKILL: %v", time.Since(killed), err)
	case <-proctest.Context(t).Done():
		t.Fatal("survivors still waiting 10s after a party was killed")
	}
	survivor.MustSucceed()
	if st := b.Status(); st.Reason != "a waiting party's process died" || st.By != victim.Pid() {
		t.Errorf("Status = %+v, want the victim (pid %d) named", st, victim.Pid())
	}
	resetAndRunOneCycle(t, b)
}

func TestPartyKilledHoldingTheLockBreaksTheBarrier(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 3, barrier.Action(func() error { return nil }))
	waiter := proctest.Start(t, "barrier-wait", b.Name(), "died")
	waitForWaiting(t, b, 1)
	done := make(chan error, 1)
	go func() { _, err := b.Wait(proctest.Context(t)); done <- err }()
	waitForWaiting(t, b, 2)
	// The last party runs its Action holding the barrier's lock; kill it there.
	victim := proctest.Start(t, "barrier-action-hang", b.Name())
	victim.WaitLine("in action")
	victim.Kill()
	killed := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, barrier.ErrPartyDied) {
			t.Fatalf("Wait = %v, want ErrBroken wrapping ErrPartyDied", err)
		}
		// How fast is a figure for benchmarks, not a test's assertion
		// (under load it is not a property of the code).
		t.Logf("broken %v after the SIGKILL: %v", time.Since(killed), err)
	case <-proctest.Context(t).Done():
		t.Fatal("waiters still blocked 10s after the lock holder was killed")
	}
	waiter.MustSucceed()
	if b.Cycles() != 0 {
		t.Fatalf("a cycle whose Action never finished was counted")
	}
	resetAndRunOneCycle(t, b)
}

func TestStatusIsReadableFromAnotherProcess(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 3)
	c := proctest.Start(t, "barrier-wait", b.Name(), "broken")
	waitForWaiting(t, b, 1)
	st := proctest.Start(t, "barrier-status", b.Name())
	want := `parties=3 waiting=1 broken=false cycles=0 phase=filling pids=1 reason=""`
	if got := st.WaitLine("parties="); got != want {
		t.Fatalf("status from another process:\n got %s\nwant %s", got, want)
	}
	st.MustSucceed()
	b.Abort()
	c.MustSucceed()
	st = proctest.Start(t, "barrier-status", b.Name())
	want = `parties=3 waiting=0 broken=true cycles=0 phase=broken pids=0 reason="aborted"`
	if got := st.WaitLine("parties="); got != want {
		t.Fatalf("status from another process:\n got %s\nwant %s", got, want)
	}
	st.MustSucceed()
}

// resetAndRunOneCycle shows the barrier usable again: Reset, then a full
// cycle of goroutines.
func resetAndRunOneCycle(t *testing.T, b *barrier.Barrier) {
	t.Helper()
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	if b.Broken() || b.NWaiting() != 0 {
		t.Fatalf("after Reset: broken %v, waiting %d", b.Broken(), b.NWaiting())
	}
	before := b.Cycles()
	errs := make(chan error, b.Parties())
	for range b.Parties() {
		go func() { _, err := b.Wait(proctest.Context(t)); errs <- err }()
	}
	for range b.Parties() {
		if err := <-errs; err != nil {
			t.Fatalf("cycle after Reset: %v", err)
		}
	}
	if b.Cycles() != before+1 {
		t.Fatalf("Cycles %d after one more cycle from %d", b.Cycles(), before)
	}
}
