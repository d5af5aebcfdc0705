package codec

import (
	"encoding"
	"fmt"
	"reflect"
	"unsafe"
)

// A type with marshaler methods (see marshalerOf) is encoded as the length
// of what its method wrote, then those bytes; decoding passes exactly those
// bytes to UnmarshalBinary or UnmarshalText on the zero value. This is how
// time.Time, netip.Addr or big.Int travel, and how multiproc's own shared
// objects (value.Value, array.Array, ...) travel as their names.

func buildMarshal(c *typeCodec, m marshaler) {
	c.kind, c.min = kMarshal, 1
	t := c.t
	c.enc = func(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
		x := reflect.NewAt(t, p).Interface()
		start := len(b)
		b = append(b, 0) // the length, widened below when it needs more than a byte
		var err error
		var data []byte
		switch m {
		case mBinaryAppend:
			b, err = x.(encoding.BinaryAppender).AppendBinary(b)
		case mBinary:
			data, err = x.(encoding.BinaryMarshaler).MarshalBinary()
			b = append(b, data...)
		case mTextAppend:
			b, err = x.(encoding.TextAppender).AppendText(b)
		case mText:
			data, err = x.(encoding.TextMarshaler).MarshalText()
			b = append(b, data...)
		}
		if err != nil {
			return b, fmt.Errorf("codec: encoding %s: %w", c.name, err)
		}
		return putLength(b, start), nil
	}
	c.dec = func(s src, i int, p unsafe.Pointer, _ int) (int, error) {
		b := s.b
		u, j, ok := uvarint(b, i)
		if !ok {
			return i, c.corrupt(i, "bad length")
		}
		if u > uint64(len(b)-j) {
			return i, c.corrupt(i, "%d bytes, %d left", u, len(b)-j)
		}
		n := int(u)
		return j + n, c.unmarshal(p, m, b[j:j+n:j+n])
	}
}

// putLength turns the placeholder byte at b[start] into the uvarint length
// of the bytes after it, moving them when the length needs more bytes.
func putLength(b []byte, start int) []byte {
	n := len(b) - start - 1
	if n < 0x80 {
		b[start] = byte(n)
		return b
	}
	var tmp [10]byte
	l := appendUvarint(tmp[:0], uint64(n))
	b = append(b, l[1:]...) // room for the longer length
	copy(b[start+len(l):], b[start+1:start+1+n])
	copy(b[start:], l)
	return b
}

// unmarshal calls the decoding method of the zero value at p on data. A
// panic in it (foreign bytes may reach code that trusts its input) is
// turned into an error: Decode never panics.
func (c *typeCodec) unmarshal(p unsafe.Pointer, m marshaler, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: its unmarshal method panicked: %v", ErrCorrupt, c.name, r)
		}
	}()
	x := reflect.NewAt(c.t, p).Interface()
	if m == mBinaryAppend || m == mBinary {
		err = x.(encoding.BinaryUnmarshaler).UnmarshalBinary(data)
	} else {
		err = x.(encoding.TextUnmarshaler).UnmarshalText(data)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, c.name, err)
	}
	return nil
}

// marshaler says which methods a type's values encode themselves with.
type marshaler uint8

const (
	mBinaryAppend marshaler = iota + 1 // AppendBinary + UnmarshalBinary
	mBinary                            // MarshalBinary + UnmarshalBinary
	mTextAppend                        // AppendText + UnmarshalText
	mText                              // MarshalText + UnmarshalText
)

var (
	binaryAppenderType    = reflect.TypeFor[encoding.BinaryAppender]()
	binaryMarshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textAppenderType      = reflect.TypeFor[encoding.TextAppender]()
	textMarshalerType     = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType   = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// marshalerOf returns how values of t encode themselves, or 0. Both
// directions must be there, on T or *T: a type that can marshal but not
// unmarshal is encoded by its shape. Binary methods win over text ones.
// Interfaces and pointers are never marshalers themselves: a pointer's
// element is (so a nil *T is encoded as nil, not passed to a method).
func marshalerOf(t reflect.Type) marshaler {
	if t.Kind() == reflect.Interface || t.Kind() == reflect.Pointer {
		return 0
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(binaryUnmarshalerType) {
		if pt.Implements(binaryAppenderType) {
			return mBinaryAppend
		}
		if pt.Implements(binaryMarshalerType) {
			return mBinary
		}
	}
	if pt.Implements(textUnmarshalerType) {
		if pt.Implements(textAppenderType) {
			return mTextAppend
		}
		if pt.Implements(textMarshalerType) {
			return mText
		}
	}
	return 0
}
