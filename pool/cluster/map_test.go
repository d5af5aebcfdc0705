package cluster

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

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
	nc, _ := c.connect()
	most := strconv.Itoa(int(nc.MaxPayload()) - headerRoom)
	nc.Close()
	_, err := bigIn.Apply(ctx, c.pool, make([]byte, 2<<20))
	if !errors.Is(err, pool.ErrTooLarge) || !strings.Contains(err.Error(), " 2097") || !strings.Contains(err.Error(), most) {
		t.Fatalf("a 2 MiB argument: %v, want ErrTooLarge naming its size (2097…) and the limit (%s)", err, most)
	}
	t.Log(err)
	_, err = bigOut.Apply(ctx, c.pool, 2<<20)
	var te *pool.TaskError
	if !errors.Is(err, pool.ErrTooLarge) || !errors.As(err, &te) || !strings.Contains(err.Error(), " 2097") || !strings.Contains(err.Error(), most) {
		t.Fatalf("a 2 MiB result: %v, want a *TaskError wrapping ErrTooLarge naming its size (2097…) and the limit (%s)", err, most)
	}
	t.Log(err)
	// The pool goes on.
	if v, err := bigOut.Apply(ctx, c.pool, 1000); len(v) != 1000 || err != nil {
		t.Fatalf("then a 1000-byte result: %d bytes, %v", len(v), err)
	}
}

// Code written for a local Pool runs unchanged however large its chunks:
// a chunk past the server's message limit goes as smaller ones, and a
// batch of results likewise.
func TestChunksPastTheMessageLimitAreSplit(t *testing.T) {
	c := newCluster(t, 2, nil, nil)
	ctx := proctest.Context(t)
	xs := make([][]byte, 40)
	for i := range xs {
		xs[i] = make([]byte, 100_000+i)
	}
	for _, opts := range [][]pool.CallOption{nil, {pool.Chunksize(len(xs))}} {
		out, err := bigIn.Map(ctx, c.pool, xs, opts...)
		if err != nil {
			t.Fatalf("Map of 40 arguments of 100 kB, %d options: %v", len(opts), err)
		}
		for i, n := range out {
			if n != 100_000+i {
				t.Fatalf("out[%d] = %d, want %d", i, n, 100_000+i)
			}
		}
	}
	ns := make([]int, 40)
	for i := range ns {
		ns[i] = 100_000 + i
	}
	outs, err := bigOut.Map(ctx, c.pool, ns, pool.Chunksize(len(ns)))
	if err != nil {
		t.Fatalf("Map of 40 results of 100 kB in one chunk: %v", err)
	}
	for i, b := range outs {
		if len(b) != ns[i] {
			t.Fatalf("result %d has %d bytes, want %d", i, len(b), ns[i])
		}
	}
}

func TestCancelledMapLeavesNothingQueuedOrRunning(t *testing.T) {
	c := newCluster(t, 2, nil, nil)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(proctest.Context(t))
	defer cancel()
	xs := make([]blockArg, 50)
	for i := range xs {
		xs[i] = blockArg{X: i, Dir: dir, Block: true}
	}
	done := make(chan error, 1)
	go func() {
		_, err := block.Map(ctx, c.pool, xs, pool.Chunksize(1))
		done <- err
	}()
	eventually(t, "the map's tasks never ran", func() bool { return len(running(t, dir)) == 2 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Map = %v, want context.Canceled", err)
	}
	took := eventually(t, "tasks still running or queued after the cancel", func() bool {
		msgs, pending := c.queued()
		return len(running(t, dir)) == 0 && msgs == 0 && pending == 0
	})
	t.Logf("running tasks cancelled and queued ones purged %v after Map returned", took)
	// The pool goes on.
	if v, err := square.Apply(proctest.Context(t), c.pool, 9); v != 81 || err != nil {
		t.Fatalf("then Apply(9) = %d, %v", v, err)
	}
}
