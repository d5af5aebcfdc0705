package codec

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"testing/quick"
	"time"
)

type Small struct {
	ID    int64
	Name  string
	Score float64
	Tags  []string
}

type Plain struct {
	A int8
	B bool
	C [3]uint16
	D complex64
	e int32 // unexported: plain values travel whole
}

type Mixed struct {
	Plain  Plain
	Flag   bool
	N      int
	skip   string // unexported: not encoded
	S      string
	Bytes  []byte
	Floats []float64
	Bools  []bool
	M      map[string]int
	MS     map[int]Small
	P      *Small
	PP     **int
	Arr    [2]string
	Nested [][]string
	Any    any
	Time   time.Time
	Addr   netip.Addr
	Big    *big.Int
	Iface  fmt.Stringer
	Empty  struct{}
	Zero   [0]string
}

type Named string

func (n Named) String() string { return string(n) }

type List struct {
	V    int
	Next *List
}

type Tree struct {
	Name string
	Kids []Tree
	Meta map[string]*Tree
}

type Celsius float64

type Key struct {
	A string
	B int
}

// Cyclic through a pointer and a direct field: A's minimum is needed
// while B is built.
type CycA struct{ B *CycB }
type CycB struct {
	A CycA
	X int
}

func init() {
	Register[Small]()
	Register[Named]()
	Register[*Small]()
	Register[Celsius]()
	Register[[]Small]()
	Register[map[Key]int]()
}

func TestRoundTripValues(t *testing.T) {
	nan := math.NaN()
	negZero := math.Copysign(0, -1)
	one := 1
	pone := &one
	run := func(name string, f func(t *testing.T)) { t.Run(name, f) }

	run("ints", func(t *testing.T) {
		for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64} {
			roundTrip(t, v)
			roundTrip(t, int(v))
			roundTrip(t, uint64(v))
		}
		roundTrip(t, int8(math.MinInt8))
		roundTrip(t, uint8(math.MaxUint8))
		roundTrip(t, int16(math.MinInt16))
		roundTrip(t, uint32(math.MaxUint32))
		roundTrip(t, uintptr(math.MaxUint64))
	})
	run("floats", func(t *testing.T) {
		for _, v := range []float64{0, negZero, nan, math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, math.MaxFloat64} {
			roundTrip(t, v)
			roundTrip(t, float32(v))
			roundTrip(t, complex(v, -v))
			roundTrip(t, []any{v, float32(v), complex64(complex(v, 1))})
		}
		// A NaN with a payload keeps its bits.
		roundTrip(t, math.Float64frombits(0x7ff8_dead_beef_0001))
	})
	run("strings", func(t *testing.T) {
		for _, s := range []string{"", "hello", "héllo wörld", "日本語", "🎉\u0000\uffff", "\xff\xfe not utf-8", strings.Repeat("x", 300)} {
			roundTrip(t, s)
			roundTrip(t, Named(s))
			roundTrip(t, []string{s, s})
			roundTrip(t, Small{Name: s, Tags: []string{s}})
			roundTrip(t, map[string]any{s: s})
		}
	})
	run("zero values", func(t *testing.T) {
		roundTrip(t, Small{})
		roundTrip(t, Mixed{})
		roundTrip(t, Plain{})
		roundTrip(t, Tree{})
		roundTrip(t, List{})
		roundTrip[any](t, nil)
		roundTrip[*Small](t, nil)
		roundTrip(t, struct{}{})
		roundTrip(t, [0]int{})
		roundTrip(t, time.Time{})
	})
	run("nil and empty", func(t *testing.T) {
		// Preserved by the binary format: nil and empty slices and maps.
		roundTrip(t, Mixed{Bytes: []byte{}, Floats: []float64{}, Bools: []bool{}, M: map[string]int{}, MS: map[int]Small{}, Nested: [][]string{nil, {}}})
		roundTrip(t, Mixed{Bytes: nil, Floats: nil})
		roundTrip(t, []any{[]any(nil), []any{}, map[string]any(nil), map[string]any{}, []byte(nil), []byte{}, nil})
		roundTrip(t, [][]int{nil, {}})
		roundTrip(t, map[string][]string{"nil": nil, "empty": {}})
		roundTrip(t, []string{})
		roundTrip[[]string](t, nil)
		roundTrip(t, "")
		// The raw []byte codec has no room for the difference.
		c, _, _ := For[[]byte]()
		var got []byte = nil
		if err := c.Decode(nil, &got); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("raw []byte of nothing decoded as %#v, %v; want []byte{}", got, err)
		}
		bc, _, _ := Binary[[]byte]()
		var nilBytes []byte
		b, _ := bc.Append(nil, &nilBytes)
		got = []byte{1}
		if err := bc.Decode(b, &got); err != nil || got != nil {
			t.Fatalf("binary nil []byte decoded as %#v, %v", got, err)
		}
	})
	run("pointers", func(t *testing.T) {
		pp := &pone
		roundTrip(t, Mixed{P: &Small{ID: 3, Name: "p"}, PP: pp})
		roundTrip(t, &Small{Name: "x"})
		roundTrip(t, []*int{nil, pone, nil})
		l := &List{1, &List{2, &List{3, nil}}}
		roundTrip(t, l)
		roundTrip(t, CycB{A: CycA{B: &CycB{X: 2}}, X: 1})
	})
	run("containers", func(t *testing.T) {
		roundTrip(t, map[Key]int{{"a", 1}: 1, {"b", 2}: 2})
		roundTrip(t, map[float64]string{1.5: "x", math.Inf(-1): "inf"})
		roundTrip(t, map[[2]int8]bool{{1, 2}: true})
		roundTrip(t, map[string]bool{"t": true, "f": false})
		roundTrip(t, map[int64]string{math.MinInt64: "min"})
		roundTrip(t, map[int]any{1: nil, 2: []any{3}})
		roundTrip(t, [3][]int{{1}, nil, {}})
		roundTrip(t, Tree{Name: "root", Kids: []Tree{{Name: "a"}, {Name: "b", Kids: []Tree{{Name: "c"}}}}, Meta: map[string]*Tree{"self": nil, "x": {Name: "x"}}})
		roundTrip(t, []bool{true, false, true})
		roundTrip(t, [4]bool{true})
		roundTrip(t, []Plain{{A: -1, B: true, C: [3]uint16{1, 2, 3}, D: 1i, e: 7}})
		roundTrip(t, make([]struct{}, 1000))
	})
	run("interfaces", func(t *testing.T) {
		roundTrip(t, []any{42, nil, "hello"})
		roundTrip(t, []any{int8(-1), int16(-2), int32(-3), int64(-4), uint(1), uint8(2), uint16(3), uint32(4), uint64(5), uintptr(6), true, false})
		roundTrip(t, []any{[]byte("b"), []string{"s"}, []int{1}, []float64{2}, map[string]string{"k": "v"}, map[string]int{"k": 1}, time.Unix(1, 2).UTC(), time.Second})
		roundTrip(t, []any{Small{ID: 1}, &Small{ID: 2}, (*Small)(nil), Named("n"), Celsius(-40), []Small{{}}, map[Key]int{{"k", 1}: 1}})
		roundTrip(t, map[string]any{"a": map[string]any{"b": []any{map[string]any{}}}})
		roundTrip(t, Mixed{Any: []any{1, "x"}, Iface: Named("stringer")})
		roundTrip[fmt.Stringer](t, Named("top"))
		roundTrip[any](t, 7)
	})
	run("marshalers", func(t *testing.T) {
		roundTrip(t, time.Date(2024, 2, 29, 12, 0, 0, 5, time.FixedZone("X", 3600)))
		roundTrip(t, netip.MustParseAddr("fe80::1%eth0"))
		roundTrip(t, big.NewInt(-1<<62))
		roundTrip(t, Mixed{Time: time.Unix(10, 0).UTC(), Addr: netip.MustParseAddr("10.0.0.1"), Big: new(big.Int).Lsh(big.NewInt(1), 200)})
		roundTrip(t, []*big.Int{nil, big.NewInt(3)})
		// A marshaled value longer than 127 bytes needs a longer length.
		roundTrip(t, new(big.Int).Lsh(big.NewInt(1), 2000))
	})
	run("unexported skipped", func(t *testing.T) {
		c, _, _ := For[Mixed]()
		v := Mixed{skip: "dropped", S: "kept"}
		b, _ := c.Append(nil, &v)
		var got Mixed
		if err := c.Decode(b, &got); err != nil || got.skip != "" || got.S != "kept" {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

// TestRoundTripQuick round-trips values testing/quick makes up for many
// types (it fills exported fields only, and never makes nil slices or
// maps: those are TestRoundTripValues's).
func TestRoundTripQuick(t *testing.T) {
	cfg := &quick.Config{MaxCount: 200}
	check := func(name string, prop func(t *testing.T) any) {
		t.Run(name, func(t *testing.T) {
			if err := quick.Check(prop(t), cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
	check("Small", func(t *testing.T) any { return func(v Small) bool { return quickTrip(t, v) } })
	check("int64", func(t *testing.T) any { return func(v int64) bool { return quickTrip(t, v) } })
	check("string", func(t *testing.T) any { return func(v string) bool { return quickTrip(t, v) } })
	check("bytes", func(t *testing.T) any { return func(v []byte) bool { return quickTrip(t, v) } })
	check("floats", func(t *testing.T) any { return func(v []float64) bool { return quickTrip(t, v) } })
	check("map", func(t *testing.T) any { return func(v map[string]int) bool { return quickTrip(t, v) } })
	check("map key struct", func(t *testing.T) any { return func(v map[Key][]string) bool { return quickTrip(t, v) } })
	check("nested", func(t *testing.T) any { return func(v map[int8][2][]*Small) bool { return quickTrip(t, v) } })
	check("arrays", func(t *testing.T) any { return func(v [5][2]string) bool { return quickTrip(t, v) } })
	check("complex", func(t *testing.T) any { return func(v []complex128) bool { return quickTrip(t, v) } })
	check("ptr", func(t *testing.T) any { return func(v *[3]*string) bool { return quickTrip(t, v) } })
	check("plain struct", func(t *testing.T) any {
		return func(a int8, b bool, c [3]uint16, d complex64, e int32) bool {
			return quickTrip(t, Plain{A: a, B: b, C: c, D: d, e: e})
		}
	})
	check("anys", func(t *testing.T) any {
		return func(seed int64) bool { return quickTrip(t, randomAny(rand.New(rand.NewPCG(uint64(seed), 1)), 4)) }
	})
	check("any in struct", func(t *testing.T) any {
		return func(seed int64, s Small) bool {
			return quickTrip(t, Mixed{Any: randomAny(rand.New(rand.NewPCG(uint64(seed), 2)), 3), S: s.Name, P: &s})
		}
	})
}

func quickTrip[T any](t *testing.T, v T) bool {
	t.Helper()
	roundTrip(t, v)
	return !t.Failed()
}

// randomAny makes up a value of the kinds an interface may hold without
// registration, nested up to depth.
func randomAny(r *rand.Rand, depth int) any {
	k := r.IntN(14)
	if depth == 0 {
		k %= 8
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.Int64()
	case 2:
		return int(r.Int32()) - math.MaxInt32/2
	case 3:
		return []float64{math.NaN(), r.Float64(), math.Inf(1)}[r.IntN(3)]
	case 4:
		return string(rune(r.IntN(0x10ffff)))
	case 5:
		return r.IntN(2) == 0
	case 6:
		return []byte(fmt.Sprint(r.Uint64()))
	case 7:
		return time.Duration(r.Int64())
	case 8, 9:
		s := make([]any, r.IntN(5))
		for i := range s {
			s[i] = randomAny(r, depth-1)
		}
		return s
	case 10, 11:
		m := map[string]any{}
		for range r.IntN(5) {
			m[fmt.Sprint(r.IntN(100))] = randomAny(r, depth-1)
		}
		return m
	case 12:
		return Small{ID: r.Int64(), Name: "s", Tags: []string{"t"}}
	default:
		return []string{"a", ""}
	}
}

// TestTypeIdentityInInterfaces: an interface gets back exactly the dynamic
// type it held, not a wider one (42 stays an int, not an int64 or float64).
func TestTypeIdentityInInterfaces(t *testing.T) {
	c, _, _ := For[[]any]()
	in := []any{42, int64(42), uint8(42), 42.0, float32(42), Celsius(42), Named("42"), "42"}
	b, err := c.Append(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	if err := c.Decode(b, &out); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if reflect.TypeOf(in[i]) != reflect.TypeOf(out[i]) || in[i] != out[i] {
			t.Errorf("element %d: sent %T(%v), got %T(%v)", i, in[i], in[i], out[i], out[i])
		}
	}
	if got := fmt.Sprint([]any{42, nil, "hello"}); got != "[42 <nil> hello]" {
		t.Fatalf("%s", got)
	}
}

// TestDecodeReplaces: Decode sets every part of *v and shares no memory
// with what *v held before.
func TestDecodeReplaces(t *testing.T) {
	c, _, _ := For[Mixed]()
	v := Mixed{S: "new"}
	b, _ := c.Append(nil, &v)
	old := Mixed{S: "old", Bytes: []byte("old"), M: map[string]int{"old": 1}, skip: "old", P: &Small{}}
	keep := old.Bytes
	if err := c.Decode(b, &old); err != nil {
		t.Fatal(err)
	}
	if old.S != "new" || old.Bytes != nil || old.M != nil || old.skip != "" || old.P != nil {
		t.Fatalf("decoded into a used value: %+v", old)
	}
	if string(keep) != "old" {
		t.Fatal("Decode wrote into memory the old value owned")
	}
}

// TestDecodeKeepsNoInput: nothing decoded points into the input, which
// may be shared memory another process reuses.
func TestDecodeKeepsNoInput(t *testing.T) {
	c, _, _ := For[Mixed]()
	v := Mixed{S: "string", Bytes: []byte("bytes"), Nested: [][]string{{"n"}}, M: map[string]int{"k": 1}, Any: []any{"a"}, Arr: [2]string{"x", "y"}}
	b, _ := c.Append(nil, &v)
	var got Mixed
	if err := c.Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xee
	}
	if !same(v, got) {
		t.Fatalf("decoded value changed with its input: %+v", got)
	}
	s, _, _ := For[string]()
	str := "raw"
	rb, _ := s.Append(nil, &str)
	var gs string
	_ = s.Decode(rb, &gs)
	rb[0] = 'X'
	if gs != "raw" {
		t.Fatal("raw string decode kept its input")
	}
}
