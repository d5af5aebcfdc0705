package codec

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestForPicksCodec(t *testing.T) {
	check := func(name string, got Info, err error, id ID, size uint32) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ID != id || got.Size != size || got.Type != name || got.Hash == 0 {
			t.Errorf("%s: Info %+v, want codec %s size %d", name, got, id, size)
		}
	}
	_, i, err := For[int64]()
	check("int64", i, err, IDRaw, 8)
	_, i, err = For[Plain]()
	check("codec.Plain", i, err, IDRaw, uint32(unsafe.Sizeof(Plain{})))
	_, i, err = For[[4]float64]()
	check("[4]float64", i, err, IDRaw, 32)
	_, i, err = For[struct{}]()
	check("struct {}", i, err, IDRaw, 0)
	_, i, err = For[[]byte]()
	check("[]uint8", i, err, IDBytes, 0)
	type Blob []byte
	_, i, err = For[Blob]()
	check("codec.Blob", i, err, IDBytes, 0)
	_, i, err = For[string]()
	check("string", i, err, IDString, 0)
	_, i, err = For[Named]()
	check("codec.Named", i, err, IDString, 0)
	_, i, err = For[Small]()
	check("codec.Small", i, err, IDBinary, 0)
	_, i, err = For[[]any]()
	check("[]interface {}", i, err, IDBinary, 0)
	_, i, err = For[[]int64]()
	check("[]int64", i, err, IDBinary, 0)

	// A raw codec is a Sizer whose Append is one copy of the memory.
	c, _, _ := For[Plain]()
	v := Plain{A: 1, B: true, e: 9}
	b, _ := c.Append(nil, &v)
	if want := unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v)); string(b) != string(want) {
		t.Fatalf("raw Append %x, memory %x", b, want)
	}
	if _, ok := c.(Sizer[Plain]); !ok {
		t.Fatal("raw codec is not a Sizer")
	}
}

func TestUnsupportedAtFor(t *testing.T) {
	type WithFunc struct {
		Name string
		F    func()
	}
	type Deep struct{ M map[string][]*WithFunc }
	type OnlyUnexported struct {
		a string
		b []int
	}
	for _, tc := range []struct {
		err  func() error
		want string
	}{
		{func() error { _, _, err := For[func()](); return err }, "func() is a func"},
		{func() error { _, _, err := For[chan int](); return err }, "chan int is a chan"},
		{func() error { _, _, err := For[unsafe.Pointer](); return err }, "unsafe.Pointer is a unsafe.Pointer"},
		{func() error { _, _, err := For[WithFunc](); return err }, "codec.WithFunc holds func() (a func) at .F"},
		{func() error { _, _, err := For[Deep](); return err }, "codec.Deep holds func() (a func) at .M[value][].F"},
		{func() error { _, _, err := For[OnlyUnexported](); return err }, "codec.OnlyUnexported is a struct whose exported fields carry no data"},
		{func() error { _, _, err := For[[]OnlyUnexported](); return err }, "[]codec.OnlyUnexported holds codec.OnlyUnexported (a struct) at []"},
	} {
		err := tc.err()
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want ErrUnsupported saying %q", err, tc.want)
		}
	}
	// Unexported funcs and chans are skipped, not refused.
	type Skips struct {
		Name string
		f    func()
		c    chan int
	}
	roundTrip(t, Skips{Name: "ok"})
}

// TestUnsupportedAtAppend: a dynamic type that cannot be encoded is an
// error naming it, and nothing is appended.
func TestUnsupportedAtAppend(t *testing.T) {
	type Unregistered struct{ X int }
	c, _, _ := For[[]any]()
	for _, tc := range []struct {
		v    []any
		want string
	}{
		{[]any{1, "two", func() {}}, "func() is a func, held in an interface"},
		{[]any{make(chan int)}, "chan int is a chan"},
		{[]any{map[string]any{"k": []any{unsafe.Pointer(nil)}}}, "unsafe.Pointer"},
		{[]any{Unregistered{}}, "an interface holds codec.Unregistered, which is not registered: register codec.Unregistered in every process"},
		{[]any{[]int32{1}}, "[]int32, which is not registered"},
	} {
		dst := []byte("kept")
		got, err := c.Append(dst, &tc.v)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Append(%v): %v, want ErrUnsupported saying %q", tc.v, err, tc.want)
		}
		if string(got) != "kept" {
			t.Errorf("Append(%v) returned %q, want dst unchanged", tc.v, got)
		}
	}
	// An interface type's field holding an unregistered type.
	type Holder struct{ S interface{ String() string } }
	h, _, err := For[Holder]()
	if err != nil {
		t.Fatal(err)
	}
	v := Holder{S: stringerFunc{}}
	if _, err := h.Append(nil, &v); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "codec.stringerFunc") {
		t.Errorf("got %v", err)
	}
}

type stringerFunc struct{ F func() string }

func (stringerFunc) String() string { return "" }

func TestCycleRefused(t *testing.T) {
	c, _, _ := For[*List]()
	l := &List{V: 1}
	l.Next = l
	dst := []byte("x")
	got, err := c.Append(dst, &l)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "a cycle?") || string(got) != "x" {
		t.Fatalf("cyclic list: %q, %v", got, err)
	}
	// MaxDepth nested interfaces: fine one short of it, refused past it.
	nest := func(n int) any {
		var v any = 1
		for range n {
			v = []any{v}
		}
		return v
	}
	a, _, _ := For[any]()
	v := nest(MaxDepth/2 - 1) // each level is a slice and an interface
	if _, err := a.Append(nil, &v); err != nil {
		t.Fatalf("%d levels: %v", MaxDepth/2-1, err)
	}
	v = nest(MaxDepth / 2)
	if _, err := a.Append(nil, &v); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("%d levels: %v", MaxDepth/2, err)
	}
}

func TestInfoMatch(t *testing.T) {
	_, i32, _ := For[int32]()
	_, str, _ := For[string]()
	_, u32, _ := For[uint32]()
	_, small, _ := For[Small]()
	type Small2 struct {
		ID    int64
		Name  string
		Score float64
		Tags  []string
	}
	_, small2, _ := For[Small2]()
	type Renamed struct {
		ID    int64
		Label string
		Score float64
		Tags  []string
	}
	_, renamed, _ := For[Renamed]()

	err := i32.Match("/mp-q", str)
	if !errors.Is(err, ErrTypeMismatch) || err.Error() != "element type mismatch: /mp-q holds string (string codec), not int32 (raw codec)" {
		t.Errorf("int32 on a string queue: %v", err)
	}
	if err := i32.Match("/mp-q", u32); !errors.Is(err, ErrTypeMismatch) || !strings.Contains(err.Error(), "holds uint32, not int32") {
		t.Errorf("int32 on a uint32 queue: %v", err)
	}
	if err := small.Match("/q", small2); err != nil {
		t.Errorf("same shape, another name: %v", err)
	}
	if err := small.Match("/q", renamed); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("renamed field: %v", err)
	}
	if err := small.Match("/q", small); err != nil {
		t.Error(err)
	}
}

func TestFingerprint(t *testing.T) {
	distinct := []reflect.Type{
		reflect.TypeFor[int32](), reflect.TypeFor[uint32](), reflect.TypeFor[float32](), reflect.TypeFor[string](),
		reflect.TypeFor[[]string](), reflect.TypeFor[[2]string](), reflect.TypeFor[*string](),
		reflect.TypeFor[map[string]string](), reflect.TypeFor[map[string]int](), reflect.TypeFor[any](),
		reflect.TypeFor[interface{ String() string }](), reflect.TypeFor[Small](), reflect.TypeFor[List](),
		reflect.TypeFor[Tree](), reflect.TypeFor[struct{ A, B string }](), reflect.TypeFor[struct{ B, A string }](),
		reflect.TypeFor[struct {
			A string
			b string
		}](), reflect.TypeFor[struct{ A []string }](),
	}
	seen := map[uint64]reflect.Type{}
	for _, ty := range distinct {
		h := Fingerprint(ty)
		if old, ok := seen[h]; ok {
			t.Errorf("%s and %s share fingerprint %#x", old, ty, h)
		}
		seen[h] = ty
	}
	if Fingerprint(reflect.TypeFor[Celsius]()) != Fingerprint(reflect.TypeFor[float64]()) {
		t.Error("a named float64 should share float64's fingerprint")
	}
	// Recursive types end.
	type R struct {
		A map[string]*R
		B []R
	}
	if Fingerprint(reflect.TypeFor[R]()) == Fingerprint(reflect.TypeFor[Tree]()) {
		t.Error("R and Tree share a fingerprint")
	}
}

type custom struct{}

func (custom) Append(dst []byte, v *int) ([]byte, error) { return append(dst, byte(*v)), nil }
func (custom) Decode(b []byte, v *int) error             { *v = int(b[0]); return nil }
func (custom) FixedSize() int                            { return 1 }

type custom2 struct{ custom }

func TestDescribe(t *testing.T) {
	c, want, _ := For[Small]()
	if got, err := Describe(c); err != nil || got != want {
		t.Errorf("Describe(For) = %+v, %v; want %+v", got, err, want)
	}
	r, want, _ := For[int]()
	if got, _ := Describe(r); got != want {
		t.Errorf("Describe(raw) = %+v; want %+v", got, want)
	}
	a, _ := Describe[int](custom{})
	b, _ := Describe[int](custom2{})
	if a.ID != IDCustom || a.Size != 1 || a.Hash == b.Hash || a.Hash == want.Hash {
		t.Errorf("custom codecs: %+v %+v", a, b)
	}
	if err := a.Match("/q", want); !errors.Is(err, ErrTypeMismatch) || !strings.Contains(err.Error(), "(raw codec), not int (custom codec)") {
		t.Errorf("custom on raw: %v", err)
	}
}

func TestRegister(t *testing.T) {
	type Reg1 struct{ A int }
	type Reg2 struct{ A int }
	RegisterName[Reg1]("test.reg")
	t.Run("conflicts", func(t *testing.T) {
		mustPanicT(t, "second name", `codec.Reg1 registered twice, as "test.reg" and as "github.com/multiproc/multiproc/internal/codec.Reg1"`, func() { Register[Reg1]() })
		mustPanicT(t, "name taken", `name "test.reg" registered for codec.Reg1, not codec.Reg2`, func() { RegisterName[Reg2]("test.reg") })
		mustPanicT(t, "interface", "interface type", func() { Register[error]() })
		mustPanicT(t, "func", "func() is a func", func() { Register[func()]() })
	})
	RegisterName[Reg1]("test.reg") // again under the same name: fine
	Register[int]()                // builtins need none; no-op

	c, _, _ := For[any]()
	var v any = Reg1{A: 5}
	b, err := c.Append(nil, &v)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := c.Decode(b, &got); err != nil || got != v {
		t.Fatalf("got %#v, %v", got, err)
	}
	// A decoder that does not know the id says so.
	b[1] ^= 0xff
	if err := c.Decode(b, &got); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "not registered in this process") {
		t.Fatalf("unknown id: %v", err)
	}
}

func mustPanicT(t *testing.T, what, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		err, _ := r.(error)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: panic %v, want one saying %q", what, r, want)
		}
	}()
	f()
}

// TestConcurrentUse compiles, registers, encodes and decodes from many
// goroutines at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	type C1 struct{ A []string }
	type C2 struct{ B map[string]*C1 }
	type C3 struct{ C []any }
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			defer func() { done <- err }()
			switch g % 3 {
			case 0:
				RegisterName[C1]("concurrent.C1")
			case 1:
				RegisterName[C2]("concurrent.C2")
			}
			for i := range 200 {
				c, _, e := For[C3]()
				if e != nil {
					err = e
					return
				}
				v := C3{C: []any{i, "s", Small{ID: int64(i)}, map[string]any{"k": []any{nil}}}}
				b, e := c.Append(nil, &v)
				if e != nil {
					err = e
					return
				}
				var got C3
				if e := c.Decode(b, &got); e != nil || !same(v, got) {
					err = fmt.Errorf("round trip %v: %v", got, e)
					return
				}
				m, _, _ := For[C2]()
				w := C2{B: map[string]*C1{"x": {A: []string{"y"}}}}
				if b, e = m.Append(b[:0], &w); e != nil {
					err = e
					return
				}
			}
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestTagsAreStable pins the interface tags doc.go lists: they are stored
// in queues, so they must never be renumbered.
func TestTagsAreStable(t *testing.T) {
	want := []string{"", "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16",
		"uint32", "uint64", "uintptr", "float32", "float64", "complex64", "complex128", "string",
		"[]uint8", "[]interface {}", "map[string]interface {}", "[]string", "[]int", "[]float64",
		"map[string]string", "map[string]int", "time.Time", "time.Duration"}
	if len(builtinTypes) != len(want) || tagRegistered != 255 {
		t.Fatalf("%d builtin tags, registered %d; doc.go lists %d and 255", len(builtinTypes), tagRegistered, len(want))
	}
	for tag, ty := range builtinTypes {
		if got := fmt.Sprint(ty); tag > 0 && got != want[tag] {
			t.Errorf("tag %d is %s, doc.go says %s", tag, got, want[tag])
		}
	}
	if IDRaw != 1 || IDBytes != 2 || IDString != 3 || IDBinary != 4 || IDCustom != 5 {
		t.Error("codec IDs renumbered")
	}
}

//go:noinline
func putLike[T any](c Codec[T], buf []byte, x T) []byte {
	b, err := Append(c, buf, &x)
	if err != nil {
		panic(err)
	}
	return b
}

//go:noinline
func getLike[T any](c Codec[T], b []byte) T {
	v, err := Decode(c, b)
	if err != nil {
		panic(err)
	}
	return v
}

// TestNoAllocationsPerItem: through Append and Decode a Put allocates
// nothing and a Get only what the decoded value needs (see noescape.go).
func TestNoAllocationsPerItem(t *testing.T) {
	check := func(name string, want float64, f func()) {
		t.Helper()
		if got := testing.AllocsPerRun(200, f); got != want {
			t.Errorf("%s: %v allocations, want %v", name, got, want)
		}
	}
	buf := make([]byte, 0, 4096)

	p, _, _ := For[Plain]()
	pv := Plain{A: 3, B: true}
	pb, _ := p.Append(nil, &pv)
	check("put plain", 0, func() { putLike(p, buf, pv) })
	check("get plain", 0, func() { getLike(p, pb) })

	bc, _, _ := For[[]byte]()
	bv := []byte("sixty-four bytes, give or take")
	check("put []byte", 0, func() { putLike(bc, buf, bv) })
	check("get []byte", 1, func() { getLike(bc, bv) }) // the bytes
	sc, _, _ := For[string]()
	check("put string", 0, func() { putLike(sc, buf, "a string") })
	check("get string", 1, func() { getLike(sc, bv) })

	sm, _, _ := For[Small]()
	sv := Small{ID: 1, Name: "n", Score: 2, Tags: []string{"a", "b"}}
	sb, _ := sm.Append(nil, &sv)
	check("put Small", 0, func() { putLike(sm, buf, sv) })
	check("get Small", 2, func() { getLike(sm, sb) }) // the record's copy its strings share, the Tags array
	if got := getLike(sm, sb); !same(got, sv) {
		t.Fatalf("got %+v", got)
	}

	mc, _, _ := For[map[string]int]()
	mv := map[string]int{"a": 1, "b": 2}
	check("put map (through reflect-free path)", 0, func() { putLike(mc, buf, mv) })
	type KeyMap struct{ M map[Key]int }
	kc, _, _ := For[KeyMap]()
	kv := KeyMap{map[Key]int{{"a", 1}: 1}}
	putLike(kc, buf, kv) // warms the iterator pool
	check("put map (pooled reflect iterator)", 0, func() { putLike(kc, buf, kv) })

	// A marshaler held inline is copied to the heap instead of hidden.
	type WithTime struct{ When time.Time }
	tc, _, _ := For[WithTime]()
	tv := WithTime{time.Unix(1, 0)}
	check("put inline marshaler", 1, func() { putLike(tc, buf, tv) })
}

// TestHiddenPointersSurviveStackMoves: the item's address, hidden from
// escape analysis (noescape.go), points into the caller's stack; deep
// values make the encoder and decoder grow (move) that stack mid-call while
// collections run and shrink stacks. Every round trip must still come back
// whole.
func TestHiddenPointersSurviveStackMoves(t *testing.T) {
	type Deep struct {
		M    map[Key]int
		S    []string
		A    any
		Next *Deep
	}
	var chain *Deep
	for i := range 300 {
		chain = &Deep{M: map[Key]int{{fmt.Sprint(i), i}: i}, S: []string{fmt.Sprint(i)}, A: []any{i, "x"}, Next: chain}
	}
	c, _, err := For[Deep]()
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 50 {
				b := putLike(c, nil, *chain)
				if got := getLike(c, b); !same(got, *chain) {
					errs <- fmt.Errorf("round trip changed the value")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	<-gcDone
}
