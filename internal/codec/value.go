package codec

// Append is c.Append(dst, v) and Decode is c.Decode into a new value, as
// a queue's Put and Get call them. Called through the Codec interface, the
// compiler must assume the codec keeps v, and moves the item to the heap:
// one allocation per Put and per Get. These call this package's codecs
// directly, and those do not keep v (see noescape.go), so the item stays
// where it is: a Put allocates nothing, a Get only what the decoded value
// itself needs. For a codec from elsewhere they do what the interface call
// would: Append passes a heap copy of *v, Decode decodes into a heap value.

// Append appends the encoding of *v with c.
func Append[T any](c Codec[T], dst []byte, v *T) ([]byte, error) {
	switch c := c.(type) {
	case binaryCodec[T]:
		return c.Append(dst, v)
	case *rawCodec[T]:
		return c.Append(dst, v)
	case bytesCodec[T]:
		return c.Append(dst, v)
	case stringCodec[T]:
		return c.Append(dst, v)
	}
	x := new(T) // the codec may keep what it is given
	*x = *v
	return c.Append(dst, x)
}

// Decode decodes b with c into a new value and returns it.
func Decode[T any](c Codec[T], b []byte) (T, error) {
	// One variable a case: escape analysis decides per variable, and the
	// last case's must move to the heap.
	switch c := c.(type) {
	case binaryCodec[T]:
		var v T
		err := c.Decode(b, &v)
		return v, err
	case *rawCodec[T]:
		var v T
		err := c.Decode(b, &v)
		return v, err
	case bytesCodec[T]:
		var v T
		err := c.Decode(b, &v)
		return v, err
	case stringCodec[T]:
		var v T
		err := c.Decode(b, &v)
		return v, err
	}
	v := new(T)
	err := c.Decode(b, v)
	return *v, err
}
