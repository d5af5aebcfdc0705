package layout

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzDecodeHead: whatever bytes and file size a file claims, DecodeHead
// returns a header or an error, never panics, and reads nothing past the
// bytes it was given. With fixSum the target writes a correct checksum
// first, so the fuzzer gets past it to the field checks. What it accepts
// keeps its promises (the payload and the elements fit in the file) and
// encodes back to the same bytes.
func FuzzDecodeHead(f *testing.F) {
	good := make([]byte, HeaderSize+64)
	h := Header{Kind: KindLock, PayloadSize: 64, ElemSize: 8, ElemAlign: 8, ElemCount: 8, CreatorPID: 1, Created: 1}
	h.SetTypeName("int64")
	h.Encode(good)
	f.Add(good, int64(len(good)), false)
	f.Add(good[:HeaderSize], int64(len(good)), false) // a reader with only the head
	f.Add(good[:HeaderSize], int64(HeaderSize), true) // the payload promised is not there
	f.Add([]byte("MPGO\x00OBJ"), int64(8), true)
	f.Add(bytes.Repeat([]byte{0xff}, HeaderSize), int64(-1), true)
	f.Fuzz(func(t *testing.T, b []byte, fileSize int64, fixSum bool) {
		if fixSum && len(b) >= HeaderSize {
			binary.LittleEndian.PutUint32(b[124:], crc32.Checksum(b[:124], castagnoli))
		}
		in := bytes.Clone(b)
		// Only the bytes given: a read past them would panic here.
		got, err := DecodeHead(b[:len(b):len(b)], fileSize)
		if !bytes.Equal(in, b) {
			t.Fatal("DecodeHead changed its input")
		}
		if err != nil {
			return
		}
		if fileSize < HeaderSize || got.PayloadSize > uint64(fileSize)-HeaderSize {
			t.Fatalf("accepted a payload of %d bytes in a %d-byte file", got.PayloadSize, fileSize)
		}
		if got.ElemSize > 0 && got.ElemCount > got.PayloadSize/uint64(got.ElemSize) {
			t.Fatalf("accepted %d elements of %d bytes in a %d-byte payload", got.ElemCount, got.ElemSize, got.PayloadSize)
		}
		if !got.Kind.Valid() {
			t.Fatalf("accepted kind %d", got.Kind)
		}
		out := make([]byte, HeaderSize)
		got.Encode(out)
		if !bytes.Equal(out, b[:HeaderSize]) {
			t.Fatalf("accepted header does not encode back to its bytes:\n% x\n% x", b[:HeaderSize], out)
		}
	})
}
