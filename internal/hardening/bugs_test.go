package hardening

// Bugs the suites found in code this package does not own, each as a test
// of the behaviour that should hold. They fail today, so they are skipped
// unless MULTIPROC_KNOWN_BUGS=1; each skip says what is wrong. Remove the
// skip with the fix.

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
// (ring.TaskDone lowers only the caller's slot), so once it has exited the
// next Join that waits gives them up a second time: it reports the
// consumer as having died holding 3 unfinished items, Unfinished goes
// negative, and the TaskDone of an item put afterwards fails with
// ErrTaskDoneTooOften. The same double count follows a consumer killed
// between ring.TaskDone's two steps (done += 1, then its slot's
// outstanding -= 1): those two are not one step for a reader after a
// death, as a get's head and outstanding are through the journal.
func TestJoinableTaskDoneInAnotherProcess(t *testing.T) {
	knownBug(t, "a JoinableQueue counts items marked done by another process as held by the consumer that took them: Join reports that consumer dead holding them once it exits, and Unfinished goes negative (internal/ring/join.go, TaskDone and giveUpDead)")
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
