package array_test

import (
	"errors"
	"fmt"

	"github.com/multiproc/multiproc/array"
)

func Example() {
	a, err := array.New[float64](4)
	if err != nil {
		panic(err)
	}
	defer a.Unlink()
	defer a.Close()

	// A worker process opens it by name (here we do it ourselves) and
	// writes through the zero-copy slice.
	w, err := array.Open[float64](a.Name())
	if err != nil {
		panic(err)
	}
	defer w.Close()
	s := w.Slice()
	for i := range s {
		s[i] = float64(i) * 1.5
	}
	fmt.Println(a.Len(), a.At(3), a.Slice())
	// Output: 4 4.5 [0 1.5 3 4.5]
}

func ExampleFromSlice() {
	type point struct{ X, Y int32 }
	a, err := array.FromSlice([]point{{1, 2}, {3, 4}})
	if err != nil {
		panic(err)
	}
	defer a.Unlink()
	defer a.Close()

	a.Set(1, point{5, 6})
	fmt.Println(a.At(0), a.At(1))
	// Output: {1 2} {5 6}
}

func ExampleNewRaw() {
	// Python's RawArray('b', 8): no lock.
	flags, err := array.NewRaw[bool](8)
	if err != nil {
		panic(err)
	}
	defer flags.Unlink()
	defer flags.Close()

	flags.Set(3, true)
	fmt.Println(flags.At(3), flags.Lock() == nil)
	// Output: true true
}

func ExampleOpen() {
	a, err := array.New[float64](8)
	if err != nil {
		panic(err)
	}
	defer a.Unlink()
	defer a.Close()

	_, err = array.Open[int64](a.Name())
	fmt.Println(errors.Is(err, array.ErrTypeMismatch))
	// Output: true
}

func ExampleArray_All() {
	a, err := array.FromSlice([]int{10, 20, 30})
	if err != nil {
		panic(err)
	}
	defer a.Unlink()
	defer a.Close()

	for i, x := range a.All() {
		fmt.Println(i, x)
	}
	// Output:
	// 0 10
	// 1 20
	// 2 30
}

func ExampleArray_CopyTo() {
	a, err := array.New[uint8](4)
	if err != nil {
		panic(err)
	}
	defer a.Unlink()
	defer a.Close()

	n := a.CopyFrom([]uint8{1, 2, 3, 4, 5}) // copies min(5, Len())
	buf := make([]uint8, 2)
	m := a.CopyTo(buf)
	fmt.Println(n, m, buf)
	// Output: 4 2 [1 2]
}

func ExampleArray_At_outOfRange() {
	a, err := array.New[int](3)
	if err != nil {
		panic(err)
	}
	defer a.Unlink()
	defer a.Close()

	defer func() { fmt.Println(recover() != nil) }()
	a.At(3) // panics: "index 3 out of range with length 3", as a slice would
	// Output: true
}

func ExampleArray_Lock() {
	hist, err := array.New[int64](4)
	if err != nil {
		panic(err)
	}
	defer hist.Unlink()
	defer hist.Close()

	// Python's `with arr.get_lock(): ...`: the lock makes the two updates
	// one step for every process that also takes it.
	l := hist.Lock()
	l.Lock()
	hist.Set(0, hist.At(0)+1)
	hist.Set(3, hist.At(3)+1)
	l.Unlock()
	fmt.Println(hist.Slice())
	// Output: [1 0 0 1]
}

func ExampleName() {
	a, err := array.New[int16](2, array.Name("/mpgo_example_pixels"))
	if err != nil {
		panic(err)
	}
	defer a.Unlink()
	defer a.Close()
	fmt.Println(a.Name(), a.Len())
	// Output: mpgo_example_pixels 2
}
