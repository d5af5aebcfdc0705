package value

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/typed"
)

// record is the start of a Value file's payload: the head every typed
// object has (internal/typed) with the Value's write mark in it. The
// payload begins at file offset 128, right after the layout.Header (kind
// Value, ElemCount 1, the element type's size, alignment, fingerprint and
// name):
//
//	payload  file
//	 offset offset size field
//	      0    128    4 flags    typed.FlagLocked when the value has a lock
//	                             (New); 0 for NewRaw. Written before
//	                             publication, never changed.
//	      4    132    4 writing  see the record states below
//	      8    136   56 (reserved, zero)
//	     64    192   64 lock     robust process-owned mutex (internal/robust),
//	                             used as a sem.RLock; zero and unused in a raw value
//	    128    256    n data     the T; n is its size rounded up to 8 bytes,
//	                             at least 8, then to a whole cache line
//
// flags and writing share the first cache line, the lock has the second to
// itself, and the data starts on the third: a process spinning on the lock
// word never shares a line with the data it protects. The data is 64-byte
// aligned, so a T of at most 8 bytes is one naturally aligned 32- or 64-bit
// word, which is what lets Load, Store and Add be single atomic instructions.
type record struct {
	flags   uint32
	writing uint32
	_       [56]byte
	lock    [typed.LockSize]byte
}

// States of record.writing, the "a value is being copied in" mark. Only the
// lock holder changes it, with atomic stores; whoever takes the lock reads it.
//
//	recordIntact  the data holds the last complete Store or Update.
//	recordWriting a holder is copying a new value into data (values over
//	              8 bytes only: smaller ones are written by one atomic
//	              store). Set before the first data byte changes, cleared
//	              after the last. A holder that takes the lock and finds
//	              it set knows the previous holder died mid-copy: the data
//	              may be half old, half new. It stays set ("damaged") until
//	              a Store or Repair writes a whole value.
const (
	recordIntact  uint32 = 0
	recordWriting uint32 = 1
)

const dataOffset = typed.DataOffset // payload offset of the data

var _ [dataOffset - unsafe.Sizeof(record{})]byte // compile-time size checks
var _ [unsafe.Sizeof(record{}) - dataOffset]byte
var _ [unsafe.Offsetof(record{}.lock) - typed.LockOffset]byte
var _ [typed.LockOffset - unsafe.Offsetof(record{}.lock)]byte

// dataSize is the room a T of size bytes takes after the record: at least
// one 8-byte word, a whole number of cache lines.
func dataSize(size uint32) int {
	n := max(int(size), 8)
	return (n + 63) &^ 63
}

// isWord reports whether a T of size bytes fits in one atomic word.
func isWord(size uintptr) bool { return size <= 8 }

// validate checks the record of a payload opened from a file, whose header
// said it holds one element of type t (typed.Open checked the flags). It
// never trusts the bytes: the payload must be large enough for the record
// and the data, and the write mark one this version writes.
func validate(payload []byte, t layout.TypeInfo) (*record, error) {
	if len(payload) < dataOffset+dataSize(t.Size) {
		return nil, fmt.Errorf("%w: %d-byte payload, a Value of %s needs %d", ErrCorrupt, len(payload), t.Name, dataOffset+dataSize(t.Size))
	}
	r := (*record)(unsafe.Pointer(&payload[0]))
	if w := atomic.LoadUint32(&r.writing); w != recordIntact && w != recordWriting {
		return nil, fmt.Errorf("%w: value write mark %d, want 0 or 1", ErrCorrupt, w)
	}
	return r, nil
}
