package pool_test

import (
	"context"
	"testing"

	"github.com/multiproc/multiproc/pool"
)

var nothing = pool.Register(func(ctx context.Context, _ struct{}) (struct{}, error) { return struct{}{}, nil })

// BenchmarkProcessStartWait is Python's Process(target=f).start(); join()
// for a function that does nothing: re-executing this binary, its package
// initialization and Init, the task and answer pipes, and the reap. (The
// side-by-side figure with Python is bench/'s.)
func BenchmarkProcessStartWait(b *testing.B) {
	ctx := context.Background()
	for _, daemon := range []bool{false, true} {
		name := "plain"
		var opts []pool.StartOption
		if daemon {
			name, opts = "daemon", []pool.StartOption{pool.Daemon()}
		}
		b.Run(name, func(b *testing.B) {
			// The first Start also starts the program's tracker.
			if p, err := pool.Start(nothing, struct{}{}, opts...); err == nil {
				p.Wait(ctx)
			}
			for b.Loop() {
				p, err := pool.Start(nothing, struct{}{}, opts...)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
