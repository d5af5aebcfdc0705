package codec

import (
	"reflect"
	"unsafe"
)

// Encoders and decoders of strings, slices, arrays, structs and pointers.
// Each decoder writes into memory that is zero (Decode zeroes *v first,
// and everything allocated here starts zeroed), checks every length
// against the bytes left before allocating, and reads each byte of b once.

func encString(b []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	return appendString(b, *(*string)(p)), nil
}

func (c *typeCodec) decString(s src, i int, p unsafe.Pointer, _ int) (int, error) {
	str, j, err := c.readString(s, i)
	*(*string)(p) = str
	return j, err
}

// maxFree bounds the length of a slice of zero-size elements.
const maxFree = 1 << 31

func (b *builder) slice(c *typeCodec, path string) error {
	ec, err := b.build(c.t.Elem(), path+"[]")
	if err != nil {
		return err
	}
	c.kind, c.min, c.elem = kSlice, 1, ec
	switch {
	case ec.kind == kPlain:
		c.enc, c.dec = c.encSlicePlain, c.decSlicePlain
	case ec.kind == kString:
		c.enc, c.dec = c.encSliceString, c.decSliceString
	default:
		c.enc, c.dec = c.encSlice, c.decSlice
	}
	return nil
}

// openSlice writes the length of the slice at p: 0 for nil, then h is
// nil and nothing more is to be written.
func (c *typeCodec) openSlice(b []byte, p unsafe.Pointer, depth int) ([]byte, *sliceHeader, error) {
	h := (*sliceHeader)(p)
	if h.data == nil {
		return append(b, 0), nil, nil
	}
	if depth >= MaxDepth {
		return b, nil, c.tooDeep()
	}
	return appendUvarint(b, uint64(h.len)+1), h, nil
}

func (c *typeCodec) encSlicePlain(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	b, h, err := c.openSlice(b, p, depth)
	if h == nil {
		return b, err
	}
	return append(b, unsafe.Slice((*byte)(h.data), uintptr(h.len)*c.elem.size)...), nil
}

func (c *typeCodec) decSlicePlain(s src, i int, p unsafe.Pointer, depth int) (int, error) {
	b := s.b
	if depth >= MaxDepth {
		return i, c.decTooDeep(i)
	}
	es := int(c.elem.size)
	n, isNil, j, err := c.count(b, i, es, maxFree)
	if err != nil || isNil {
		return j, err
	}
	if es == 1 && len(c.elem.bools) == 0 {
		// A []T of byte-sized plain T has []byte's layout; append skips
		// the zeroing make would do.
		if n == 0 {
			*(*[]byte)(p) = []byte{}
		} else {
			*(*[]byte)(p) = append([]byte(nil), b[j:j+n]...)
		}
		return j + n, nil
	}
	data := c.makeSlice(p, n)
	copy(unsafe.Slice((*byte)(data), n*es), b[j:])
	if ec := c.elem; len(ec.bools) > 0 {
		for k := range n {
			if v, bad := badBool(unsafe.Add(data, k*es), ec.bools); bad {
				return j, c.corrupt(j+k*es, "bool byte %#x", v)
			}
		}
	}
	return j + n*es, nil
}

func (c *typeCodec) encSliceString(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	b, h, err := c.openSlice(b, p, depth)
	if h == nil {
		return b, err
	}
	for _, x := range *(*[]string)(p) {
		b = appendString(b, x)
	}
	return b, nil
}

func (c *typeCodec) decSliceString(s src, i int, p unsafe.Pointer, depth int) (int, error) {
	b := s.b
	if depth >= MaxDepth {
		return i, c.decTooDeep(i)
	}
	n, isNil, j, err := c.count(b, i, 1, 0)
	if err != nil || isNil {
		return j, err
	}
	out := make([]string, n)
	*(*[]string)(p) = out // a []T of string kind T has []string's layout
	for k := range out {
		if out[k], j, err = c.elem.readString(s, j); err != nil {
			return j, err
		}
	}
	return j, nil
}

func (c *typeCodec) encSlice(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	b, h, err := c.openSlice(b, p, depth)
	if h == nil {
		return b, err
	}
	ec, es := c.elem, c.elem.size
	for k := range uintptr(h.len) {
		if b, err = ec.enc(b, unsafe.Add(h.data, k*es), depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (c *typeCodec) decSlice(s src, i int, p unsafe.Pointer, depth int) (int, error) {
	b := s.b
	if depth >= MaxDepth {
		return i, c.decTooDeep(i)
	}
	ec := c.elem
	n, isNil, j, err := c.count(b, i, ec.min, maxFree)
	if err != nil || isNil {
		return j, err
	}
	data := c.makeSlice(p, n)
	if ec.min == 0 {
		return j, nil // elements of size 0 with empty encodings
	}
	es := ec.size
	for k := range uintptr(n) {
		if j, err = ec.dec(s, j, unsafe.Add(data, k*es), depth+1); err != nil {
			return j, err
		}
	}
	return j, nil
}

// makeSlice sets the nil slice at p to n zeroed elements and returns their
// address. Value.Grow allocates the array in place, with no header of its
// own (reflect.MakeSlice would allocate one).
func (c *typeCodec) makeSlice(p unsafe.Pointer, n int) unsafe.Pointer {
	h := (*sliceHeader)(p)
	if n == 0 {
		*h = sliceHeader{data: unsafe.Pointer(&zeroBase)}
		return h.data
	}
	v := reflect.NewAt(c.t, p).Elem()
	v.Grow(n)
	v.SetLen(n)
	return h.data
}

func (b *builder) array(c *typeCodec, path string) error {
	ec, err := b.build(c.t.Elem(), path+"[i]")
	if err != nil {
		return err
	}
	n := c.t.Len()
	c.kind, c.elem, c.min = kArray, ec, -1 // set by fillMin
	c.enc = func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
		var err error
		for k := range n {
			if b, err = ec.enc(b, unsafe.Add(p, uintptr(k)*ec.size), depth); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	c.dec = func(s src, i int, p unsafe.Pointer, depth int) (int, error) {
		var err error
		for k := range n {
			if i, err = ec.dec(s, i, unsafe.Add(p, uintptr(k)*ec.size), depth); err != nil {
				return i, err
			}
		}
		return i, nil
	}
	return nil
}

func (b *builder) pointer(c *typeCodec, path string) error {
	ec, err := b.build(c.t.Elem(), path) // pointers are transparent in paths
	if err != nil {
		return err
	}
	c.kind, c.min, c.elem = kPtr, 1, ec
	c.enc = func(b []byte, p unsafe.Pointer, depth int) ([]byte, error) {
		q := *(*unsafe.Pointer)(p)
		if q == nil {
			return append(b, 0), nil
		}
		if depth >= MaxDepth {
			return b, c.tooDeep()
		}
		return ec.enc(append(b, 1), q, depth+1)
	}
	c.dec = func(s src, i int, p unsafe.Pointer, depth int) (int, error) {
		b := s.b
		if i >= len(b) {
			return i, c.short(b, i, 1)
		}
		switch b[i] {
		case 0:
			return i + 1, nil
		case 1:
		default:
			return i, c.corrupt(i, "pointer tag %d, want 0 or 1", b[i])
		}
		if depth >= MaxDepth {
			return i, c.decTooDeep(i)
		}
		i++
		if len(b)-i < ec.min {
			return i, c.short(b, i, ec.min)
		}
		q := reflect.New(ec.t).UnsafePointer()
		*(*unsafe.Pointer)(p) = q
		return ec.dec(s, i, q, depth+1)
	}
	return nil
}
