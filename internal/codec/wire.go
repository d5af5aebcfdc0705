package codec

import (
	"encoding/binary"
	"unsafe"
)

// Helpers for the pieces every kind is made of: uvarints, and slices'
// headers. See doc.go for the format.

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// uvarint reads the uvarint at b[i:]; ok is false when it is cut short or
// longer than 10 bytes.
func uvarint(b []byte, i int) (v uint64, j int, ok bool) {
	if i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1, true
	}
	if i >= len(b) {
		return 0, i, false
	}
	v, n := binary.Uvarint(b[i:])
	if n <= 0 {
		return 0, i, false
	}
	return v, i + n, true
}

func appendString(b []byte, s string) []byte {
	return append(appendUvarint(b, uint64(len(s))), s...)
}

// src is what a decoder reads: the record, and whether it is the
// decoder's own copy of it, which strings may then point into (see
// binaryCodec.Decode).
type src struct {
	b   []byte
	own bool
}

// readString reads a length-prefixed string at s.b[i:]. The length is
// checked against the bytes left before anything is allocated.
func (c *typeCodec) readString(s src, i int) (string, int, error) {
	b := s.b
	u, j, ok := uvarint(b, i)
	if !ok {
		return "", i, c.corrupt(i, "bad string length")
	}
	if u > uint64(len(b)-j) {
		return "", i, c.corrupt(i, "string of %d bytes, %d left", u, len(b)-j)
	}
	n := int(u)
	if s.own && n > 0 {
		return unsafe.String(&b[j], n), j + n, nil
	}
	return string(b[j : j+n]), j + n, nil
}

// count reads the length+1 prefix of a slice or a map at b[i:] (0 stands
// for nil) and checks that n items of at least per bytes each fit in the
// bytes left, so a foreign length is refused before it is allocated. Items
// of per 0 take no bytes and no memory (min 0 implies size 0, see
// builder.structure); at most maxFree of them are accepted.
func (c *typeCodec) count(b []byte, i int, per int, maxFree uint64) (n int, isNil bool, j int, err error) {
	u, j, ok := uvarint(b, i)
	if !ok {
		return 0, false, i, c.corrupt(i, "bad length")
	}
	if u == 0 {
		return 0, true, j, nil
	}
	u--
	left := uint64(len(b) - j)
	if per == 0 {
		if u > maxFree {
			return 0, false, i, c.corrupt(i, "%d empty elements, at most %d", u, maxFree)
		}
	} else if u > left/uint64(per) {
		return 0, false, i, c.corrupt(i, "%d elements of at least %d bytes, %d bytes left", u, per, left)
	}
	return int(u), false, j, nil
}

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

// zeroBase is where empty non-nil slices point.
var zeroBase [0]uint64
