package codec

import "unsafe"

// ownMax is the longest record whose strings share one copy of it.
const ownMax = 1024

// binaryCodec is the type-directed binary format of doc.go, compiled for T.
type binaryCodec[T any] struct{ tc *typeCodec }

func (c binaryCodec[T]) Append(dst []byte, v *T) ([]byte, error) {
	p := noescape(unsafe.Pointer(v)) // see noescape.go
	if c.tc.inlineMarshal {
		x := new(T) // a marshaler's methods get a pointer into it
		*x = *v
		p = unsafe.Pointer(x)
	}
	b, err := c.tc.enc(dst, p, 0)
	if err != nil {
		return dst, err
	}
	return b, nil
}

// Decode decodes b into *v. When T may hold two strings or more and b is
// short (ownMax), b is first copied into memory of the decoder's own and
// the strings point into that copy: one allocation instead of one a
// string. A string kept from the item then keeps the copy alive, at most
// ownMax bytes.
func (c binaryCodec[T]) Decode(b []byte, v *T) error {
	var zero T
	*v = zero
	s := src{b: b}
	if c.tc.strs >= 2 && len(b) <= ownMax {
		s = src{b: append([]byte(nil), b...), own: true}
	}
	p, x := noescape(unsafe.Pointer(v)), (*T)(nil) // see noescape.go
	if c.tc.inlineMarshal {
		x = new(T) // a marshaler's methods get a pointer into it
		p = unsafe.Pointer(x)
	}
	i, err := c.tc.dec(s, 0, p, 0)
	if x != nil {
		*v = *x
	}
	if err != nil {
		return err
	}
	if i != len(b) {
		return c.tc.corrupt(i, "%d bytes left over", len(b)-i)
	}
	return nil
}
