package array_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/value"
)

func mustNew[T any](t *testing.T, n int) *array.Array[T] {
	t.Helper()
	a, err := array.New[T](n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Unlink(); a.Close() })
	return a
}

func mustOpen[T any](t *testing.T, name string) *array.Array[T] {
	t.Helper()
	a, err := array.Open[T](name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func init() {
	// array-square squares elements [lo, hi) of a float64 array in place,
	// through the zero-copy slice.
	proctest.Register("array-square", func(args []string) error {
		a, err := array.Open[float64](args[0])
		if err != nil {
			return err
		}
		defer a.Close()
		lo, _ := strconv.Atoi(args[1])
		hi, _ := strconv.Atoi(args[2])
		s := a.Slice()[lo:hi]
		for i := range s {
			s[i] *= s[i]
		}
		return nil
	})
	// array-locked-incr increments every element n times, each round of
	// read-modify-writes under the array's lock.
	proctest.Register("array-locked-incr", func(args []string) error {
		a, err := array.Open[int32](args[0])
		if err != nil {
			return err
		}
		defer a.Close()
		n, _ := strconv.Atoi(args[1])
		l := a.Lock()
		for range n {
			l.Lock()
			for i := range a.Len() {
				a.Set(i, a.At(i)+1)
			}
			l.Unlock()
		}
		return nil
	})
	// array-count adds 1 to every element n times with atomics on the
	// slice's elements.
	proctest.Register("array-count", func(args []string) error {
		a, err := array.Open[int64](args[0])
		if err != nil {
			return err
		}
		defer a.Close()
		n, _ := strconv.Atoi(args[1])
		s := a.Slice()
		for range n {
			for i := range s {
				atomic.AddInt64(&s[i], 1)
			}
		}
		return nil
	})
}

func TestLockMakesReadModifyWriteAtomicAcrossProcesses(t *testing.T) {
	proctest.CheckShm(t)
	const procs, each = 4, 5000
	a := mustNew[int32](t, 3)
	proctest.Run(t, procs, "array-locked-incr", a.Name(), strconv.Itoa(each))
	for i, x := range a.All() {
		if x != procs*each {
			t.Errorf("element %d = %d, want %d", i, x, procs*each)
		}
	}
}

func TestFourProcessesSquareQuartersInPlace(t *testing.T) {
	proctest.CheckShm(t)
	const n, procs = 1 << 20, 4
	a := mustNew[float64](t, n)
	s := a.Slice()
	for i := range s {
		s[i] = float64(i) + 0.5
	}
	cs := make([]*proctest.Child, procs)
	for p := range procs {
		cs[p] = proctest.Start(t, "array-square", a.Name(), strconv.Itoa(p*n/procs), strconv.Itoa((p+1)*n/procs))
	}
	for _, c := range cs {
		c.MustSucceed()
	}
	for i, x := range s {
		if want := (float64(i) + 0.5) * (float64(i) + 0.5); x != want {
			t.Fatalf("element %d = %v, want %v", i, x, want)
		}
	}
}

func TestAtomicsOnSliceElementsAreExactAcrossProcesses(t *testing.T) {
	proctest.CheckShm(t)
	const procs, rounds = 4, 10_000
	a := mustNew[int64](t, 8)
	proctest.Run(t, procs, "array-count", a.Name(), strconv.Itoa(rounds))
	for i, x := range a.All() {
		if x != procs*rounds {
			t.Errorf("element %d = %d, want %d", i, x, procs*rounds)
		}
	}
}

func TestElementAccessors(t *testing.T) {
	proctest.CheckShm(t)
	type point struct {
		X, Y float32
		Tag  [3]byte
	}
	a, err := array.FromSlice([]point{{1, 2, [3]byte{'a'}}, {3, 4, [3]byte{'b'}}, {5, 6, [3]byte{'c'}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlink()
	defer a.Close()
	b := mustOpen[point](t, a.Name())
	if b.Len() != 3 || b.At(1) != (point{3, 4, [3]byte{'b'}}) {
		t.Fatalf("opened: Len %d, At(1) %+v", b.Len(), b.At(1))
	}
	b.Set(2, point{X: -1})
	if a.At(2) != (point{X: -1}) {
		t.Errorf("Set through one handle, At through another: %+v", a.At(2))
	}
	if n := a.CopyFrom([]point{{X: 9}, {X: 8}, {X: 7}, {X: 6}}); n != 3 || b.At(0).X != 9 || b.At(2).X != 7 {
		t.Errorf("CopyFrom copied %d: %v", n, b.Slice())
	}
	dst := make([]point, 2)
	if n := b.CopyTo(dst); n != 2 || dst[1].X != 8 {
		t.Errorf("CopyTo copied %d: %v", n, dst)
	}
	var seen []int
	for i, p := range b.All() {
		seen = append(seen, i)
		if i == 1 {
			if p.X != 8 {
				t.Errorf("All at 1: %+v", p)
			}
			break
		}
	}
	if !slices.Equal(seen, []int{0, 1}) {
		t.Errorf("All with break visited %v", seen)
	}
	if got := b.Slice(); len(got) != 3 || cap(got) != 3 {
		t.Errorf("Slice len %d cap %d", len(got), cap(got))
	}
}

func TestEmptyArray(t *testing.T) {
	proctest.CheckShm(t)
	a := mustNew[int32](t, 0)
	b := mustOpen[int32](t, a.Name())
	if b.Len() != 0 || len(b.Slice()) != 0 || b.CopyFrom([]int32{1}) != 0 {
		t.Fatalf("empty array: Len %d, Slice %v", b.Len(), b.Slice())
	}
	for range b.All() {
		t.Fatal("All yielded on an empty array")
	}
}

func TestRawArrayHasNoLock(t *testing.T) {
	proctest.CheckShm(t)
	a, err := array.NewRaw[uint8](10)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlink()
	defer a.Close()
	if a.Lock() != nil {
		t.Error("raw array has a lock")
	}
	if mustOpen[uint8](t, a.Name()).Lock() != nil {
		t.Error("opened raw array has a lock")
	}
	if mustNew[uint8](t, 1).Lock() == nil {
		t.Error("New made an array without a lock")
	}
}

func TestNewRefusesBadTypesAndLengths(t *testing.T) {
	proctest.CheckShm(t)
	_, err := array.New[string](3)
	if !errors.Is(err, array.ErrUnsupportedType) || !strings.Contains(err.Error(), "string") {
		t.Errorf("New[string](3): %v", err)
	}
	_, err = array.FromSlice([]*int{nil})
	if !errors.Is(err, array.ErrUnsupportedType) || !strings.Contains(err.Error(), "*int") {
		t.Errorf("FromSlice([]*int): %v", err)
	}
	_, err = array.New[int](-1)
	if !errors.Is(err, array.ErrInvalidArgument) || !strings.Contains(err.Error(), "-1") {
		t.Errorf("New[int](-1): %v", err)
	}
	_, err = array.NewRaw[[1 << 20]byte](1 << 50)
	if !errors.Is(err, array.ErrInvalidArgument) {
		t.Errorf("NewRaw of 2^70 bytes: %v", err)
	}
}

func TestOutOfRangePanicsWithIndexAndLength(t *testing.T) {
	proctest.CheckShm(t)
	a := mustNew[int](t, 5)
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"At(5)", func() { a.At(5) }, "array: At of Array " + a.Name() + ": index 5 out of range with length 5"},
		{"At(-1)", func() { a.At(-1) }, "array: At of Array " + a.Name() + ": index -1 out of range with length 5"},
		{"Set(7)", func() { a.Set(7, 1) }, "array: Set of Array " + a.Name() + ": index 7 out of range with length 5"},
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.want) || !strings.Contains(s, a.Name()) {
					t.Errorf("%s: recovered %v, want a panic saying %q", tc.name, r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}

func TestOpenRefusesAnotherElementTypeOrKind(t *testing.T) {
	proctest.CheckShm(t)
	a := mustNew[float64](t, 4)
	_, err := array.Open[int64](a.Name())
	if !errors.Is(err, array.ErrTypeMismatch) || !strings.Contains(err.Error(), "holds float64 (8 bytes), not int64 (8 bytes)") {
		t.Errorf("Open[int64] on float64: %v", err)
	}
	_, err = array.Open[[2]float64](a.Name())
	if !errors.Is(err, array.ErrTypeMismatch) {
		t.Errorf("Open[[2]float64] on float64: %v", err)
	}
	v, err := value.New[float64](1)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Unlink()
	defer v.Close()
	_, err = array.Open[float64](v.Name())
	if !errors.Is(err, array.ErrKindMismatch) || !strings.Contains(err.Error(), "Value") {
		t.Errorf("array.Open on a value: %v", err)
	}
	if _, err := array.Open[float64]("mpgo_array_does_not_exist"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open missing: %v", err)
	}
}

func TestOpenRefusesCorruptFiles(t *testing.T) {
	proctest.CheckShm(t)
	a := mustNew[int32](t, 16)
	good, err := os.ReadFile("/dev/shm/" + a.Name())
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string]func(b []byte) []byte{
		"zeroed":        func(b []byte) []byte { clear(b); return b },
		"header flip":   func(b []byte) []byte { b[41] ^= 1; return b },
		"short payload": func(b []byte) []byte { return b[:128+100] },
		"unknown flags": func(b []byte) []byte { b[129] = 1; return b },
	}
	for name, f := range damage {
		bad := "mpgo_array_test_corrupt"
		if err := os.WriteFile("/dev/shm/"+bad, f(append([]byte(nil), good...)), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := array.Open[int32](bad)
		os.Remove("/dev/shm/" + bad)
		if err == nil {
			b.Close()
			t.Errorf("%s: opened", name)
		} else if !errors.Is(err, array.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestClosedArraySaysSo(t *testing.T) {
	proctest.CheckShm(t)
	a, err := array.New[int](3)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlink()
	a.Close()
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, f := range map[string]func(){"At": func() { a.At(0) }, "Set": func() { a.Set(0, 1) }, "Slice": func() { a.Slice() }} {
		func() {
			defer func() {
				if s := fmt.Sprint(recover()); !strings.Contains(s, "array: "+name+" of Array "+a.Name()+": object closed") {
					t.Errorf("%s after Close: recovered %q", name, s)
				}
			}()
			f()
		}()
	}
}

func TestArrayTravelsToAnotherProcessAsItsName(t *testing.T) {
	proctest.CheckShm(t)
	a := mustNew[int32](t, 4)
	msg, err := json.Marshal(struct{ Out *array.Array[int32] }{a})
	if err != nil {
		t.Fatal(err)
	}
	proctest.Run(t, 1, "array-json-task", string(msg))
	if got := a.Slice(); !slices.Equal(got, []int32{0, 1, 2, 3}) {
		t.Fatalf("after the worker: %v", got)
	}
	var wrong struct{ Out *array.Array[float32] }
	if err := json.Unmarshal(msg, &wrong); !errors.Is(err, array.ErrTypeMismatch) {
		t.Errorf("JSON into *Array[float32]: %v", err)
	}
}

func init() {
	// array-json-task decodes a task holding an *Array and fills it.
	proctest.Register("array-json-task", func(args []string) error {
		var task struct{ Out *array.Array[int32] }
		if err := json.Unmarshal([]byte(args[0]), &task); err != nil {
			return err
		}
		defer task.Out.Close()
		for i := range task.Out.Len() {
			task.Out.Set(i, int32(i))
		}
		return nil
	})
}

// The array's lock is an RLock, as Python's get_lock() is by default: the
// goroutine holding it may take it again (a helper that locks, called
// inside a critical section), other goroutines wait. Before it was a plain
// Lock, and the nested Lock waited for ever.
func TestArrayLockIsReentrantForItsHolder(t *testing.T) {
	proctest.CheckShm(t)
	a, err := array.New[int64](4)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { a.Close(); a.Unlink() }()
	incr := func(i int) { // locks on its own, as a helper would
		l := a.Lock()
		l.Lock()
		defer l.Unlock()
		a.Set(i, a.At(i)+1)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l := a.Lock()
		l.Lock()
		incr(0)
		incr(1)
		if d := l.Depth(); d != 1 {
			t.Errorf("depth inside = %d, want 1", d)
		}
		l.Unlock()
	}()
	select {
	case <-done:
	case <-proctest.Context(t).Done():
		t.Fatal("a nested Lock of the array's lock waited for its own holder")
	}
	if a.At(0) != 1 || a.At(1) != 1 {
		t.Fatalf("elements %v", a.Slice())
	}
	other := make(chan bool)
	a.Lock().Lock()
	go func() { other <- a.Lock().TryLock() }()
	if <-other {
		t.Fatal("another goroutine took the lock its holder holds")
	}
	a.Lock().Unlock()
}

// Slice is valid until Close even when the program keeps only the slice
// (the usual parallel pattern: s := a.Slice(), then work on s). Before,
// the garbage collector could release and unmap an Array nobody referred
// to under the slice still in use.
func TestSliceOutlivesTheArrayValueUntilClose(t *testing.T) {
	proctest.CheckShm(t)
	a, err := array.New[int64](1 << 12)
	if err != nil {
		t.Fatal(err)
	}
	name := a.Name()
	s := a.Slice()
	b, err := array.Open[int64](name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { b.Close(); b.Unlink() }()
	a = nil // dropped without Close: it stays mapped until this process exits
	for range 3 {
		runtime.GC()
	}
	for i := range s { // a fault here is the bug
		s[i] = int64(i)
	}
	if b.At(100) != 100 {
		t.Fatal("the writes through the kept slice did not reach the array")
	}
}
