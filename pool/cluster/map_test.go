package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

func TestMapOf100000ItemsOn3WorkersIsExactAndOrdered(t *testing.T) {
	c := newCluster(t, 3, nil, nil)
	ctx := proctest.Context(t)
	xs := make([]int, 100_000)
	for i := range xs {
		xs[i] = i
	}
	var last pool.Progress
	out, err := square.Map(ctx, c.pool, xs, pool.WithProgress(func(p pool.Progress) { last = p }))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d, want %d", i, v, i*i)
		}
	}
	if last.Done != len(xs) || last.Failed != 0 {
		t.Errorf("last progress %+v, want Done %d", last, len(xs))
	}

	seen := make([]bool, len(xs))
	n := 0
	for v, err := range square.ImapUnordered(ctx, c.pool, slices.Values(xs), pool.Chunksize(1000)) {
		if err != nil {
			t.Fatal(err)
		}
		r := isqrt(v)
		if r*r != v || r >= len(xs) || seen[r] {
			t.Fatalf("ImapUnordered yielded %d: not a square of a task, or twice", v)
		}
		seen[r] = true
		n++
	}
	if n != len(xs) {
		t.Fatalf("ImapUnordered yielded %d outcomes, want %d", n, len(xs))
	}
}

func isqrt(v int) int {
	r := 0
	for b := 1 << 20; b > 0; b >>= 1 {
		if (r+b)*(r+b) <= v {
			r += b
		}
	}
	return r
}

func TestImapApplyAndApplyAsyncAsLocally(t *testing.T) {
	c := newCluster(t, 2, nil, nil)
	ctx := proctest.Context(t)
	i := 0
	for v, err := range square.Imap(ctx, c.pool, slices.Values([]int{3, 1, 4, 1, 5})) {
		if err != nil || v != []int{9, 1, 16, 1, 25}[i] {
			t.Fatalf("Imap outcome %d: %d, %v", i, v, err)
		}
		i++
	}
	if v, err := square.Apply(ctx, c.pool, 12); v != 144 || err != nil {
		t.Fatalf("Apply(12) = %d, %v", v, err)
	}
	r := square.ApplyAsync(ctx, c.pool, 7)
	if v, err := r.Get(ctx); v != 49 || err != nil {
		t.Fatalf("ApplyAsync(7) = %d, %v", v, err)
	}
	// A task's error comes back as locally.
	if _, err := failing.Apply(ctx, c.pool, 3); err == nil || !errors.Is(err, pool.ErrInvalidArgument) {
		t.Fatalf("failing.Apply = %v, want a *TaskError wrapping ErrInvalidArgument", err)
	}
}

var failing = pool.RegisterName("cluster_test.failing", func(_ context.Context, x int) (int, error) {
	return 0, pool.ErrInvalidArgument
})

func TestOversizedPayloadsAreRefusedNamingTheSizes(t *testing.T) {
	c := newCluster(t, 1, nil, nil)
	ctx := proctest.Context(t)
	_, err := bigIn.Apply(ctx, c.pool, make([]byte, 2<<20))
	if !errors.Is(err, pool.ErrTooLarge) {
		t.Fatalf("a 2 MiB argument: %v, want ErrTooLarge", err)
	}
	t.Log(err)
	_, err = bigOut.Apply(ctx, c.pool, 2<<20)
	var te *pool.TaskError
	if !errors.Is(err, pool.ErrTooLarge) || !errors.As(err, &te) {
		t.Fatalf("a 2 MiB result: %v, want a *TaskError wrapping ErrTooLarge", err)
	}
	t.Log(err)
	// The pool goes on.
	if v, err := bigOut.Apply(ctx, c.pool, 1000); len(v) != 1000 || err != nil {
		t.Fatalf("then a 1000-byte result: %d bytes, %v", len(v), err)
	}
}

func TestCancelledMapLeavesNothingQueuedOrRunning(t *testing.T) {
	c := newCluster(t, 2, nil, nil)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(proctest.Context(t), 2*time.Second)
	defer cancel()
	xs := make([]blockArg, 50)
	for i := range xs {
		xs[i] = blockArg{X: i, Dir: dir, Block: true}
	}
	_, err := block.Map(ctx, c.pool, xs, pool.Chunksize(1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Map = %v, want DeadlineExceeded", err)
	}
	took := eventually(t, 10*time.Second, "tasks still running or queued after the cancel", func() bool {
		msgs, pending := c.queued()
		return len(running(t, dir)) == 0 && msgs == 0 && pending == 0
	})
	t.Logf("running tasks cancelled and queued ones purged %v after Map returned", took)
}
