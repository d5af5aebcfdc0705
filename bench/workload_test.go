package bench

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/multiproc/multiproc/bench/internal/workload"
)

// The comparison's workloads (bench/internal/workload), one benchmark a
// family, one sub-benchmark an implementation: the same code as
// `go run ./bench/compare`, named for benchstat, e.g.
// BenchmarkPingPong/obj=Event/cpus=two/impl=c-futex. Each reports the
// ns/op the implementation measured itself, without worker start-up.
// An implementation shown by several workloads runs under its home
// workload only.

func BenchmarkUncontended(b *testing.B) { benchFamily(b, "Uncontended") }
func BenchmarkCounter(b *testing.B)     { benchFamily(b, "Counter") }
func BenchmarkPingPong(b *testing.B)    { benchFamily(b, "PingPong") }
func BenchmarkBarrier(b *testing.B)     { benchFamily(b, "Barrier") }
func BenchmarkValue(b *testing.B)       { benchFamily(b, "Value") }
func BenchmarkCreate(b *testing.B)      { benchFamily(b, "Create") }
func BenchmarkOpen(b *testing.B)        { benchFamily(b, "Open") }
func BenchmarkQueue(b *testing.B)       { benchFamily(b, "Queue") }
func BenchmarkPool(b *testing.B)        { benchFamily(b, "Pool") }

// benchmarked lists the families above.
var benchmarked = []string{"Uncontended", "Counter", "PingPong", "Barrier", "Value", "Create", "Open", "Queue", "Pool"}

func benchFamily(b *testing.B, family string) {
	for _, w := range workload.Family(family) {
		for _, im := range w.Impls {
			if im.Home != w {
				continue
			}
			name := strings.TrimPrefix(w.Name(), family+"/") + "/impl=" + im.ID
			b.Run(name, func(b *testing.B) {
				b.StopTimer() // Measure times only the ops
				res, err := im.Measure(context.Background(), env, b.N, b)
				if errors.Is(err, workload.ErrSkipped) {
					b.Skip(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.NsPerOp, "ns/op")
			})
		}
	}
}

func TestEveryFamilyIsBenchmarked(t *testing.T) {
	if got := workload.Families(); !slices.Equal(got, benchmarked) {
		t.Errorf("the catalog's families are %v; the benchmarks here cover %v", got, benchmarked)
	}
}
