package codec

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzTypes are the types FuzzDecode decodes its input as, chosen by its
// first argument: every kind of codec and every path through the decoder.
var fuzzTypes = []func(t *testing.T, b []byte){
	fuzzOne[Small],
	fuzzOne[Mixed],
	fuzzOne[[]any],
	fuzzOne[any],
	fuzzOne[map[string]int],
	fuzzOne[map[string]any],
	fuzzOne[Tree],
	fuzzOne[*List],
	fuzzOne[[]Plain],
	fuzzOne[Plain],
	fuzzOne[string],
	fuzzOne[[]byte],
	fuzzOne[map[Key][]string],
	fuzzOne[map[any]int],
	fuzzOne[[3][]int],
	fuzzOne[struct{ S interface{ String() string } }],
	fuzzOne[map[float64]*bool],
	fuzzOne[[]time.Time],
}

// fuzzOne decodes b as a T. Decoding must not panic, hang or allocate past
// a bound (the fuzzer's own limits catch those); whatever it accepts must
// encode again, and decode to the same value.
func fuzzOne[T any](t *testing.T, b []byte) {
	for _, mk := range []func() (Codec[T], Info, error){For[T], Binary[T]} {
		c, _, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		var v T
		if err := c.Decode(b, &v); err != nil {
			continue
		}
		again, err := c.Append(nil, &v)
		if err != nil {
			t.Fatalf("%T: decoded %#v from %x, which does not encode: %v", c, v, b, err)
		}
		var w T
		if err := c.Decode(again, &w); err != nil {
			t.Fatalf("%T: re-encoding of %#v does not decode: %v", c, v, err)
		}
		if !same(v, w) {
			t.Fatalf("%T: %x decoded as %#v, re-encoded and decoded as %#v", c, b, v, w)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for i, b := range fuzzSeeds() {
		f.Add(uint8(i%len(fuzzTypes)), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		fuzzTypes[int(which)%len(fuzzTypes)](t, b)
	})
}

// fuzzSeeds returns a valid encoding for each of fuzzTypes, in order.
func fuzzSeeds() [][]byte {
	one := true
	return [][]byte{
		mustAppend(Small{ID: 1, Name: "n", Score: 1.5, Tags: []string{"a", "b"}}),
		mustAppend(Mixed{S: "s", Bytes: []byte{1}, M: map[string]int{"k": 1}, P: &Small{}, Any: []any{1, "x", nil}, Iface: Named("i"), Time: time.Unix(1, 0).UTC()}),
		mustAppend([]any{42, nil, "hello", []any{1.5, true}, map[string]any{"k": []byte("v")}, Small{Name: "r"}}),
		mustAppend[any](map[string]any{"a": []any{int8(1), uint16(2), time.Second, []string{"s"}}}),
		mustAppend(map[string]int{"a": 1, "b": 2}),
		mustAppend(map[string]any{"x": nil, "y": []any{}}),
		mustAppend(Tree{Name: "r", Kids: []Tree{{Name: "k"}}, Meta: map[string]*Tree{"m": {}, "n": nil}}),
		mustAppend(&List{1, &List{2, nil}}),
		mustAppend([]Plain{{A: 1, B: true, C: [3]uint16{1, 2, 3}}}),
		mustAppend(Plain{A: -1, B: true}),
		mustAppend("héllo"),
		mustAppend([]byte("bytes")),
		mustAppend(map[Key][]string{{"a", 1}: {"x"}, {"b", 2}: nil}),
		mustAppend(map[any]int{"s": 1, 2: 2, nil: 3, Celsius(4): 4}),
		mustAppend([3][]int{{1}, nil, {}}),
		mustAppend(struct{ S interface{ String() string } }{Named("s")}),
		mustAppend(map[float64]*bool{math.NaN(): &one, 1: nil}),
		mustAppend([]time.Time{time.Unix(5, 6).UTC(), {}}),
	}
}

func mustAppend[T any](v T) []byte {
	c, _, err := For[T]()
	if err != nil {
		panic(err)
	}
	b, err := c.Append(nil, &v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestWriteFuzzCorpus writes fuzzSeeds as testdata/fuzz/FuzzDecode files
// when CODEC_WRITE_CORPUS is set; the committed corpus is its output plus
// inputs the fuzzer found.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("CODEC_WRITE_CORPUS") == "" {
		t.Skip("set CODEC_WRITE_CORPUS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, b := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", byte(i), b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
