package barrier_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func newBarrier(t *testing.T, parties int, opts ...barrier.Option) *barrier.Barrier {
	t.Helper()
	b, err := barrier.New(parties, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Unlink()
		b.Close()
	})
	return b
}

func TestMoreGoroutinesThanPartiesShareCyclesExactly(t *testing.T) {
	proctest.CheckShm(t)
	// Three goroutines share a 2-party barrier, so cycles mix them in every
	// combination; each cycle still yields exactly one index 0 and one 1.
	const parties, goroutines, target = 2, 3, 300
	var actions atomic.Int64
	b := newBarrier(t, parties, barrier.Action(func() error { actions.Add(1); return nil }))
	var counts [parties]atomic.Int64
	var wg sync.WaitGroup
	ctx := proctest.Context(t)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for actions.Load() < target {
				idx, err := b.Wait(ctx)
				if errors.Is(err, barrier.ErrBroken) && b.Broken() && actions.Load() >= target {
					return // the Abort below freed the odd one out
				}
				if err != nil {
					t.Error(err)
					return
				}
				counts[idx].Add(1)
			}
		}()
	}
	for actions.Load() < target {
		time.Sleep(time.Millisecond)
	}
	// At most one goroutine is left waiting for a partner that stopped.
	waitAllOrAbort(b, &wg)
	cycles := actions.Load()
	if cycles < target || uint64(cycles) != b.Cycles() {
		t.Fatalf("actions %d, Cycles %d, want equal and >= %d", cycles, b.Cycles(), target)
	}
	for i := range counts {
		if n := counts[i].Load(); n != cycles {
			t.Errorf("index %d returned %d times in %d cycles", i, n, cycles)
		}
	}
}

// waitAllOrAbort waits for wg; if goroutines are still waiting on b after
// the others stopped, it aborts b to free them.
func waitAllOrAbort(b *barrier.Barrier, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			return
		case <-time.After(20 * time.Millisecond):
			if b.NWaiting() > 0 {
				b.Abort()
			}
		}
	}
}

func TestSinglePartyBarrierNeverWaits(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 1)
	for range 3 {
		if idx, err := b.Wait(context.Background()); idx != 0 || err != nil {
			t.Fatalf("Wait = %d, %v", idx, err)
		}
	}
	if b.Cycles() != 3 {
		t.Fatalf("Cycles = %d", b.Cycles())
	}
}

func TestLastPartySucceedsEvenWithExpiredContext(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 2)
	done := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); done <- err }()
	waitForWaiting(t, b, 1)
	// Python: the party that completes the cycle never waits, so its
	// timeout does not matter.
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	idx, err := b.Wait(expired)
	if err != nil || idx != 1 {
		// The lock is free, so Wait got it before looking at ctx.
		t.Fatalf("last Wait with a cancelled ctx = %d, %v; want 1, nil", idx, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCancelReturnsPromptlyAndBreaksTheBarrier(t *testing.T) {
	// Waits sleep an hour between looks: returning at all proves the
	// deadline or the cancel ended the wait, with no timing claim.
	defer sem.SetPollInterval(sem.SetPollInterval(time.Hour))
	proctest.CheckShm(t)
	b := newBarrier(t, 3)
	other := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); other <- err }()
	waitForWaiting(t, b, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := b.Wait(ctx); done <- err }()
	waitForWaiting(t, b, 2)
	cancel()
	start := time.Now()
	err := <-done
	if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Wait = %v, want ErrBroken and Canceled", err)
	}
	t.Logf("cancelled Wait took %v", time.Since(start)) // how fast is a benchmark's claim, not a test's
	if err := <-other; !errors.Is(err, barrier.ErrBroken) || errors.Is(err, context.Canceled) {
		t.Fatalf("other waiter = %v, want ErrBroken (not its own cancel)", err)
	}
	resetAndRunOneCycle(t, b)
}

func TestDeadlineReturnsPromptly(t *testing.T) {
	// Waits sleep an hour between looks: returning at all proves the
	// deadline or the cancel ended the wait, with no timing claim.
	defer sem.SetPollInterval(sem.SetPollInterval(time.Hour))
	proctest.CheckShm(t)
	b := newBarrier(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := b.Wait(ctx)
	if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
	if dl, _ := ctx.Deadline(); time.Now().Before(dl) {
		t.Errorf("returned %v before the deadline", time.Until(dl))
	}
	t.Logf("50ms deadline returned after %v", time.Since(start)) // how fast is a benchmark's claim, not a test's
	resetAndRunOneCycle(t, b)
}

func TestContextEndingBeforeTheLockJoinsNothing(t *testing.T) {
	proctest.CheckShm(t)
	release := make(chan struct{})
	inAction := make(chan struct{})
	b := newBarrier(t, 1, barrier.Action(func() error {
		close(inAction)
		<-release
		return nil
	}))
	first := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); first <- err }()
	<-inAction // the Action holds the barrier's lock
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, barrier.ErrBroken) {
		t.Fatalf("Wait that never got the lock = %v, want DeadlineExceeded alone", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if b.Broken() || b.Cycles() != 1 {
		t.Fatalf("broken %v cycles %d: the abandoned Wait changed the barrier", b.Broken(), b.Cycles())
	}
}

func TestResetReleasesWaitersBrokenAndStartsAfresh(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 3)
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := b.Wait(context.Background()); errs <- err }()
	}
	waitForWaiting(t, b, 2)
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		err := <-errs
		if !errors.Is(err, barrier.ErrBroken) || !strings.Contains(err.Error(), "reset") {
			t.Fatalf("waiter during Reset = %v, want ErrBroken (reset)", err)
		}
	}
	if b.Broken() {
		t.Fatal("Reset left the barrier broken")
	}
	resetAndRunOneCycle(t, b)
}

func TestActionErrorBreaksTheBarrier(t *testing.T) {
	proctest.CheckShm(t)
	boom := errors.New("boom")
	b := newBarrier(t, 2, barrier.Action(func() error { return boom }))
	other := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); other <- err }()
	waitForWaiting(t, b, 1)
	_, err := b.Wait(context.Background())
	if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, boom) {
		t.Fatalf("last party = %v, want ErrBroken wrapping the Action's error", err)
	}
	if err := <-other; !errors.Is(err, barrier.ErrBroken) || errors.Is(err, boom) {
		t.Fatalf("other party = %v, want ErrBroken", err)
	}
	if !b.Broken() || b.Cycles() != 0 {
		t.Fatalf("broken %v cycles %d", b.Broken(), b.Cycles())
	}
}

func TestActionPanicBreaksTheBarrierAndPropagates(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 2, barrier.Action(func() error { panic("action panicked") }))
	other := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); other <- err }()
	waitForWaiting(t, b, 1)
	func() {
		defer func() {
			if p := recover(); p != "action panicked" {
				t.Fatalf("recovered %v, want the Action's panic", p)
			}
		}()
		b.Wait(context.Background())
		t.Fatal("Wait returned normally from a panicking Action")
	}()
	if err := <-other; !errors.Is(err, barrier.ErrBroken) {
		t.Fatalf("other party = %v, want ErrBroken", err)
	}
	// The lock was released on the way out: the barrier still answers.
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	if !b.Broken() {
		t.Fatal("not broken")
	}
}

func TestCycleCompletedWithoutTheActionBreaks(t *testing.T) {
	proctest.CheckShm(t)
	var ran atomic.Bool
	b := newBarrier(t, 2, barrier.Action(func() error { ran.Store(true); return nil }))
	bare, err := barrier.Open(b.Name()) // as a process that forgot the Action
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	other := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); other <- err }()
	waitForWaiting(t, b, 1)
	_, err = bare.Wait(context.Background())
	if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, barrier.ErrNoAction) {
		t.Fatalf("Wait = %v, want ErrBroken wrapping ErrNoAction", err)
	}
	if err := <-other; !errors.Is(err, barrier.ErrBroken) {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("the Action ran")
	}
}

func TestCloseEndsLocalWaitsAndBreaksTheBarrier(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 2)
	h, err := barrier.Open(b.Name())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := h.Wait(context.Background()); done <- err }()
	waitForWaiting(t, b, 1)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, barrier.ErrClosed) {
		t.Fatalf("Wait during Close = %v, want ErrBroken and ErrClosed", err)
	}
	if !b.Broken() {
		t.Fatal("closing a waiting party's handle did not break the barrier")
	}
	if _, err := h.Wait(context.Background()); !errors.Is(err, barrier.ErrClosed) {
		t.Fatalf("Wait after Close = %v", err)
	}
	if err := h.Abort(); !errors.Is(err, barrier.ErrClosed) {
		t.Fatalf("Abort after Close = %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestManyGoroutinesShareOneKernelSleeper(t *testing.T) {
	proctest.CheckShm(t)
	const parties = 100
	b := newBarrier(t, parties)
	var wg sync.WaitGroup
	idx := make([]atomic.Int32, parties)
	for range parties {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i, err := b.Wait(proctest.Context(t))
			if err != nil {
				t.Error(err)
				return
			}
			idx[i].Add(1)
		}()
	}
	wg.Wait()
	for i := range idx {
		if idx[i].Load() != 1 {
			t.Fatalf("index %d returned %d times", i, idx[i].Load())
		}
	}
}

func TestBadArgumentsAreRefusedWithTheValue(t *testing.T) {
	proctest.CheckShm(t)
	for _, n := range []int{0, -1, barrier.MaxParties + 1} {
		_, err := barrier.New(n)
		if !errors.Is(err, barrier.ErrInvalidArgument) {
			t.Errorf("New(%d) = %v, want ErrInvalidArgument", n, err)
		} else if want := "parties " + strconv.Itoa(n); !strings.Contains(err.Error(), want) {
			t.Errorf("New(%d): %q does not name the value", n, err)
		}
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := barrier.New(2, barrier.Timeout(d)); !errors.Is(err, barrier.ErrInvalidArgument) {
			t.Errorf("Timeout(%v) = %v, want ErrInvalidArgument", d, err)
		}
	}
	if _, err := barrier.New(2, barrier.Name("a/b")); !errors.Is(err, barrier.ErrInvalidName) {
		t.Errorf("Name(a/b): %v", err)
	}
}

func TestOpenRefusesWhatIsNotABarrier(t *testing.T) {
	proctest.CheckShm(t)
	if _, err := barrier.Open("mpgo_test_no_such_barrier"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := barrier.Open(""); !errors.Is(err, barrier.ErrInvalidName) {
		t.Errorf("empty name: %v", err)
	}

	ev, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Unlink()
	defer ev.Close()
	_, err = barrier.Open(ev.Name())
	if !errors.Is(err, barrier.ErrKindMismatch) || !strings.Contains(err.Error(), "Event") {
		t.Errorf("Event opened as a barrier: %v", err)
	}

	garbage, err := shm.Create("", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Unlink()
	defer garbage.Close()
	copy(garbage.Bytes(), "MPGO\x00OBJ but not really")
	if _, err := barrier.Open(garbage.Name()); !errors.Is(err, barrier.ErrCorrupt) {
		t.Errorf("garbage: %v", err)
	}

	// Valid headers around impossible barriers.
	for _, tc := range []struct {
		name    string
		payload int
		init    func(p []byte)
	}{
		{"too short", 64, nil},
		{"zero parties", 128 + 8, nil},
		{"parties past the file", 128 + 8, func(p []byte) { p[80] = 200 }},
		{"parties past MaxParties", 128 + 8, func(p []byte) { p[80], p[81], p[82] = 1, 0, 1 }},
		{"negative timeout", 128 + 8, func(p []byte) { p[80] = 1; p[103] = 0x80 }},
	} {
		obj, err := segment.CreateObject(segment.ObjectSpec{Kind: layout.KindBarrier, PayloadSize: tc.payload}, segment.Options{}, func(p []byte) error {
			if tc.init != nil {
				tc.init(p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = barrier.Open(obj.Name)
		if !errors.Is(err, barrier.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
		obj.Unlink()
		obj.Close()
	}
}

func TestImpossibleSharedStateIsRepairedNotTrusted(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 2)
	raw, err := shm.Open(b.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	p := raw.Bytes()[layout.HeaderSize:]
	p[76] = 0xff // count far past parties, as a foreign writer might leave it
	p[77] = 0xff
	if n := b.NWaiting(); n > 2 {
		t.Fatalf("NWaiting = %d for a 2-party barrier", n)
	}
	_, err = b.Wait(context.Background())
	if !errors.Is(err, barrier.ErrBroken) || !errors.Is(err, barrier.ErrCorrupt) {
		t.Fatalf("Wait on impossible state = %v, want ErrBroken and ErrCorrupt", err)
	}
	p[72] = 0x7f // a phase this library does not know reads as broken
	if !b.Broken() {
		t.Fatal("unknown phase not read as broken")
	}
	resetAndRunOneCycle(t, b)
}

func TestInspectReadsAFileWithoutOpeningIt(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 2)
	done := make(chan error, 1)
	go func() { _, err := b.Wait(context.Background()); done <- err }()
	waitForWaiting(t, b, 1)
	data, err := os.ReadFile("/dev/shm/" + b.Name())
	if err != nil {
		t.Fatal(err)
	}
	st, err := barrier.Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	if st.Parties != 2 || st.Waiting != 1 || st.Phase != "filling" || len(st.PIDs) != 1 || st.PIDs[0] != os.Getpid() {
		t.Fatalf("Inspect = %+v", st)
	}
	b.Abort()
	<-done

	if _, err := barrier.Inspect(data[:100]); !errors.Is(err, barrier.ErrCorrupt) {
		t.Errorf("short file: %v", err)
	}
	if _, err := barrier.Inspect(data[:len(data)-8]); !errors.Is(err, barrier.ErrCorrupt) {
		t.Errorf("truncated payload: %v", err)
	}
	ev, err := sem.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Unlink()
	defer ev.Close()
	evData, err := os.ReadFile("/dev/shm/" + ev.Name())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := barrier.Inspect(evData); !errors.Is(err, barrier.ErrKindMismatch) {
		t.Errorf("an Event's file: %v", err)
	}
}

// FuzzInspectPayload feeds Inspect valid headers around arbitrary payloads:
// it must return an error or a sane Status, never panic or read past the
// bytes.
func FuzzInspectPayload(f *testing.F) {
	f.Add(make([]byte, 136))
	f.Add(append(make([]byte, 80), 2, 0, 0, 0))
	valid := make([]byte, 128+16)
	valid[80], valid[72], valid[76] = 2, 7, 200
	valid[128] = 1
	f.Add(valid)
	f.Fuzz(func(t *testing.T, payload []byte) {
		h := layout.Header{Kind: layout.KindBarrier, PayloadSize: uint64(len(payload))}
		file := make([]byte, layout.HeaderSize+len(payload))
		h.Encode(file)
		copy(file[layout.HeaderSize:], payload)
		st, err := barrier.Inspect(file)
		if err != nil {
			return
		}
		if st.Parties < 1 || st.Waiting > st.Parties || len(st.PIDs) > st.Parties {
			t.Fatalf("impossible Status %+v", st)
		}
	})
}

func TestForeignOwnedBarrierNeedsAllowForeignOwner(t *testing.T) {
	proctest.CheckShm(t)
	b := newBarrier(t, 1)
	if err := os.Chown("/dev/shm/"+b.Name(), 65534, 65534); err != nil {
		t.Skipf("cannot give the file to another user (needs root): %v", err)
	}
	if _, err := barrier.Open(b.Name()); !errors.Is(err, segment.ErrForeignOwner) {
		t.Fatalf("Open of another user's barrier = %v", err)
	}
	o, err := barrier.Open(b.Name(), barrier.AllowForeignOwner())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if idx, err := o.Wait(context.Background()); idx != 0 || err != nil {
		t.Fatalf("Wait = %d, %v", idx, err)
	}
}
