package pool_test

import (
	"context"
	"sync"
	"testing"

	"github.com/multiproc/multiproc/pool"
)

// BenchmarkPoolMap is Pool.map of x*x over n ints with Python's default
// chunking, per item; BenchmarkGoroutineMap is the same work on goroutines
// of this process with the same chunking, the floor.
func BenchmarkPoolMap(b *testing.B) {
	for _, tc := range []struct {
		name      string
		n, chunks int
	}{{"1e5", 100_000, 0}, {"1e6", 1_000_000, 0}, {"1e4-chunk1", 10_000, 1}} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := pool.New(pool.Workers(2))
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			xs := make([]int, tc.n)
			for i := range xs {
				xs[i] = i
			}
			var opts []pool.CallOption
			if tc.chunks > 0 {
				opts = append(opts, pool.Chunksize(tc.chunks))
			}
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				if _, err := square.Map(ctx, p, xs, opts...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tc.n), "ns/item")
		})
	}
}

func BenchmarkGoroutineMap(b *testing.B) {
	sq := func(x int) int { return x * x }
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(map[int]string{100_000: "1e5", 1_000_000: "1e6"}[n], func(b *testing.B) {
			xs := make([]int, n)
			out := make([]int, n)
			chunk := (n + 7) / 8
			for b.Loop() {
				var wg sync.WaitGroup
				for w := 0; w < 2; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for c := w; c*chunk < n; c += 2 {
							for i := c * chunk; i < min(n, (c+1)*chunk); i++ {
								out[i] = sq(xs[i])
							}
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/item")
		})
	}
}

func BenchmarkPoolApply(b *testing.B) {
	p, err := pool.New(pool.Workers(2))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for b.Loop() {
		if _, err := square.Apply(ctx, p, 3); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPoolStartClose(b *testing.B) {
	for _, n := range []int{2, 4} {
		b.Run(map[int]string{2: "2", 4: "4"}[n], func(b *testing.B) {
			for b.Loop() {
				p, err := pool.New(pool.Workers(n))
				if err != nil {
					b.Fatal(err)
				}
				p.Close()
			}
		})
	}
}
