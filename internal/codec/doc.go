// Package codec turns the items of a Queue or a Pipe into bytes and back.
//
// For[T] picks the codec for T once, and the queue keeps it:
//
//   - a plain T (numbers, bools, fixed arrays and structs of those, as
//     layout.TypeOf defines them) travels as its memory image: Append is one
//     memmove, Decode one memmove and a check of the bool bytes;
//   - a T of kind []byte or string travels as its bytes;
//   - anything else travels in the binary format below: structs (exported
//     fields), slices, arrays, maps, pointers, strings, interface values and
//     types with marshaler methods, nested to any depth up to MaxDepth.
//
// Types that can never be encoded (func, chan, unsafe.Pointer, anywhere
// in T) are refused by For with an error naming the type and where it sits.
// An interface value holding such a type, or a type nobody registered, is
// refused by Append, naming the dynamic type, with nothing appended.
//
// Queues call the package functions Append and Decode rather than the
// methods: through the Codec interface the compiler must assume the codec
// keeps the item's address and moves every item to the heap, and these
// call this package's codecs directly, so a Put allocates nothing and a Get
// only what the decoded value needs (see noescape.go).
//
// Codec is also what users implement to plug their own codec into a queue;
// Describe gives such a codec's Info. Info is what an object's header keeps
// (codec, Fingerprint of T, fixed size, T's name) so that opening a queue
// of string as a queue of int32 fails with both types named (Info.Match).
//
// # Writing into shared memory
//
// A producer has two ways to put an item into a ring: Append into a scratch
// buffer and copy the bytes in, or Append straight into the ring, with dst
// a zero-length slice of the free space (append then writes in place while
// it fits; unsafe.SliceData of the result tells whether it stayed). Codecs
// that know an item's size without encoding it implement Sizer, so the
// producer can reserve exactly that much first: the raw codecs do, and for
// them Append in place is the single copy any queue must make. The binary
// codec does not (sizing costs as much as encoding); there the scratch path
// lets a producer encode before it takes the ring's lock, and the copy it
// costs is a few nanoseconds for small items (see bench_test.go). Decode
// may read the ring directly: it keeps nothing of b.
//
// # Wire format
//
// A record is exactly one encoding of T, with nothing around it: no
// version, no type description. Every process runs the same program, and
// the queue's header carries the codec's ID (IDBinary is this format,
// version 1) and T's Fingerprint, so the bytes need not describe
// themselves. Decode refuses bytes left over after the value.
//
// A uvarint is encoding/binary's: 7 bits a byte, low bits first, high bit
// set on all bytes but the last, at most 10 bytes. Each kind is written as
// follows.
//
//	plain value  its memory image: t.Size() bytes in the machine's byte
//	             order, unexported fields and padding included; a bool
//	             byte must be 0 or 1. Plain means numbers, bools, uintptr,
//	             complex, and arrays and structs of those, with no marshaler
//	             methods anywhere in it.
//	string       uvarint length, then the bytes (any bytes, UTF-8 or not)
//	slice        uvarint 0 for nil, else uvarint length+1, then each
//	             element; elements of a plain type as one memory image of
//	             length*size bytes
//	array        each element, no length (the type has it)
//	struct       each exported field in declaration order; unexported
//	             fields are not written and decode as zero. An embedded
//	             field is a field named by its type, so one of unexported
//	             type is skipped whole (encoding/json would promote its
//	             exported fields). Runs of adjacent plain fields are copied
//	             as one image.
//	map          uvarint 0 for nil, else uvarint length+1, then key and
//	             value of each entry, in Go's iteration order
//	pointer      byte 0 for nil, else byte 1 and the value pointed to
//	marshaler    a type T whose T or *T has UnmarshalBinary and
//	             AppendBinary or MarshalBinary (else UnmarshalText and
//	             AppendText or MarshalText): uvarint length, then what the
//	             method wrote; decoding passes exactly those bytes to the
//	             unmarshal method of a zero T
//	interface    a tag byte for the dynamic type, then that type's encoding:
//	             0 nil (nothing follows), 1 bool, 2 int, 3 int8, 4 int16,
//	             5 int32, 6 int64, 7 uint, 8 uint8, 9 uint16, 10 uint32,
//	             11 uint64, 12 uintptr, 13 float32, 14 float64,
//	             15 complex64, 16 complex128, 17 string, 18 []byte,
//	             19 []any, 20 map[string]any, 21 []string, 22 []int,
//	             23 []float64, 24 map[string]string, 25 map[string]int,
//	             26 time.Time, 27 time.Duration; 255 a registered type,
//	             followed by its 8-byte little-endian id. Other tags are
//	             refused.
//
// A registered type's id is the FNV-1a 64-bit hash of its name, a zero
// byte, and its Fingerprint in lower-case hex, so a process whose type of
// that name has another shape does not know the id and refuses the item
// instead of misreading it. Register names a type by its full package path
// ("github.com/you/app.Job"); RegisterName picks another name.
//
// Pointers, slices, maps and interface values count as containers: more
// than MaxDepth of them nested is refused by Append (ErrUnsupported: a
// cyclic pointer graph ends up here) and by Decode (ErrCorrupt).
//
// What a round trip keeps: every bit of numbers (NaN payloads, -0, the
// whole range of each integer type), strings byte for byte, nil against
// empty for slices and maps, nil pointers, and the exact dynamic type of an
// interface value (an int comes back an int, a named type as itself). What
// it does not keep: unexported fields of non-plain structs, map order,
// sharing (two pointers to one value come back as two values), and for the
// raw []byte codec nil against empty (both decode as an empty, non-nil
// slice: its record is just the bytes).
//
// # Foreign bytes
//
// Decode never trusts its input: another process, or anyone who can write
// the segment, wrote it. It never panics (a panic in a type's own unmarshal
// method becomes ErrCorrupt), reads each byte once, checks every length
// against the bytes left before allocating for it (a length of 2^40
// elements in a 20-byte record is refused, not allocated), and bounds
// nesting by MaxDepth. Elements of zero size cost no bytes: at most 2^31 of
// them are accepted in a slice and one entry in a map. FuzzDecode holds
// these to it.
//
// # Caveats
//
//   - Plain values are memory images, so their unexported fields travel
//     too: a struct embedding a sync.Mutex carries the mutex's state, an
//     atomic.Int64 its value. The format is in the machine's byte order and
//     follows Go's layout of each type: both ends must be the same
//     architecture, which on one machine they are; Fingerprint covers sizes
//     and offsets, so a layout change is a type mismatch, not a misread.
//   - When T may hold two strings or more and a record is at most 1 KiB,
//     Decode copies the record once and its strings point into the copy:
//     one allocation instead of one a string. A string kept from such an
//     item keeps that copy (at most 1 KiB) alive.
//   - Decode allocates at most a constant times len(b); the constant is the
//     largest ratio, over the types T reaches, of a value's size in memory
//     to the fewest bytes that encode it: 24 for a slice header against
//     its one-byte nil, and more for a struct whose exported data is small
//     beside large unexported fields, since those are allocated but not
//     sent.
//   - Every process must register the same types for interface values. A
//     type registered in the producer only is an item the consumer refuses
//     (ErrUnsupported naming the id), never one it misreads.
//   - A type's marshal methods run in the consumer on foreign bytes; they
//     must not keep the slice they are given (encoding.BinaryUnmarshaler
//     says so too): it may be shared memory that is about to be reused.
//   - Encodings are not canonical (maps come in Go's iteration order): do
//     not compare records to compare values.
//   - A registered pointer-shaped type (a *T, a map) inside an interface
//     costs one 8-byte allocation when encoded.
package codec
