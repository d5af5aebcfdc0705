package bench

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/proctest"
)

func init() {
	proctest.Register("barrier-bench-party", barrierPartyRole)
}

// barrierPartyRole waits n cycles on a barrier: args name, n, cpu.
func barrierPartyRole(args []string) error {
	b, err := barrier.Open(args[0])
	if err != nil {
		return err
	}
	defer b.Close()
	n, _ := strconv.Atoi(args[1])
	cpu, _ := strconv.Atoi(args[2])
	undo, err := eventBarrierPin(cpu)
	if err != nil {
		return err
	}
	defer undo()
	fmt.Println("ready")
	ctx := context.Background()
	for i := range n {
		if _, err := b.Wait(ctx); err != nil {
			return fmt.Errorf("cycle %d: %w", i, err)
		}
	}
	return nil
}

// BenchmarkBarrierCycle measures one barrier cycle (every party arrives,
// the last releases them all, all leave) with 2 and 4 processes, the
// benchmark process being one of the parties, per CPU placement (see
// eventBarrierPlacements). On a 2-CPU machine, 4 processes always share.
func BenchmarkBarrierCycle(b *testing.B) {
	for _, procs := range []int{2, 4} {
		for _, p := range eventBarrierPlacements {
			b.Run(fmt.Sprintf("procs=%d/cpus=%s", procs, p), func(b *testing.B) {
				bar, err := barrier.New(procs)
				if err != nil {
					b.Fatal(err)
				}
				defer bar.Unlink()
				defer bar.Close()
				children := make([]*proctest.Child, procs-1)
				for i := range children {
					children[i] = proctest.Start(b, "barrier-bench-party", bar.Name(), strconv.Itoa(b.N),
						strconv.Itoa(eventBarrierCPU(p, i+1)))
				}
				for _, c := range children {
					c.WaitLine("ready")
				}
				undo, err := eventBarrierPin(eventBarrierCPU(p, 0))
				if err != nil {
					b.Fatal(err)
				}
				defer undo()
				ctx := context.Background()
				b.ResetTimer()
				for range b.N {
					if _, err := bar.Wait(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				for _, c := range children {
					c.MustSucceed()
				}
			})
		}
	}
}

// BenchmarkBarrierCycleGoroutines is the same cycle with 4 goroutines of
// one process as the parties: the cost of the protocol without process
// switches, for comparison.
func BenchmarkBarrierCycleGoroutines(b *testing.B) {
	const parties = 4
	bar, err := barrier.New(parties)
	if err != nil {
		b.Fatal(err)
	}
	defer bar.Unlink()
	defer bar.Close()
	ctx := context.Background()
	errs := make(chan error, parties-1)
	b.ResetTimer()
	for range parties - 1 {
		go func() {
			for range b.N {
				if _, err := bar.Wait(ctx); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range b.N {
		if _, err := bar.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for range parties - 1 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
