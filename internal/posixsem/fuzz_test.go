package posixsem

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/multiproc/multiproc/internal/layout"
)

// FuzzParseWithValidChecksum: a semaphore file's bytes, whoever wrote them
// (C, Python, an attacker), give an Info or an error, never a panic or a
// read past them. With fixSum the target fixes the trailer's checksum
// first, so the fuzzer reaches the field checks behind it (FuzzParse stops
// at the checksum). What is accepted keeps its promises: value and
// bound within SEM_VALUE_MAX, the initial value within the bound, and the
// trailer encodes back to the same bytes.
func FuzzParseWithValidChecksum(f *testing.F) {
	for _, kind := range []layout.Kind{layout.KindSemaphore, layout.KindBounded} {
		b := make([]byte, FileSize)
		bound := uint32(ValueMax)
		if kind == layout.KindBounded {
			bound = 3
		}
		Init(b, 2, &Trailer{Kind: kind, Bound: bound, Initial: 2, CreatorPID: 7, Created: 1})
		f.Add(b, false)
		f.Add(b[:Size], false) // a C or Python semaphore: no trailer
	}
	f.Add(make([]byte, Size), true)
	f.Add(make([]byte, FileSize), true)
	f.Fuzz(func(t *testing.T, b []byte, fixSum bool) {
		if fixSum && len(b) == FileSize {
			binary.LittleEndian.PutUint32(b[Size+60:], crc32.Checksum(b[Size:Size+60], castagnoli))
		}
		in := bytes.Clone(b)
		info, err := Parse(b[:len(b):len(b)])
		if !bytes.Equal(in, b) {
			t.Fatal("Parse changed its input")
		}
		if err != nil {
			return
		}
		if info.Value > ValueMax || info.Bound > ValueMax {
			t.Fatalf("accepted value %d, bound %d", info.Value, info.Bound)
		}
		if info.Foreign {
			if len(b) != Size || info.Kind != layout.KindSemaphore {
				t.Fatalf("foreign semaphore of %d bytes, kind %v", len(b), info.Kind)
			}
			return
		}
		tr := info.Trailer
		if tr.Initial > tr.Bound || tr.Kind != info.Kind || info.Bound != tr.Bound {
			t.Fatalf("accepted trailer %+v for info %+v", tr, info)
		}
		out := make([]byte, TrailerSize)
		tr.encode(out)
		if !bytes.Equal(out, b[Size:FileSize]) {
			t.Fatalf("accepted trailer does not encode back to its bytes:\n% x\n% x", b[Size:], out)
		}
	})
}
