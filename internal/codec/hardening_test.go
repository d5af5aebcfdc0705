package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// decodeAs decodes b as a T with the codec For picks.
func decodeAs[T any](b []byte) error {
	c, _, err := For[T]()
	if err != nil {
		return err
	}
	var v T
	return c.Decode(b, &v)
}

// allocated returns the bytes f allocates, averaged over n runs.
func allocated(n int, f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

// TestHugeLengthsRefused: a length claiming 2^40 elements is checked
// against the bytes left and refused, never allocated.
func TestHugeLengthsRefused(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<40+1) // a length+1 prefix
	hugeStr := binary.AppendUvarint(nil, 1<<40)
	tail := []byte("some bytes after the length")
	cases := []struct {
		name   string
		decode func([]byte) error
		input  []byte
	}{
		{"[]string", decodeAs[[]string], huge},
		{"[]int64", decodeAs[[]int64], huge},
		{"[][]byte", decodeAs[[][]byte], huge},
		{"[]Small", decodeAs[[]Small], huge},
		{"[]struct{}", decodeAs[[]struct{}], binary.AppendUvarint(nil, 1<<40+1)},
		{"map[string]int", decodeAs[map[string]int], huge},
		{"map[Key][]string", decodeAs[map[Key][]string], huge},
		{"map[struct{}]struct{}", decodeAs[map[struct{}]struct{}], binary.AppendUvarint(nil, 3)},
		{"Small.Name", decodeAs[Small], append(make([]byte, 8), hugeStr...)},
		{"[]any", decodeAs[[]any], huge},
		{"any []any", decodeAs[any], append([]byte{tagAnys}, huge...)},
		{"any map", decodeAs[any], append([]byte{tagAnyMap}, huge...)},
		{"any string", decodeAs[any], append([]byte{tagString}, hugeStr...)},
		{"any []byte", decodeAs[any], append([]byte{tagBytes}, huge...)},
		{"any []string", decodeAs[any], append([]byte{tagStrings}, huge...)},
		{"time.Time", decodeAs[[]any], append(append(binary.AppendUvarint(nil, 2), tagTime), hugeStr...)},
		{"binary []byte", func(b []byte) error {
			c, _, _ := Binary[[]byte]()
			var v []byte
			return c.Decode(b, &v)
		}, huge},
		{"overlong uvarint", decodeAs[[]string], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, tc := range cases {
		in := append(append([]byte{}, tc.input...), tail...)
		err := tc.decode(in)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
			continue
		}
		if n := allocated(20, func() { _ = tc.decode(in) }); n > 4096 {
			t.Errorf("%s: refusing the length allocated %d bytes", tc.name, n)
		}
	}
}

// TestDeepInputRefused: nesting past MaxDepth is refused with an error,
// never a stack overflow.
func TestDeepInputRefused(t *testing.T) {
	var b []byte
	for range 100_000 {
		b = append(b, tagAnys, 2) // a []any of one element
	}
	b = append(b, tagNil)
	if err := decodeAs[any](b); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "nests more than") {
		t.Errorf("deep []any: %v", err)
	}
	b = b[:0]
	for range 100_000 {
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, 1) // V, then a non-nil Next
	}
	if err := decodeAs[List](b); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "nests more than") {
		t.Errorf("deep list: %v", err)
	}
	b = b[:0]
	for range 100_000 {
		b = append(b, 2) // a [][]...[]int of one element
	}
	type Nest []Nest
	if err := decodeAs[Nest](b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("deep slices: %v", err)
	}
}

// TestTruncatedAndFlipped: every prefix of a valid encoding is an error,
// every single-byte change is an error or a value that encodes again.
func TestTruncatedAndFlipped(t *testing.T) {
	v := Mixed{
		Plain: Plain{A: 1, B: true}, Flag: true, N: -5, S: "héllo", Bytes: []byte{1, 2}, Floats: []float64{1.5},
		Bools: []bool{true}, M: map[string]int{"a": 1}, MS: map[int]Small{1: {Name: "s", Tags: []string{"t"}}},
		P: &Small{ID: 9}, Arr: [2]string{"x", ""}, Nested: [][]string{{"n"}, nil}, Any: []any{1, "a", nil, map[string]any{"k": 2.5}},
		Iface: Named("nm"),
	}
	c, _, _ := For[Mixed]()
	b, err := c.Append(nil, &v)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		var got Mixed
		if err := c.Decode(b[:n], &got); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d of %d bytes: %v", n, len(b), err)
		}
	}
	if err := c.Decode(append(b, 0), new(Mixed)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "1 bytes left over") {
		t.Fatalf("trailing byte: %v", err)
	}
	for i := range b {
		for _, x := range []byte{0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, b[i] ^ 0x01, b[i] + 1} {
			m := append([]byte{}, b...)
			m[i] = x
			var got Mixed
			if err := c.Decode(m, &got); err != nil {
				continue
			}
			if _, err := c.Append(nil, &got); err != nil {
				t.Fatalf("byte %d set to %#x: decoded a value that does not encode: %v", i, x, err)
			}
		}
	}
}

func TestBadBools(t *testing.T) {
	c, _, _ := For[Plain]()
	v := Plain{B: true}
	b, _ := c.Append(nil, &v)
	b[1] = 2 // Plain.B
	var got Plain
	if err := c.Decode(b, &got); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "bool byte 0x2") {
		t.Errorf("raw bool 2: %v", err)
	}
	for _, in := range [][]byte{{2, 5}, {3, 1, 7}} { // []bool{5}, []bool{1, 7}
		if err := decodeAs[[]bool](in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("[]bool %v: %v", in, err)
		}
	}
	if err := decodeAs[any]([]byte{tagBool, 9}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("any bool 9: %v", err)
	}
	if err := decodeAs[map[string]bool]([]byte{2, 1, 'k', 3}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("map bool 3: %v", err)
	}
	if err := decodeAs[[2]struct {
		X int8
		B bool
	}]([]byte{1, 1, 1, 4}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("array of structs bool 4: %v", err)
	}
	if err := decodeAs[*bool]([]byte{3}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "pointer tag 3") {
		t.Errorf("pointer tag 3: %v", err)
	}
}

// TestForeignValuesRefused: bytes that are well formed but describe a value
// Go would panic on, or a type that does not fit, are errors.
func TestForeignValuesRefused(t *testing.T) {
	// A map key that is not comparable: []any inside an interface key.
	b := []byte{2, tagAnys, 1, 8, 0, 0, 0, 0, 0, 0, 0}
	if err := decodeAs[map[any]int](b); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "not comparable") {
		t.Errorf("map[any]int with a []any key: %v", err)
	}
	// A Stringer field given an int.
	type S struct{ X interface{ String() string } }
	if err := decodeAs[S]([]byte{tagInt, 1, 0, 0, 0, 0, 0, 0, 0}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "int does not implement") {
		t.Errorf("Stringer holding an int: %v", err)
	}
	// An unknown tag.
	if err := decodeAs[any]([]byte{200}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "unknown type tag 200") {
		t.Errorf("tag 200: %v", err)
	}
	// An unmarshal method that panics on what it is given.
	if err := decodeAs[Touchy]([]byte{1, 'x'}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("panicking unmarshaler: %v", err)
	}
	// Wrong size for a raw value.
	if err := decodeAs[int64]([]byte{1, 2, 3}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "3 bytes for a int64, which takes exactly 8") {
		t.Errorf("short int64: %v", err)
	}
}

// Touchy panics when asked to decode anything.
type Touchy struct{ s string }

func (t Touchy) MarshalBinary() ([]byte, error) { return []byte(t.s), nil }
func (t *Touchy) UnmarshalBinary(b []byte) error {
	panic(fmt.Sprintf("cannot take %q", b))
}
