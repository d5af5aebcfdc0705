package bench

import (
	"testing"

	"github.com/multiproc/multiproc/array"
)

// Element writes into a shared Array[float64] of 1 Mi elements: through
// the zero-copy slice, and through the bounds-checked Set method. Both are
// plain stores into the mapping; the difference is the method's cost.

const arrayBenchLen = 1 << 20

func newBenchArray(b *testing.B) *array.Array[float64] {
	a, err := array.New[float64](arrayBenchLen)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Unlink(); a.Close() })
	return a
}

func BenchmarkArrayWriteSlice(b *testing.B) {
	a := newBenchArray(b)
	s := a.Slice()
	i := 0
	for b.Loop() {
		s[i&(arrayBenchLen-1)] = float64(i)
		i++
	}
}

func BenchmarkArrayWriteSet(b *testing.B) {
	a := newBenchArray(b)
	i := 0
	for b.Loop() {
		a.Set(i&(arrayBenchLen-1), float64(i))
		i++
	}
}
