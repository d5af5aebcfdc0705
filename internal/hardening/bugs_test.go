package hardening

// Bugs the suites found in code this package does not own, each as a test
// of the behaviour that should hold. One that fails today is skipped
// unless MULTIPROC_KNOWN_BUGS=1, the skip saying what is wrong; the fix
// removes the skip, and the test stays to keep the bug fixed.

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("bug-take-and-exit", takeAndExit)
}

func knownBug(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("MULTIPROC_KNOWN_BUGS") != "1" {
		t.Skip("known bug (MULTIPROC_KNOWN_BUGS=1 runs it): " + what)
	}
}

// takeAndExit takes args[1] items from the joinable queue args[0] and
// exits normally, leaving them for another process to mark done.
func takeAndExit(args []string) error {
	q, err := pool.OpenJoinableQueue[int](args[0])
	if err != nil {
		return err
	}
	defer q.Close()
	k, _ := strconv.Atoi(args[1])
	for range k {
		if _, err := q.Get(context.Background()); err != nil {
			return err
		}
	}
	return nil
}

// TestJoinableTaskDoneInAnotherProcess: Python's task_done may be called
// by any process, and JoinableQueue.TaskDone says "in any process". Here
// a consumer process takes three items and exits normally, and the parent
// marks them done. The consumer's slot still counts the three as its own
// (ring.TaskDone lowers only the caller's slot); Join must not give them
// up a second time once it has exited. (It did: it reported the consumer
// as having died holding 3 unfinished items, Unfinished went negative, and
// the TaskDone of an item put afterwards failed with ErrTaskDoneTooOften.
// Now a give-up is bounded by what is taken, unfinished and attributed to
// no other consumer: internal/ring/join.go.)
func TestJoinableTaskDoneInAnotherProcess(t *testing.T) {
	proctest.CheckShm(t)
	defer sem.SetPollInterval(sem.SetPollInterval(20 * time.Millisecond))
	q, err := pool.NewJoinableQueue[int]()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := proctest.Context(t)
	for i := range 3 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	c := proctest.Start(t, "bug-take-and-exit", q.Name(), "3")
	c.MustSucceed()
	for range 3 {
		if err := q.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	if u := q.Unfinished(); u != 0 {
		t.Fatalf("Unfinished %d after 3 puts and 3 TaskDones", u)
	}
	if err := q.Put(ctx, 3); err != nil {
		t.Fatal(err)
	}
	// The fourth item is queued and unfinished: Join waits for it (or the
	// deadline), and nobody who took an item has left one unfinished.
	jctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := q.Join(jctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Join with one item queued and none held = %v, want the deadline (pid %d exited normally, its items marked done by pid %d)", err, c.Pid(), os.Getpid())
	}
	if u := q.Unfinished(); u != 1 {
		t.Errorf("Unfinished = %d with one item queued, want 1", u)
	}
	if _, err := q.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if err := q.TaskDone(); err != nil {
		t.Errorf("TaskDone of the fourth item: %v", err)
	}
	if err := q.Join(ctx); err != nil {
		t.Errorf("Join with everything done: %v", err)
	}
}

// TestPoolRequeuedChunksKeepTheirProgress: a worker's progress words name
// the chunk it runs by the chunk's seq. The chunks a dead worker's tasks
// go back to pending in (engine.gone: c.slice, for results it never sent,
// for the tasks after the one that died, for chunks it never reached) are
// new chunks; the engine once numbered chunks at submit only, so these
// all had seq 0. A replacement that ran two of them in a row saw its
// chunk word unchanged at the second (progress.begin resets started and
// finished only when it changes), so during that chunk's first task the
// words said the previous chunk's count of tasks finished. A death then
// counted the running task as finished: without RetryOnWorkerDeath it ran
// again instead of failing with ErrWorkerDied, and the tasks after it up
// to that stale count were put back twice (once as "finished, result
// unsent", once as "not reached") and ran twice. The chaos and storm
// suites found it within seconds; the engine now gives a chunk its seq at
// each send (pool/pool_loop.go, chunk).
//
// Here, one worker, chunks of 4 of 16 tasks: task 5 kills its worker,
// which puts back [4], [6 7] and [8 9 10 11]; the replacement runs [4],
// then [6 7], then task 8 kills it, which with the old numbering left the
// words saying "chunk 0, 1 started, 2 finished". Tasks 5 and 8 must fail;
// every other task must have its result, once.
func TestPoolRequeuedChunksKeepTheirProgress(t *testing.T) {
	proctest.CheckShm(t)
	seg, err := newPoolJournal(16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); seg.Unlink() })
	l := words(seg.Bytes())
	p, err := pool.New(pool.Workers(1), pool.Initializer(chaosInit, seg.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	l[pkArm], l[pkArm+1] = 5+1, 8+1
	xs := make([][3]int64, 16)
	for i := range xs {
		xs[i] = [3]int64{1, int64(i), 0}
	}
	out, err := chaosSquare.Map(proctest.Context(t), p, xs, pool.Chunksize(4))
	var me *pool.MapError
	var failed []int
	if errors.As(err, &me) {
		for _, e := range me.Failed {
			var wd *pool.WorkerDiedError
			if errors.As(e, &wd) {
				failed = append(failed, wd.Index)
			}
		}
	}
	if len(failed) != 2 || failed[0] != 5 || failed[1] != 8 {
		t.Errorf("Map: %v; want tasks 5 and 8 to fail with ErrWorkerDied, each killed its worker while it ran", err)
	}
	for i, r := range out {
		if i != 5 && i != 8 && r != [2]int64{int64(i), chaosValue(1, int64(i))} {
			t.Errorf("out[%d] = %v, want %v", i, r, [2]int64{int64(i), chaosValue(1, int64(i))})
		}
	}
	for i := range 16 {
		// Task 4 finished before task 5 killed the worker, and its result
		// may have died unsent with it: then it runs again, by design.
		if n := l[pkRuns+2*i]; n != 1 && !(i == 4 && n == 2) {
			t.Errorf("task %d began %d times, want once (it ran, or died with its worker)", i, n)
		}
	}
}
