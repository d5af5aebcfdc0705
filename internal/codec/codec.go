package codec

import (
	"fmt"
	"hash/fnv"
	"reflect"
)

// Codec turns items of type T into bytes and back. The queue and the pipe
// call Append in the producer and Decode in the consumer; a user may plug
// their own per queue.
type Codec[T any] interface {
	// Append appends the encoding of *v to dst and returns the extended
	// slice. On error it returns dst itself: nothing is appended (bytes
	// past len(dst) may have been written, as append may).
	Append(dst []byte, v *T) ([]byte, error)

	// Decode sets *v to the value encoded in b, which must be exactly one
	// encoding. It never panics, never keeps b or anything pointing into
	// it, and never reuses memory that *v pointed to before. On error *v
	// holds some value of T that is safe to use or drop.
	Decode(b []byte, v *T) error
}

// Sizer is implemented by codecs that know, without encoding, exactly how
// many bytes Append will add for *v, in a few instructions. A producer
// given a Sizer may reserve that many bytes in shared memory and Append
// into them (dst of length 0 and capacity n), writing the item in place;
// without one it encodes into a scratch buffer and copies. The raw codecs
// For picks for plain types, []byte and string are Sizers: for them Append
// is one memmove, the least any queue can do.
type Sizer[T any] interface {
	Size(v *T) int
}

// ID names a codec in an object's header. Values are stored in files:
// never renumber them.
type ID uint32

const (
	IDRaw    ID = 1 // a fixed-size plain T, as its memory image
	IDBytes  ID = 2 // a []byte kind, as its bytes
	IDString ID = 3 // a string kind, as its bytes
	IDBinary ID = 4 // the type-directed binary format of doc.go, version 1
	IDCustom ID = 5 // a codec from outside this package (see Describe)
)

func (id ID) String() string {
	switch id {
	case IDRaw:
		return "raw"
	case IDBytes:
		return "bytes"
	case IDString:
		return "string"
	case IDBinary:
		return "binary"
	case IDCustom:
		return "custom"
	}
	return fmt.Sprintf("codec(%d)", uint32(id))
}

// Info is what an object's header keeps about its items, so that a process
// opening it with another item type or codec is refused with both named.
type Info struct {
	ID   ID     // the codec
	Hash uint64 // Fingerprint of T; for IDCustom mixed with the codec's type name
	Size uint32 // every encoding is exactly Size bytes; 0 when sizes vary
	Type string // T's name, for messages only
}

// Match reports whether a handle described by want may use an object whose
// header says got; name (the object's) is used in the message, which names
// both item types and, when they differ, both codecs. Type names are not
// compared: two programs may name one shape differently.
func (want Info) Match(name string, got Info) error {
	if want.ID == got.ID && want.Hash == got.Hash && want.Size == got.Size {
		return nil
	}
	if want.ID != got.ID {
		return fmt.Errorf("%w: %s holds %s (%s codec), not %s (%s codec)",
			ErrTypeMismatch, name, got.Type, got.ID, want.Type, want.ID)
	}
	return fmt.Errorf("%w: %s holds %s, not %s (the types' shapes differ)",
		ErrTypeMismatch, name, got.Type, want.Type)
}

// For returns the codec for T and its Info:
//
//   - T plain (numbers, bool, fixed arrays and structs of those; see
//     layout.TypeOf) and not a marshaler: its memory image, IDRaw, Size set;
//   - T of kind []byte or string with no marshaler methods: its bytes as
//     they are, IDBytes or IDString;
//   - anything else: the binary format, IDBinary.
//
// A T that can never be encoded (a func, a chan, an unsafe.Pointer, inside
// anything) is an error wrapping ErrUnsupported naming it. For is cheap
// after the first call for a type: the encoders are compiled once.
func For[T any]() (Codec[T], Info, error) {
	t := reflect.TypeFor[T]()
	tc, err := compile(t)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Hash: tc.hash, Type: typeName(t)}
	switch {
	case tc.kind == kPlain:
		info.ID, info.Size = IDRaw, uint32(t.Size())
		return newRaw[T](tc), info, nil
	case tc.kind == kSlice && tc.elem.kind == kPlain && t.Elem().Kind() == reflect.Uint8:
		info.ID = IDBytes
		return bytesCodec[T]{}, info, nil
	case tc.kind == kString:
		info.ID = IDString
		return stringCodec[T]{}, info, nil
	}
	info.ID = IDBinary
	return binaryCodec[T]{tc}, info, nil
}

// Binary returns the binary-format codec for T even where For would pick a
// raw one (for a T plain or of kind []byte or string), and its Info.
func Binary[T any]() (Codec[T], Info, error) {
	t := reflect.TypeFor[T]()
	tc, err := compile(t)
	if err != nil {
		return nil, Info{}, err
	}
	return binaryCodec[T]{tc}, Info{ID: IDBinary, Hash: tc.hash, Type: typeName(t)}, nil
}

// Describe returns the Info for items of type T carried by c: For's Info
// when c is one of this package's codecs, else IDCustom with T's
// fingerprint mixed with c's type name, so that two custom codecs are told
// apart, and Size taken from c's FixedSize method if it has one
// (interface{ FixedSize() int }).
func Describe[T any](c Codec[T]) (Info, error) {
	t := reflect.TypeFor[T]()
	switch c := c.(type) {
	case binaryCodec[T]:
		return Info{ID: IDBinary, Hash: c.tc.hash, Type: typeName(t)}, nil
	case *rawCodec[T], bytesCodec[T], stringCodec[T]:
		_, info, err := For[T]()
		return info, err
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%x\x00%s", Fingerprint(t), reflect.TypeOf(c))
	info := Info{ID: IDCustom, Hash: h.Sum64(), Type: typeName(t)}
	if f, ok := c.(interface{ FixedSize() int }); ok {
		n := f.FixedSize()
		if n < 0 || int64(n) > 1<<31 {
			return Info{}, fmt.Errorf("codec: %T.FixedSize() = %d, want 0 to 2^31", c, n)
		}
		info.Size = uint32(n)
	}
	return info, nil
}
