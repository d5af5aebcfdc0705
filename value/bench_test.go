package value_test

import (
	"testing"

	"github.com/multiproc/multiproc/value"
)

// The uncontended costs of the value's calls in one process (the
// cross-process figures are bench/'s Value family).

func BenchmarkUpdateWord(b *testing.B) {
	v, err := value.New[int64](0)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { v.Close(); v.Unlink() }()
	for b.Loop() {
		v.Update(func(x *int64) { *x++ })
	}
}

func BenchmarkUpdatePair(b *testing.B) {
	v, err := value.New[[2]int64]([2]int64{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { v.Close(); v.Unlink() }()
	for b.Loop() {
		v.Update(func(x *[2]int64) { x[0]++; x[1]-- })
	}
}

func BenchmarkLoadPair(b *testing.B) {
	v, err := value.New[[2]int64]([2]int64{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { v.Close(); v.Unlink() }()
	var s int64
	for b.Loop() {
		s += v.Load()[0]
	}
	_ = s
}

func BenchmarkLockPair(b *testing.B) {
	v, err := value.New[int64](0)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { v.Close(); v.Unlink() }()
	l := v.Lock()
	for b.Loop() {
		l.Lock()
		l.Unlock()
	}
}
