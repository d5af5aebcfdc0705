package pool_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
)

func init() {
	proctest.Register("jq-dispatch", roleDispatch)
	proctest.Register("jq-helper", roleHelper)
}

// jq-dispatch JQ HAND N: takes N items from the joinable queue JQ and
// hands each to a helper through the queue HAND, then Joins JQ (it must
// outlive the TaskDone of what it handed on) and exits.
func roleDispatch(args []string) error {
	jq, err := pool.OpenJoinableQueue[int](args[0])
	if err != nil {
		return err
	}
	defer jq.Close()
	hand, err := pool.OpenQueue[int](args[1])
	if err != nil {
		return err
	}
	defer hand.Close()
	n, _ := strconv.Atoi(args[2])
	ctx, cancel := proctest.ChildContext()
	defer cancel()
	for range n {
		x, err := jq.Get(ctx)
		if err != nil {
			return err
		}
		if err := hand.Put(ctx, x); err != nil {
			return err
		}
	}
	return jq.Join(ctx)
}

// jq-helper JQ HAND: takes items from HAND and marks each done on JQ, a
// queue it never took them from, until HAND is shut down.
func roleHelper(args []string) error {
	jq, err := pool.OpenJoinableQueue[int](args[0])
	if err != nil {
		return err
	}
	defer jq.Close()
	hand, err := pool.OpenQueue[int](args[1])
	if err != nil {
		return err
	}
	defer hand.Close()
	for {
		_, err := hand.Get(context.Background())
		if errors.Is(err, pool.ErrShutDown) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := jq.TaskDone(); err != nil {
			return err
		}
	}
}

// TaskDone counts in any process: a dispatcher process takes every item
// and two helper processes mark them done. Join waits for the helpers, not
// the dispatcher; once the dispatcher has exited, Join does not report it,
// and names exactly a consumer killed later holding items while others
// work; Unfinished never goes negative, and no legitimate TaskDone is
// refused.
func TestJoinableTaskDoneInAnyProcess(t *testing.T) {
	proctest.CheckShm(t)
	defer sem.SetPollInterval(sem.SetPollInterval(5 * time.Millisecond))
	jq, err := pool.NewJoinableQueue[int]()
	if err != nil {
		t.Fatal(err)
	}
	defer jq.Close()
	hand, err := pool.NewQueue[int]()
	if err != nil {
		t.Fatal(err)
	}
	defer hand.Close()
	ctx := proctest.Context(t)
	const n = 2000
	helpers := proctest.StartN(t, 2, "jq-helper", jq.Name(), hand.Name())
	d := proctest.Start(t, "jq-dispatch", jq.Name(), hand.Name(), strconv.Itoa(n))
	for i := range n {
		if err := jq.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
		if u := jq.Unfinished(); u < 0 || u > i+1 {
			t.Fatalf("Unfinished %d after %d puts", u, i+1)
		}
	}
	if err := jq.Join(ctx); err != nil {
		t.Fatalf("Join while helpers mark the dispatcher's items done: %v", err)
	}
	d.MustSucceed()
	// The dispatcher is gone; it was the only holder while the helpers
	// marked its items done, so they were charged to it. A consumer that
	// holds 3 items and is killed is reported with exactly those, while
	// other consumers work on and Joins poll for dead holders.
	for i := range 3 {
		if err := jq.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	h := proctest.Start(t, "q-hold-items", jq.Name(), "3")
	h.WaitLine("holding")
	ws := proctest.StartN(t, 2, "q-joinable-worker", jq.Name())
	for i := range 500 {
		if err := jq.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	jctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = jq.Join(jctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join with a live consumer holding 3 items, the dispatcher gone: %v, want the deadline", err)
	}
	h.Kill()
	err = jq.Join(ctx)
	if want := fmt.Sprintf("pid %d died holding 3 unfinished items", h.Pid()); !errors.Is(err, pool.ErrConsumerDied) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Join = %v, want ErrConsumerDied: …%s…", err, want)
	}
	for round := range 3 {
		for i := range 500 {
			if err := jq.Put(ctx, i); err != nil {
				t.Fatal(err)
			}
		}
		if err := jq.Join(ctx); err != nil {
			t.Fatalf("Join of round %d: %v", round, err)
		}
		if u := jq.Unfinished(); u != 0 {
			t.Fatalf("Unfinished %d after Join of round %d", u, round)
		}
	}
	// The 3 given up may still be marked done (say the killed consumer had
	// passed them on): accepted, with nothing unfinished; then no more.
	for i := range 3 {
		if err := jq.TaskDone(); err != nil {
			t.Fatalf("late TaskDone %d for a given-up item: %v", i+1, err)
		}
		if u := jq.Unfinished(); u != 0 {
			t.Fatalf("Unfinished %d after a late TaskDone", u)
		}
	}
	if err := jq.TaskDone(); !errors.Is(err, pool.ErrTaskDoneTooOften) {
		t.Fatalf("TaskDone with every item put marked done = %v, want ErrTaskDoneTooOften", err)
	}
	jq.Shutdown(ctx)
	hand.Shutdown(ctx)
	for _, c := range append(ws, helpers...) {
		c.MustSucceed()
	}
}
