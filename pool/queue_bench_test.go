package pool_test

import (
	"context"
	"testing"

	"github.com/multiproc/multiproc/pool"
)

// In-process figures for profiling the queue's own cost (allocations, CPU
// per item); the cross-process comparisons live in bench/.
func BenchmarkQueuePutGetOneGoroutine(b *testing.B) {
	q, err := pool.NewQueue[int64]()
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := q.Put(ctx, int64(i)); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Get(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueuePutGetStructOneGoroutine(b *testing.B) {
	q, err := pool.NewQueue[job]()
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	j := makeJob(1, 7)
	b.ReportAllocs()
	for b.Loop() {
		if err := q.Put(ctx, j); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Get(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueueBatch64OneGoroutine(b *testing.B) {
	q, err := pool.NewQueue[int64]()
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	xs := make([]int64, 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := q.PutBatch(ctx, xs); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < 64; {
			ys, err := q.GetBatch(ctx, 64-got)
			if err != nil {
				b.Fatal(err)
			}
			got += len(ys)
		}
	}
}
