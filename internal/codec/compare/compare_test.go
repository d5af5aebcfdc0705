// Package compare measures internal/codec against the candidates for the
// Queue's default codec. It is a module of its own so that the candidates
// never become dependencies of multiproc: run it with
//
//	cd internal/codec/compare && go test -bench . -benchmem
//
// Figures, and why they made the binary format the default: see the
// comment at the end of internal/codec/bench_test.go.
package compare

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/multiproc/multiproc/internal/codec"
	"github.com/vmihailenco/msgpack/v5"
)

type Small struct {
	ID    int64
	Name  string
	Score float64
	Tags  []string
}

type Int64 struct{ V int64 }

func cases() []struct {
	name string
	run  func(b *testing.B, c candidate)
} {
	m := map[string]int{}
	for i := range 10 {
		m[fmt.Sprintf("key%02d", i)] = i * 1000
	}
	b64 := bytes.Repeat([]byte{0xab}, 64)
	b1m := bytes.Repeat([]byte{0xcd}, 1<<20)
	return []struct {
		name string
		run  func(b *testing.B, c candidate)
	}{
		{"small", func(b *testing.B, c candidate) {
			roundTrip(b, c, Small{ID: 12345, Name: "alice", Score: 98.5, Tags: []string{"red", "green", "blue"}})
		}},
		{"int64", func(b *testing.B, c candidate) { roundTrip(b, c, Int64{V: 1 << 40}) }},
		{"map10", func(b *testing.B, c candidate) { roundTrip(b, c, m) }},
		{"anys", func(b *testing.B, c candidate) { roundTrip(b, c, []any{42, nil, "hello"}) }},
		{"bytes64", func(b *testing.B, c candidate) { roundTrip(b, c, b64) }},
		{"bytes1M", func(b *testing.B, c candidate) { roundTrip(b, c, b1m) }},
	}
}

type candidate int

const (
	ours candidate = iota
	oursBinary
	cborC
	msgpackC
	gobFresh
)

var candidates = []struct {
	name string
	c    candidate
}{{"codec.For", ours}, {"codec.Binary", oursBinary}, {"cbor", cborC}, {"msgpack", msgpackC}, {"gob-fresh", gobFresh}}

func BenchmarkRoundTrip(b *testing.B) {
	for _, tc := range cases() {
		for _, c := range candidates {
			b.Run(tc.name+"/"+c.name, func(b *testing.B) { tc.run(b, c.c) })
		}
	}
}

func roundTrip[T any](b *testing.B, c candidate, v T) {
	var enc func(dst []byte, v *T) ([]byte, error)
	var dec func(b []byte, v *T) error
	switch c {
	case ours, oursBinary:
		var k codec.Codec[T]
		var err error
		if c == ours {
			k, _, err = codec.For[T]()
		} else {
			k, _, err = codec.Binary[T]()
		}
		if err != nil {
			b.Fatal(err)
		}
		enc = func(dst []byte, v *T) ([]byte, error) { return codec.Append(k, dst, v) }
		dec = func(b []byte, v *T) (err error) { *v, err = codec.Decode(k, b); return err }
	case cborC:
		em, _ := cbor.EncOptions{}.UserBufferEncMode()
		dm, _ := cbor.DecOptions{}.DecMode()
		var buf bytes.Buffer
		enc = func(dst []byte, v *T) ([]byte, error) {
			buf.Reset()
			err := em.MarshalToBuffer(*v, &buf)
			return append(dst, buf.Bytes()...), err
		}
		dec = func(b []byte, v *T) error { return dm.Unmarshal(b, v) }
	case msgpackC:
		var buf bytes.Buffer
		e := msgpack.NewEncoder(&buf)
		enc = func(dst []byte, v *T) ([]byte, error) {
			buf.Reset()
			err := e.Encode(v)
			return append(dst, buf.Bytes()...), err
		}
		dec = func(b []byte, v *T) error { return msgpack.Unmarshal(b, v) }
	case gobFresh:
		var buf bytes.Buffer
		enc = func(dst []byte, v *T) ([]byte, error) {
			buf.Reset()
			err := gob.NewEncoder(&buf).Encode(v)
			return append(dst, buf.Bytes()...), err
		}
		dec = func(b []byte, v *T) error { return gob.NewDecoder(bytes.NewReader(b)).Decode(v) }
	}
	scratch := make([]byte, 0, 64)
	var err error
	scratch, err = enc(scratch[:0], &v)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if scratch, err = enc(scratch[:0], &v); err != nil {
			b.Fatal(err)
		}
		var got T
		if err = dec(scratch, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(scratch)), "B/item") // after the loop, which resets metrics
}
