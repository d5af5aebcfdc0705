package bench

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/value"
)

// Contention on one Value from 1, 2 and 4 processes: the benchmark process
// is one of them and the others are children re-executed through
// proctest. Every process makes b.N/procs operations, started together by a
// shared go flag once all are attached, so process start-up is not timed.
// ns/op is wall time over all b.N operations: with more processes than
// cores (the CI machine has 2), it shows what contention costs in total.

func init() {
	proctest.Register("bench-value", func(args []string) error {
		v, err := value.Open[int64](args[0])
		if err != nil {
			return err
		}
		defer v.Close()
		start, err := value.Open[int32](args[1])
		if err != nil {
			return err
		}
		defer start.Close()
		n, _ := strconv.Atoi(args[3])
		op := valueOps[args[2]]
		fmt.Println("ready")
		for start.Load() == 0 {
			runtime.Gosched()
		}
		if err := op(v, n); err != nil {
			return err
		}
		fmt.Println("done")
		return nil
	})
}

var valueOps = map[string]func(v *value.Value[int64], n int) error{
	"add": func(v *value.Value[int64], n int) error {
		for range n {
			value.Add(v, 1)
		}
		return nil
	},
	"update": func(v *value.Value[int64], n int) error {
		for range n {
			if err := v.Update(func(x *int64) { *x++ }); err != nil {
				return err
			}
		}
		return nil
	},
}

// BenchmarkValueAdd is the lock-free atomic add on the shared word.
func BenchmarkValueAdd(b *testing.B) { benchValue(b, "add") }

// BenchmarkValueUpdate is a read-modify-write under the value's lock.
func BenchmarkValueUpdate(b *testing.B) { benchValue(b, "update") }

func benchValue(b *testing.B, op string) {
	for _, procs := range []int{1, 2, 4} {
		b.Run("procs="+strconv.Itoa(procs), func(b *testing.B) {
			v, err := value.New[int64](0)
			if err != nil {
				b.Fatal(err)
			}
			defer v.Unlink()
			defer v.Close()
			start, err := value.NewRaw[int32](0)
			if err != nil {
				b.Fatal(err)
			}
			defer start.Unlink()
			defer start.Close()

			each := b.N / procs
			mine := b.N - each*(procs-1)
			cs := proctest.StartN(b, procs-1, "bench-value", v.Name(), start.Name(), op, strconv.Itoa(each))
			for _, c := range cs {
				c.WaitLine("ready")
			}
			b.ResetTimer()
			start.Store(1)
			if err := valueOps[op](v, mine); err != nil {
				b.Fatal(err)
			}
			for _, c := range cs {
				c.WaitLine("done")
			}
			b.StopTimer()
			for _, c := range cs {
				c.MustSucceed()
			}
			if got := v.Load(); got != int64(b.N) {
				b.Fatalf("counted %d of %d operations", got, b.N)
			}
		})
	}
}
