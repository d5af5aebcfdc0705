package codec_test

import (
	"fmt"
	"unsafe"

	"github.com/multiproc/multiproc/internal/codec"
)

// The seed's Queue example puts [42, None, 'hello'] in one process and
// prints it in another; in Go the item is a []any.
func Example() {
	c, info, err := codec.For[[]any]()
	if err != nil {
		panic(err)
	}
	item := []any{42, nil, "hello"}
	rec, err := c.Append(nil, &item) // the producer's side
	if err != nil {
		panic(err)
	}
	var got []any // the consumer's side
	if err := c.Decode(rec, &got); err != nil {
		panic(err)
	}
	fmt.Println(got, info.ID, len(rec), "bytes")
	// Output: [42 <nil> hello] binary 18 bytes
}

type Job struct {
	ID    int64
	Name  string
	Score float64
	Tags  []string
	notes string // unexported: not sent
}

func ExampleFor() {
	c, info, _ := codec.For[Job]()
	job := Job{ID: 7, Name: "resize", Score: 0.5, Tags: []string{"img"}, notes: "local"}
	rec, _ := c.Append(nil, &job)
	var got Job
	_ = c.Decode(rec, &got)
	fmt.Printf("%+v via the %s codec\n", got, info.ID)

	// Plain types are copied as they are.
	_, pinfo, _ := codec.For[[2]float64]()
	fmt.Println(pinfo.ID, pinfo.Size)

	// Types that cannot travel are refused up front, naming what is wrong.
	_, _, err := codec.For[struct{ Done chan bool }]()
	fmt.Println(err)
	// Output:
	// {ID:7 Name:resize Score:0.5 Tags:[img] notes:} via the binary codec
	// raw 16
	// type cannot be encoded: struct { Done chan bool } holds chan bool (a chan) at .Done
}

type Point struct{ X, Y int }

func init() { codec.Register[Point]() } // in every process: an init func

// Interface values may hold the builtin types and registered ones.
func ExampleRegister() {
	c, _, _ := codec.For[map[string]any]()
	m := map[string]any{"origin": Point{}, "path": []any{Point{1, 2}, Point{3, 4}}}
	rec, _ := c.Append(nil, &m)
	var got map[string]any
	_ = c.Decode(rec, &got)
	fmt.Printf("%v %T\n", got["path"], got["origin"])

	type Unknown struct{ A int }
	bad := map[string]any{"u": Unknown{}}
	_, err := c.Append(nil, &bad)
	fmt.Println(err)
	// Output:
	// [{1 2} {3 4}] codec_test.Point
	// type cannot be encoded: an interface holds codec_test.Unknown, which is not registered: register codec_test.Unknown in every process
}

func ExampleInfo_Match() {
	_, stored, _ := codec.For[string]() // what the queue's creator wrote
	_, opening, _ := codec.For[int32]() // what OpenQueue[int32] asks for
	fmt.Println(opening.Match("/mp-jobs", stored))
	// Output: element type mismatch: /mp-jobs holds string (string codec), not int32 (raw codec)
}

// A producer with a Sizer reserves exactly the item's size and encodes in
// place; here a byte array stands for the ring's free space.
func ExampleSizer() {
	c, _, _ := codec.For[[]byte]()
	item := []byte("payload")
	var ring [64]byte
	free := ring[8:]
	n := c.(codec.Sizer[[]byte]).Size(&item)
	out, _ := c.Append(free[:0:n], &item)
	fmt.Println(n, unsafe.SliceData(out) == &free[0], string(ring[8:8+n]))
	// Output: 7 true payload
}
