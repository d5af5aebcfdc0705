package codec

import (
	"reflect"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
)

// Plain values: numbers, bools, and arrays and structs of them, copied as
// their memory image.

// plainType reports whether t is plain (layout.TypeOf accepts it: numbers,
// bools, fixed arrays and structs of those, unexported fields included) and
// nothing in it has marshaler methods, so its memory image is its encoding.
func plainType(t reflect.Type) bool {
	if _, err := layout.Describe(t); err != nil {
		return false
	}
	return !marshalerInside(t)
}

func marshalerInside(t reflect.Type) bool {
	if marshalerOf(t) != 0 {
		return true
	}
	switch t.Kind() {
	case reflect.Array:
		return marshalerInside(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if marshalerInside(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// span marks the bool bytes of a plain value: n bytes at off when sub is
// nil, else n repetitions of sub at off, off+stride, ...
type span struct {
	off, n, stride uintptr
	sub            []span
}

func boolSpans(t reflect.Type, off uintptr, out []span) []span {
	switch t.Kind() {
	case reflect.Bool:
		if k := len(out) - 1; k >= 0 && out[k].sub == nil && out[k].off+out[k].n == off {
			out[k].n++
			return out
		}
		return append(out, span{off: off, n: 1})
	case reflect.Array:
		e := t.Elem()
		if t.Len() == 0 {
			return out
		}
		if e.Kind() == reflect.Bool {
			return append(out, span{off: off, n: uintptr(t.Len())})
		}
		if sub := boolSpans(e, 0, nil); sub != nil {
			return append(out, span{off: off, n: uintptr(t.Len()), stride: e.Size(), sub: sub})
		}
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			out = boolSpans(f.Type, off+f.Offset, out)
		}
	}
	return out
}

// badBool returns the first bool byte of the plain value at p that is
// neither 0 nor 1, and whether there is one.
func badBool(p unsafe.Pointer, spans []span) (byte, bool) {
	for _, s := range spans {
		for j := uintptr(0); j < s.n; j++ {
			if s.sub == nil {
				if c := *(*byte)(unsafe.Add(p, s.off+j)); c > 1 {
					return c, true
				}
			} else if c, bad := badBool(unsafe.Add(p, s.off+j*s.stride), s.sub); bad {
				return c, true
			}
		}
	}
	return 0, false
}

func (c *typeCodec) encPlain(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	return append(b, unsafe.Slice((*byte)(p), c.size)...), nil
}

func (c *typeCodec) decPlain(s src, i int, p unsafe.Pointer, _ int) (int, error) {
	return c.readImage(s.b, i, p, int(c.size), c.bools)
}

// readImage copies the n-byte memory image at b[i:] to p and checks its
// bools (in the copy: b is read once).
func (c *typeCodec) readImage(b []byte, i int, p unsafe.Pointer, n int, bools []span) (int, error) {
	if len(b)-i < n {
		return i, c.short(b, i, n)
	}
	copy(unsafe.Slice((*byte)(p), n), b[i:])
	if len(bools) > 0 {
		if v, bad := badBool(p, bools); bad {
			return i, c.corrupt(i, "bool byte %#x", v)
		}
	}
	return i + n, nil
}
