package codec

import (
	"fmt"
	"unsafe"
)

// The raw codecs do no encoding at all: a plain T travels as its memory
// image, a []byte or a string as its bytes. Decode checks only what could
// make the value invalid: the exact size, and that every bool byte is 0 or 1.

// rawCodec carries a plain T (layout.TypeOf accepts it) as its memory image.
type rawCodec[T any] struct {
	size  int
	bools []span // the bytes of T that are bools
	name  string
}

func newRaw[T any](tc *typeCodec) *rawCodec[T] {
	return &rawCodec[T]{size: int(tc.size), bools: tc.bools, name: tc.name}
}

func (c *rawCodec[T]) Append(dst []byte, v *T) ([]byte, error) {
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(v)), c.size)...), nil
}

func (c *rawCodec[T]) Decode(b []byte, v *T) error {
	if len(b) != c.size {
		return fmt.Errorf("%w: %d bytes for a %s, which takes exactly %d", ErrCorrupt, len(b), c.name, c.size)
	}
	p := unsafe.Pointer(v)
	copy(unsafe.Slice((*byte)(p), c.size), b)
	if x, bad := badBool(p, c.bools); bad {
		var zero T
		*v = zero
		return fmt.Errorf("%w: bool byte %#x in a %s", ErrCorrupt, x, c.name)
	}
	return nil
}

// Size is the fixed size of T.
func (c *rawCodec[T]) Size(*T) int { return c.size }

// FixedSize is the fixed size of T.
func (c *rawCodec[T]) FixedSize() int { return c.size }

// bytesCodec carries a T of kind []byte as its bytes. An empty slice, nil
// or not, decodes as a non-nil empty one: the raw form has no room to tell
// them apart.
type bytesCodec[T any] struct{}

func (bytesCodec[T]) Append(dst []byte, v *T) ([]byte, error) {
	return append(dst, *(*[]byte)(unsafe.Pointer(v))...), nil
}

func (bytesCodec[T]) Decode(b []byte, v *T) error {
	if len(b) == 0 {
		*(*[]byte)(unsafe.Pointer(v)) = []byte{}
		return nil
	}
	*(*[]byte)(unsafe.Pointer(v)) = append([]byte(nil), b...)
	return nil
}

func (bytesCodec[T]) Size(v *T) int { return len(*(*[]byte)(unsafe.Pointer(v))) }

// stringCodec carries a T of kind string as its bytes, UTF-8 or not.
type stringCodec[T any] struct{}

func (stringCodec[T]) Append(dst []byte, v *T) ([]byte, error) {
	return append(dst, *(*string)(unsafe.Pointer(v))...), nil
}

func (stringCodec[T]) Decode(b []byte, v *T) error {
	*(*string)(unsafe.Pointer(v)) = string(b)
	return nil
}

func (stringCodec[T]) Size(v *T) int { return len(*(*string)(unsafe.Pointer(v))) }

// Layout reports whether c encodes every T as its memory image, of size
// bytes, and every size bytes decode to a valid T (T holds no bool): then
// a run of Ts is its own encoding, and a run of encodings can be copied
// into a []T without decoding one by one. The Pool sends the arguments
// and results of such types as whole slices.
func Layout[T any](c Codec[T]) (size int, ok bool) {
	r, isRaw := c.(*rawCodec[T])
	if !isRaw || len(r.bools) > 0 || r.size == 0 || uintptr(r.size) != unsafe.Sizeof(*new(T)) {
		return 0, false
	}
	return r.size, true
}
