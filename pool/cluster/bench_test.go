package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/multiproc/multiproc/pool"
)

// The network hop's cost, beside the local Pool's in the same run: both
// with 2 workers (processes of this test binary), the cluster's through
// the embedded server on loopback, with its streams on files (the
// default) and in memory (MemoryStorage).
//
//	go test ./pool/cluster -run '^$' -bench MapTrivial -benchtime 10x -count 3
//	go test ./pool/cluster -run '^$' -bench Apply -benchtime 200x -count 3

// benchPool starts the pool a sub-benchmark measures, and stops it at its
// end, so that the other's workers do not take the CPUs meanwhile.
func benchPool(b *testing.B, name string) *pool.Pool {
	if name == "local" {
		p, err := pool.New(pool.Workers(2))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		return p
	}
	var opts []Option
	if name == "cluster-memory" {
		opts = append(opts, MemoryStorage())
	}
	return newCluster(b, 2, opts, nil).pool
}

// BenchmarkMapTrivial is tasks/s of a Map of 100,000 x*x.
func BenchmarkMapTrivial(b *testing.B) {
	xs := make([]int, 100_000)
	for i := range xs {
		xs[i] = i
	}
	for _, name := range []string{"local", "cluster-file", "cluster-memory"} {
		b.Run(name, func(b *testing.B) {
			p := benchPool(b, name)
			ctx := context.Background()
			start := time.Now()
			for b.Loop() {
				if _, err := square.Map(ctx, p, xs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(xs))/time.Since(start).Seconds(), "tasks/s")
		})
	}
}

// BenchmarkApply is one Apply's round trip (ns/op).
func BenchmarkApply(b *testing.B) {
	for _, name := range []string{"local", "cluster-file", "cluster-memory"} {
		b.Run(name, func(b *testing.B) {
			p := benchPool(b, name)
			ctx := context.Background()
			for b.Loop() {
				if _, err := square.Apply(ctx, p, 3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
