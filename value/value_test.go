package value

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/internal/proctest"
)

// pair is the two-field struct whose invariant A == B the Update tests keep.
type pair struct{ A, B int64 }

// mustNew creates a locked value and removes it when the test ends.
func mustNew[T any](t *testing.T, init T, opts ...Option) *Value[T] {
	t.Helper()
	v, err := New(init, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Unlink(); v.Close() })
	return v
}

func mustOpen[T any](t *testing.T, name string) *Value[T] {
	t.Helper()
	v, err := Open[T](name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// roundTrip stores x through one handle and loads it through another.
func roundTrip[T comparable](t *testing.T, init, x T) {
	t.Helper()
	for _, raw := range []bool{false, true} {
		var v *Value[T]
		var err error
		if raw {
			v, err = NewRaw(init)
		} else {
			v, err = New(init)
		}
		if err != nil {
			t.Fatal(err)
		}
		w := mustOpen[T](t, v.Name())
		if got := w.Load(); got != init {
			t.Errorf("%T raw=%v: initial Load = %v, want %v", x, raw, got, init)
		}
		v.Store(x)
		if got := w.Load(); got != x {
			t.Errorf("%T raw=%v: Load after Store = %v, want %v", x, raw, got, x)
		}
		if got, err := w.LoadContext(context.Background()); got != x || err != nil {
			t.Errorf("%T raw=%v: LoadContext = %v, %v", x, raw, got, err)
		}
		if err := w.StoreContext(context.Background(), init); err != nil || v.Load() != init {
			t.Errorf("%T raw=%v: StoreContext: %v, then Load = %v", x, raw, err, v.Load())
		}
		v.Unlink()
		v.Close()
	}
}

func TestLoadStoreEveryShape(t *testing.T) {
	proctest.CheckShm(t)
	type small struct {
		A int32
		B int16
	}
	type big struct {
		X, Y, Z float64
		Tag     [5]byte
		OK      bool
	}
	roundTrip(t, false, true)
	roundTrip(t, int8(-3), int8(100))
	roundTrip(t, uint16(7), uint16(65535))
	roundTrip(t, int32(-1), int32(1<<30))
	roundTrip(t, float32(1.5), float32(-2.25))
	roundTrip(t, [3]byte{1, 2, 3}, [3]byte{9, 8, 7})
	roundTrip(t, small{1, 2}, small{-5, 6})
	roundTrip(t, int64(1), int64(-1<<62))
	roundTrip(t, 3.14, 2.71)
	roundTrip(t, complex64(1+2i), complex64(-3i))
	roundTrip(t, struct{}{}, struct{}{})
	roundTrip(t, pair{1, 1}, pair{7, 7})
	roundTrip(t, big{1, 2, 3, [5]byte{'a'}, true}, big{4, 5, 6, [5]byte{'z', 'y'}, false})
	roundTrip(t, [64]int32{1: 1}, [64]int32{63: -1})
}

func TestAddIsAtomicForEveryIntegerSize(t *testing.T) {
	proctest.CheckShm(t)
	const goroutines, each = 8, 2000
	check := func(name string, run func(), got, want func() int64) {
		t.Helper()
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					run()
				}
			})
		}
		wg.Wait()
		if got() != want() {
			t.Errorf("%s: %d, want %d", name, got(), want())
		}
	}
	v8 := mustNew[int8](t, 0)
	check("int8", func() { Add(v8, 1) }, func() int64 { return int64(v8.Load()) }, func() int64 { n := goroutines * each; return int64(int8(n)) })
	v16 := mustNew[uint16](t, 0)
	check("uint16", func() { Add(v16, 3) }, func() int64 { return int64(v16.Load()) }, func() int64 { n := 3 * goroutines * each; return int64(uint16(n)) })
	v32 := mustNew[int32](t, 5)
	check("int32", func() { Add(v32, -1) }, func() int64 { return int64(v32.Load()) }, func() int64 { return 5 - goroutines*each })
	v64 := mustNew[uint64](t, 0)
	check("uint64", func() { Add(v64, 1<<40) }, func() int64 { return int64(v64.Load()) }, func() int64 { return goroutines * each << 40 })

	// Wrap-around, the return value, and padding: a 1-byte value sits in
	// a 4-byte word whose other bytes must stay zero.
	if got := Add(v8, 127-v8.Load()); got != 127 {
		t.Fatalf("Add to 127 = %d", got)
	}
	if got := Add(v8, 1); got != -128 {
		t.Errorf("int8 127+1 = %d, want -128", got)
	}
	if got := Add(v8, -1); got != 127 {
		t.Errorf("int8 -128-1 = %d, want 127", got)
	}
	if w := *(*uint32)(v8.data); w != 127 {
		t.Errorf("word holding int8 127 is %#x: padding not zero", w)
	}
	v16.Store(0)
	if got := Add(v16, ^uint16(0)); got != 65535 || *(*uint32)(v16.data) != 65535 {
		t.Errorf("uint16 0-1 = %d, word %#x", got, *(*uint32)(v16.data))
	}
	type Count int32 // named integer types work too
	vc := mustNew[Count](t, 1)
	if got := Add(vc, 41); got != 42 {
		t.Errorf("named int: %d", got)
	}
}

func TestAddWorksOnRawValues(t *testing.T) {
	proctest.CheckShm(t)
	v, err := NewRaw[int64](10)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Unlink()
	defer v.Close()
	if got := Add(v, 5); got != 15 || v.Load() != 15 {
		t.Fatalf("Add on raw = %d, Load %d", got, v.Load())
	}
}

func TestRawValueRefusesLockedCalls(t *testing.T) {
	proctest.CheckShm(t)
	v, err := NewRaw(pair{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Unlink()
	defer v.Close()
	if v.Lock() != nil {
		t.Fatalf("raw value has a lock: %v", v.Lock())
	}
	err = v.Update(func(p *pair) { p.A++ })
	if !errors.Is(err, ErrNoLock) || !strings.Contains(err.Error(), v.Name()) {
		t.Errorf("Update on raw: %v", err)
	}
	if _, err := v.Repair(context.Background(), func(*pair) {}); !errors.Is(err, ErrNoLock) {
		t.Errorf("Repair on raw: %v", err)
	}
	// A raw value opened elsewhere is raw there too.
	w := mustOpen[pair](t, v.Name())
	if w.Lock() != nil {
		t.Error("opened raw value has a lock")
	}
}

func TestNewRefusesTypesWithPointers(t *testing.T) {
	proctest.CheckShm(t)
	_, err := New("hello")
	if !errors.Is(err, ErrUnsupportedType) || !strings.Contains(err.Error(), "string") {
		t.Errorf("New[string]: %v", err)
	}
	type node struct {
		Val  int
		Next *node
	}
	_, err = NewRaw(node{})
	if !errors.Is(err, ErrUnsupportedType) || !strings.Contains(err.Error(), "value.node") || !strings.Contains(err.Error(), "*value.node") {
		t.Errorf("NewRaw[node]: %v", err)
	}
	if _, err := Open[[]int]("whatever"); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("Open[[]int]: %v", err)
	}
}

func TestOpenWithAnotherTypeNamesBothTypes(t *testing.T) {
	proctest.CheckShm(t)
	v := mustNew[int64](t, 1)
	_, err := Open[int32](v.Name())
	if !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("Open[int32] on int64: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "holds int64 (8 bytes), not int32 (4 bytes)") || !strings.Contains(msg, v.Name()) {
		t.Errorf("message %q does not name both types and the value", msg)
	}
	// Same size, different type: the fingerprint tells float64 from int64.
	if _, err := Open[float64](v.Name()); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("Open[float64] on int64: %v", err)
	}
	if _, err := Open[uint64](v.Name()); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("Open[uint64] on int64: %v", err)
	}
}

func TestOpenRefusesOtherKindsAndMissingNames(t *testing.T) {
	proctest.CheckShm(t)
	a, err := array.New[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlink()
	defer a.Close()
	_, err = Open[int64](a.Name())
	if !errors.Is(err, ErrKindMismatch) || !strings.Contains(err.Error(), "is a Array, not a Value") && !strings.Contains(err.Error(), "Array") {
		t.Errorf("Open on an array: %v", err)
	}
	if _, err := Open[int64]("mpgo_value_does_not_exist"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open missing: %v", err)
	}
	if _, err := Open[int64]("a/b"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Open bad name: %v", err)
	}
}

func TestOpenRefusesCorruptFiles(t *testing.T) {
	proctest.CheckShm(t)
	v := mustNew[int64](t, 1)
	path := "/dev/shm/" + v.Name()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string]func(b []byte) []byte{
		"garbage header":  func(b []byte) []byte { copy(b, "not a multiproc object at all"); return b },
		"header bit flip": func(b []byte) []byte { b[40] ^= 0x10; return b },
		"truncated":       func(b []byte) []byte { return b[:200] },
		"unknown flags":   func(b []byte) []byte { b[128] = 0xfe; return b },
		"bad write mark":  func(b []byte) []byte { b[132] = 7; return b },
	}
	for name, f := range damage {
		bad := "mpgo_value_test_corrupt"
		if err := os.WriteFile("/dev/shm/"+bad, f(append([]byte(nil), good...)), 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := Open[int64](bad)
		os.Remove("/dev/shm/" + bad)
		if err == nil {
			w.Close()
			t.Errorf("%s: opened", name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestClosedValueSaysSo(t *testing.T) {
	proctest.CheckShm(t)
	v, err := New(pair{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Unlink()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := v.Update(func(*pair) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close: %v", err)
	}
	if _, err := v.LoadContext(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("LoadContext after Close: %v", err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "value: Load of Value "+v.Name()+": object closed") {
			t.Errorf("Load after Close: recovered %v", r)
		}
	}()
	v.Load()
}

func TestNamedValueIsFoundByName(t *testing.T) {
	proctest.CheckShm(t)
	name := "mpgo_value_test_named_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	v := mustNew(t, int64(7), Name("/"+name))
	if v.Name() != name {
		t.Fatalf("Name() = %q, want %q", v.Name(), name)
	}
	if _, err := New(int64(8), Name(name)); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second New with the same name: %v", err)
	}
	if got := mustOpen[int64](t, "/"+name).Load(); got != 7 {
		t.Errorf("Load = %d", got)
	}
}

func TestUpdateAndAddTogetherLoseNothing(t *testing.T) {
	proctest.CheckShm(t)
	const goroutines, each = 4, 5000
	v := mustNew[int64](t, 0)
	w := mustOpen[int64](t, v.Name()) // a second handle, as another process has
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				if g%2 == 0 {
					Add(w, 1)
				} else if err := v.Update(func(n *int64) { *n += 2 }); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := v.Load(), int64(goroutines/2*each*3); got != want {
		t.Fatalf("%d, want %d", got, want)
	}
}

func TestPanicInUpdateLeavesValueAndReleasesLock(t *testing.T) {
	proctest.CheckShm(t)
	for _, name := range []string{"word", "struct"} {
		v := mustNew(t, pair{1, 1})
		w := mustNew[int64](t, 1)
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: panic swallowed", name)
				}
			}()
			if name == "word" {
				w.Update(func(n *int64) { *n = 99; panic("boom") })
			} else {
				v.Update(func(p *pair) { p.A = 99; panic("boom") })
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := v.UpdateContext(ctx, func(p *pair) { p.B++; p.A++ }); err != nil {
			t.Fatalf("%s: lock not released after panic: %v", name, err)
		}
		if err := w.UpdateContext(ctx, func(n *int64) { *n++ }); err != nil {
			t.Fatalf("%s: lock not released after panic: %v", name, err)
		}
		cancel()
		if v.Load() != (pair{2, 2}) || w.Load() != 2 {
			t.Errorf("%s: after a panicking update: %+v, %d", name, v.Load(), w.Load())
		}
	}
}
