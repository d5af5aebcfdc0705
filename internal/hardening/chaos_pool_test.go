package hardening

// Chaos for the Pool: Map, Imap and ImapUnordered calls of varied sizes
// and chunk sizes — fixed-size arguments and results (memory images) and
// encoded ones — while a goroutine SIGKILLs a random ready worker every
// few milliseconds, and one task per call, armed, SIGKILLs its own worker
// the first time it runs (a death while a task runs, with earlier results
// of its chunk perhaps unsent). After each call:
//
//   - without RetryOnWorkerDeath, every task has exactly one outcome: its
//     correct result, or an ErrWorkerDied naming its index, a worker this
//     test killed (or that killed itself), SIGKILL, and the worker the
//     journal says began it last — never both, never none; the armed
//     task is one of them, with its own worker's pid; and there are no
//     more failures than deaths;
//   - with it, every task has its correct result, exactly once;
//   - no call hangs: each is bounded by the test's deadline.
//
// At the end every death the test caused is in the pool's figures, and
// Close leaves nothing in /dev/shm.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

const poolChaosMaxTasks = 2000

func TestChaosPool(t *testing.T) {
	t.Run("fail", func(t *testing.T) { runPoolChaos(t, false) })
	t.Run("retry", func(t *testing.T) { runPoolChaos(t, true) })
}

// An outcome is one task's, as a call reported it.
type outcome struct {
	n   int   // outcomes reported for the task
	v   int64 // its result's value, 0 if none
	err error
}

func runPoolChaos(t *testing.T, retry bool) {
	proctest.CheckShm(t)
	seg, err := newPoolJournal(poolChaosMaxTasks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); seg.Unlink() })
	l := words(seg.Bytes())
	opts := []pool.Option{pool.Workers(3), pool.Initializer(chaosInit, seg.Name())}
	if retry {
		opts = append(opts, pool.RetryOnWorkerDeath(1000))
	}
	p, err := pool.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			p.Terminate()
		}
	})
	ctx := proctest.Context(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 29))
	kills, until := chaosKills(t)
	if !until.IsZero() {
		until = time.Now().Add(1500 * time.Millisecond)
	}
	var calls, tasks, failed, selfKills, totalKills int
	dead := map[int]bool{} // every worker pid the test killed, or that killed itself
	kinds := map[string]int{}
	for call := int64(1); totalKills+selfKills < kills && (until.IsZero() || time.Now().Before(until)); call++ {
		n := 100 + rng.IntN(poolChaosMaxTasks-100)
		chunk := []int{0, 1, 3, 17, 64}[rng.IntN(5)]
		spinUs := int64(10 + rng.IntN(80))
		kind := []string{"Map", "Imap", "ImapUnordered"}[call%3]
		echo := call%6 >= 3
		clear(l[pkRuns : pkRuns+2*n])
		l[pkSelf] = 0
		l[pkArm] = uint64(rng.IntN(n)) + 1
		k := startPoolKiller(p, 8*time.Millisecond, 0)
		out := poolCall(t, ctx, p, kind, echo, call, n, chunk, spinUs)
		nk := k.halt()
		armed := l[pkArm]
		l[pkArm] = 0
		self := int(l[pkSelf])
		totalKills += nk
		selfKills += self
		for pid := range k.killed {
			dead[pid] = true
		}
		for i := range min(self, pkMaxSelf) {
			dead[int(l[pkSelfAt+2*i+1])] = true // perhaps killed from outside too, as it died
		}
		calls++
		tasks += n
		what := fmt.Sprintf("call %d (%s of %d tasks, chunksize %d, echo %v; %d kills, %d self-kills)", call, kind, n, chunk, echo, nk, self)
		if echo {
			kinds[kind+" encoded"]++
		} else {
			kinds[kind+" fixed-size"]++
		}
		fails := 0
		for i, o := range out {
			want := chaosValue(call, int64(i))
			switch {
			case o.n != 1:
				t.Fatalf("%s: task %d had %d outcomes", what, i, o.n)
			case o.err == nil && o.v != want:
				t.Fatalf("%s: task %d's result is %d, want %d", what, i, o.v, want)
			case o.err != nil && o.v != 0:
				t.Fatalf("%s: task %d failed (%v) and has a result too (%d)", what, i, o.err, o.v)
			case o.err != nil:
				fails++
				var wd *pool.WorkerDiedError
				if retry || !errors.As(o.err, &wd) {
					t.Fatalf("%s: task %d: %v", what, i, o.err)
				}
				// The journal names the worker that began the task last:
				// the one that died, or (killed after the pool saw the
				// task start and before the function's first line) none
				// in this call, or a dead worker whose result was lost —
				// killed by the test or by its own armed task before it
				// sent the result, so the task reran on the worker that died.
				last := l[pkRuns+2*i+1]
				lastPid := int(uint32(last))
				began := last>>32 == uint64(call)
				if wd.Index != i || wd.Signal != int(syscall.SIGKILL) || !k.wasKilled(wd.PID) && !selfKilled(l, self, i, wd.PID) ||
					began && lastPid != wd.PID && !k.wasKilled(lastPid) && !selfKiller(l, self, lastPid) {
					t.Fatalf("%s: task %d: %v (index %d, pid %d, signal %d); the journal says pid %d began it last (in call %d)",
						what, i, o.err, wd.Index, wd.PID, wd.Signal, lastPid, last>>32)
				}
			}
		}
		if fails > nk+self {
			t.Fatalf("%s: %d tasks failed, for %d deaths", what, fails, nk+self)
		}
		if self > 0 {
			at := int(l[pkSelfAt])
			if o := out[at]; !retry && (o.err == nil || !strings.Contains(o.err.Error(), fmt.Sprintf("worker pid %d died", l[pkSelfAt+1]))) {
				t.Fatalf("%s: task %d killed its own worker, pid %d, and its outcome is %v", what, at, l[pkSelfAt+1], o.err)
			} else if retry && l[pkRuns+2*at] < 2 {
				t.Fatalf("%s: task %d killed its own worker and was run %d times", what, at, l[pkRuns+2*at])
			}
		} else if armed != 0 && (retry || out[armed-1].err == nil) {
			// It may never have begun only if its worker was killed
			// just as it was given the task, which fails it.
			t.Fatalf("%s: task %d was armed, never began, and its outcome is %v", what, armed-1, out[armed-1].err)
		}
		failed += fails
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	failures := 0 // read once every death has been settled
	for _, s := range p.Stats() {
		failures += s.Failures
	}
	// Every failure is a death, and every death was a kill of ours: a test
	// kill, a self-kill, or both (a worker the killer hit as its own armed
	// task killed it). dead counts distinct pids, so a pid the kernel gave
	// again within the run, or a worker killed both ways, counts once
	// there: 261 failures = 246 + 15 kills against 259 pids, 1 run in 240.
	if failures < len(dead) || failures > totalKills+selfKills {
		t.Errorf("the pool counts %d worker failures; %d workers died (%d killed by the test, %d by their own task)", failures, len(dead), totalKills, selfKills)
	}
	mode := "without retries"
	if retry {
		mode = "RetryOnWorkerDeath"
	}
	t.Logf("pool, %s: %d calls %v, %d tasks; %d workers SIGKILLed from outside and %d by their own task; %d tasks failed with ErrWorkerDied naming their index, every other result correct, exactly once",
		mode, calls, kinds, tasks, totalKills, selfKills, failed)
}

func selfKilled(l []uint64, self, i, pid int) bool {
	for k := range min(self, pkMaxSelf) {
		if l[pkSelfAt+2*k] == uint64(i) && l[pkSelfAt+2*k+1] == uint64(pid) {
			return true
		}
	}
	return false
}

// poolCall makes one call and returns each task's outcomes.
func poolCall(t *testing.T, ctx context.Context, p *pool.Pool, kind string, echo bool, call int64, n, chunk int, spinUs int64) []outcome {
	t.Helper()
	out := make([]outcome, n)
	var opts []pool.CallOption
	if chunk > 0 {
		opts = append(opts, pool.Chunksize(chunk))
	}
	fixed := make([][3]int64, n)
	enc := make([]echoArg, n)
	for i := range n {
		fixed[i] = [3]int64{call, int64(i), spinUs}
		enc[i] = echoArg{Call: call, I: int64(i), Spin: spinUs, Pad: echoPad(int64(i))}
	}
	// note records an outcome; i is the task's index as the call says it.
	note := func(pos, i int64, v int64, pad *string, err error) {
		if err != nil {
			var wd *pool.WorkerDiedError
			if errors.As(err, &wd) {
				i = int64(wd.Index)
			}
			if pos >= 0 && i != pos {
				t.Fatalf("call %d: outcome %d is the failure of task %d: %v", call, pos, i, err)
			}
		} else if pad != nil && *pad != strings.ToUpper(echoPad(i)) {
			t.Fatalf("call %d: task %d's result carries %q", call, i, *pad)
		}
		if i < 0 || int(i) >= n {
			t.Fatalf("call %d: an outcome for task %d of %d: %v", call, i, n, err)
		}
		o := &out[i]
		o.n++
		if err != nil {
			o.err = err
		} else {
			o.v = v
		}
	}
	mapErr := func(err error) []error {
		if err == nil {
			return nil
		}
		var me *pool.MapError
		if !errors.As(err, &me) || me.Stopped != nil {
			t.Fatalf("call %d: Map: %v", call, err)
		}
		return me.Failed
	}
	switch {
	case kind == "Map" && !echo:
		res, err := chaosSquare.Map(ctx, p, fixed, opts...)
		failed := mapErr(err)
		for _, e := range failed {
			note(-1, -1, 0, nil, e)
		}
		for i, r := range res {
			if out[i].n == 0 {
				note(-1, r[0], r[1], nil, nil)
			} else if r != [2]int64{} {
				note(-1, int64(i), r[1], nil, nil) // a result beside its failure
			}
		}
	case kind == "Map":
		res, err := chaosEcho.Map(ctx, p, enc, opts...)
		failed := mapErr(err)
		for _, e := range failed {
			note(-1, -1, 0, nil, e)
		}
		for i, r := range res {
			if out[i].n == 0 {
				note(-1, r.I, r.V, &r.Pad, nil)
			} else if r != (echoOut{}) {
				note(-1, int64(i), r.V, nil, nil)
			}
		}
	case kind == "Imap" && !echo:
		pos := int64(0)
		for r, err := range chaosSquare.Imap(ctx, p, slices.Values(fixed), opts...) {
			poolOutcomeErr(t, call, err)
			note(pos, pickIndex(r[0], pos, err), r[1], nil, err)
			pos++
		}
	case kind == "Imap":
		pos := int64(0)
		for r, err := range chaosEcho.Imap(ctx, p, slices.Values(enc), opts...) {
			poolOutcomeErr(t, call, err)
			note(pos, pickIndex(r.I, pos, err), r.V, &r.Pad, err)
			pos++
		}
	case !echo:
		for r, err := range chaosSquare.ImapUnordered(ctx, p, slices.Values(fixed), opts...) {
			poolOutcomeErr(t, call, err)
			note(-1, r[0], r[1], nil, err)
		}
	default:
		for r, err := range chaosEcho.ImapUnordered(ctx, p, slices.Values(enc), opts...) {
			poolOutcomeErr(t, call, err)
			note(-1, r.I, r.V, &r.Pad, err)
		}
	}
	return out
}

// pickIndex is an ordered outcome's task: its result says, and must be
// its position; a failure's index is checked by note.
func pickIndex(i, pos int64, err error) int64 {
	if err == nil && i != pos {
		return -1 - pos // out of range: note fails the test
	}
	return i
}

// poolOutcomeErr fails the test on an error that is not a task's own:
// the call ended (its ctx, a stopped pool).
func poolOutcomeErr(t *testing.T, call int64, err error) {
	t.Helper()
	var wd *pool.WorkerDiedError
	if err != nil && !errors.As(err, &wd) {
		t.Fatalf("call %d: %v", call, err)
	}
}

// selfKiller reports whether pid killed itself at an armed task.
func selfKiller(l []uint64, self, pid int) bool {
	for k := range min(self, pkMaxSelf) {
		if l[pkSelfAt+2*k+1] == uint64(pid) {
			return true
		}
	}
	return false
}
